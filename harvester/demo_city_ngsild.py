"""A small NGSI-LD broker of the simulated member cities, one tenant per city.

``GET /broker/ngsi-ld/v1/entities`` honours ``type`` (a comma list means any of), ``limit`` (default 20, at most
1000), ``offset``, ``count=true`` and ``format``/``options=keyValues``, selects the tenant by ``NGSILD-Tenant``
and answers errors as ETSI ProblemDetails. The two tenants behave like two kinds of brokers met in the field:

- ``helsinki``: a current broker: normalized entities with URN ids, ``Link: <…>; rel="next"`` on every page but the
  last, and the @context as a Link header;
- ``reykjavik``: a legacy gateway in front of an older platform: keyValues whatever is asked, plain local ids,
  and no paging links, so a client pages by ``offset`` until a short page.

Air quality, weather and parking-spot occupancy change with the clock; the same instant gives the same bytes.
"""

from __future__ import annotations

import math
import random
from collections.abc import Callable, Sequence
from dataclasses import dataclass
from datetime import UTC, datetime
from typing import Any
from urllib.parse import urlencode

import orjson
from starlette.requests import Request
from starlette.responses import Response
from starlette.routing import Mount, Route

Clock = Callable[[], float]
Entity = dict[str, Any]
CONTEXT = "https://smart-data-models.github.io/data-models/context.jsonld"
CONTEXT_REL = "http://www.w3.org/ns/json-ld#context"
ERRORS = "https://uri.etsi.org/ngsi-ld/errors/"
API_PATH = "/ngsi-ld/v1/entities"
DEFAULT_LIMIT = 20
MAX_LIMIT = 1000
OBSERVATION_SECONDS = 600  # stations report every ten minutes
PARKING_SITES = 4


@dataclass(frozen=True, slots=True)
class Tenant:
    """One city's tenant of the broker and how it answers."""

    city_id: str
    centre: tuple[float, float]  # (lon, lat)
    spread_km: float
    counts: tuple[tuple[str, int], ...]  # entity type -> how many
    key_values: bool  # answers keyValues whatever is asked
    next_links: bool  # sends Link rel="next"
    urn_ids: bool
    seed: int
    mean_temperature: float


TENANTS: tuple[Tenant, ...] = (
    Tenant(
        "helsinki", (24.9384, 60.1699), 5.0,
        (("AirQualityObserved", 24), ("WeatherObserved", 20), ("ParkingSpot", 48)),
        key_values=False, next_links=True, urn_ids=True, seed=91, mean_temperature=6.0,
    ),
    Tenant(
        "reykjavik", (-21.8954, 64.1355), 4.0, (("AirQualityObserved", 20), ("WeatherObserved", 22)),
        key_values=True, next_links=False, urn_ids=False, seed=354, mean_temperature=4.5,
    ),
)  # fmt: skip


def _point(tenant: Tenant, rng: random.Random) -> list[float]:
    distance, bearing = tenant.spread_km * rng.random() ** 0.7, rng.uniform(0, 2 * math.pi)
    lat = tenant.centre[1] + distance * math.cos(bearing) / 110.574
    lon = tenant.centre[0] + distance * math.sin(bearing) / (111.320 * math.cos(math.radians(tenant.centre[1])))
    return [round(lon, 6), round(lat, 6)]


def _id(tenant: Tenant, entity_type: str, number: int) -> str:
    local = f"{tenant.city_id[:3]}-{entity_type.lower()}-{number:03d}"
    return f"urn:ngsi-ld:{entity_type}:{tenant.city_id}:{local}" if tenant.urn_ids else local


def _air_quality(rng: random.Random, hour: float, traffic: float) -> Entity:
    rush = math.exp(-(((hour - 8.0) / 2.0) ** 2)) + math.exp(-(((hour - 16.5) / 2.0) ** 2))
    no2 = (8 + 30 * traffic * rush) * rng.uniform(0.8, 1.2)
    pm10 = (9 + 12 * traffic * rush) * rng.uniform(0.8, 1.2)
    return {
        "no2": (round(no2, 1), "GQ"),
        "pm10": (round(pm10, 1), "GQ"),
        "pm25": (round(pm10 * rng.uniform(0.4, 0.6), 1), "GQ"),
        "o3": (round(max(5.0, 60 - no2 * 0.8) * rng.uniform(0.9, 1.1), 1), "GQ"),
    }


def _weather(tenant: Tenant, rng: random.Random, hour: float) -> Entity:
    daily = 3.0 * math.cos(2 * math.pi * (hour - 15.0) / 24.0)
    return {
        "temperature": (round(tenant.mean_temperature + daily + rng.uniform(-1.5, 1.5), 1), "CEL"),
        "relativeHumidity": (round(min(1.0, 0.75 - daily / 30 + rng.uniform(-0.1, 0.1)), 2), None),
        "windSpeed": (round(rng.uniform(1.0, 12.0), 1), "MTS"),
        "atmosphericPressure": (round(1008 + rng.uniform(-12, 12), 1), "A97"),
    }


def _measures(tenant: Tenant, entity_type: str, number: int, stamp: int) -> Entity:
    """The values of one entity at one observation instant."""
    rng = random.Random(f"{tenant.seed}:{entity_type}:{number}:{stamp}")
    hour = datetime.fromtimestamp(stamp, UTC).hour + tenant.centre[0] / 15.0  # mean solar time is close enough
    if entity_type == "AirQualityObserved":
        return _air_quality(rng, hour % 24, random.Random(f"{tenant.seed}:traffic:{number}").uniform(0.2, 1.0))
    if entity_type == "WeatherObserved":
        return _weather(tenant, rng, hour % 24)
    busy = 0.3 + 0.6 * math.exp(-((((hour % 24) - 13.0) / 4.0) ** 2))
    return {"status": ("occupied" if rng.random() < busy else "free", None)}


def normalized_entity(tenant: Tenant, entity_type: str, number: int, now: float) -> Entity:
    """One entity, normalized, at POSIX time ``now``."""
    stamp = int(now) - int(now) % OBSERVATION_SECONDS
    observed = datetime.fromtimestamp(stamp, UTC).strftime("%Y-%m-%dT%H:%M:%SZ")
    rng = random.Random(f"{tenant.seed}:{entity_type}:{number}")
    entity: Entity = {"id": _id(tenant, entity_type, number), "type": entity_type}
    entity["name"] = {"type": "Property", "value": f"{tenant.city_id.title()} {entity_type} {number}"}
    entity["location"] = {"type": "GeoProperty", "value": {"type": "Point", "coordinates": _point(tenant, rng)}}
    for name, (value, unit) in _measures(tenant, entity_type, number, stamp).items():
        entity[name] = {"type": "Property", "value": value, "observedAt": observed}
        if unit:
            entity[name]["unitCode"] = unit
    if entity_type == "ParkingSpot":
        site = f"urn:ngsi-ld:OnStreetParking:{tenant.city_id}:site-{number % PARKING_SITES + 1}"
        entity["category"] = {"type": "Property", "value": ["onStreet"]}
        entity["refParkingSite"] = {"type": "Relationship", "object": site}
    else:
        entity["dateObserved"] = {"type": "Property", "value": observed}
    return entity


def key_values(entity: Entity) -> Entity:
    """The keyValues representation of a normalized entity."""
    members = {"Property": "value", "GeoProperty": "value", "Relationship": "object"}
    return {name: attr[members[attr["type"]]] if isinstance(attr, dict) else attr for name, attr in entity.items()}


def tenant_entities(tenant: Tenant, types: Sequence[str], now: float) -> list[Entity]:
    """Every entity of the given types, in a stable order."""
    wanted = [(t, n) for t, n in tenant.counts if t in types]
    return [normalized_entity(tenant, t, number, now) for t, count in wanted for number in range(1, count + 1)]


def _problem(kind: str, title: str, status: int, detail: str) -> Response:
    body = {"type": ERRORS + kind, "title": title, "status": status, "detail": detail}
    return Response(orjson.dumps(body), status_code=status, media_type="application/json")


def _paging(request: Request) -> tuple[int, int] | Response:
    texts = (request.query_params.get("limit", str(DEFAULT_LIMIT)), request.query_params.get("offset", "0"))
    if not all(t.isascii() and t.isdigit() for t in texts):
        return _problem("BadRequestData", "Bad request data", 400, "limit and offset must be non-negative integers")
    limit, offset = int(texts[0]), int(texts[1])
    if not 1 <= limit <= MAX_LIMIT:
        return _problem("BadRequestData", "Bad request data", 400, f"limit must be 1..{MAX_LIMIT}")
    return limit, offset


def _headers(request: Request, tenant: Tenant | None, limit: int, offset: int, total: int) -> dict[str, str]:
    links = [f'<{CONTEXT}>; rel="{CONTEXT_REL}"; type="application/ld+json"']
    if tenant is not None and tenant.next_links and offset + limit < total:
        query = {**request.query_params, "limit": str(limit), "offset": str(offset + limit)}
        links.append(f'<{request.url.path}?{urlencode(query)}>; rel="next"')
    headers = {"Link": ", ".join(links)}
    if tenant is not None:
        headers["NGSILD-Tenant"] = tenant.city_id
    if request.query_params.get("count") == "true":
        headers["NGSILD-Results-Count"] = str(total)
    return headers


def query(request: Request, clock: Clock) -> Response:
    """GET /entities: a query by type, paged."""
    name = request.headers.get("ngsild-tenant")
    tenant = next((t for t in TENANTS if t.city_id == name), None)
    if name is not None and tenant is None:
        return _problem("NonexistentTenant", "Nonexistent tenant", 404, f"tenant {name!r} does not exist")
    types = [t for t in request.query_params.get("type", "").split(",") if t]
    if not types:
        return _problem("BadRequestData", "Bad request data", 400, "a query needs at least a type")
    paging = _paging(request)
    if isinstance(paging, Response):
        return paging
    limit, offset = paging
    entities = tenant_entities(tenant, types, clock()) if tenant is not None else []
    page = entities[offset : offset + limit]
    formats = {request.query_params.get("format"), *request.query_params.get("options", "").split(",")}
    if (tenant is not None and tenant.key_values) or "keyValues" in formats:
        page = [key_values(entity) for entity in page]
    headers = _headers(request, tenant, limit, offset, len(entities))
    return Response(orjson.dumps(page), media_type="application/json", headers=headers)


def routes(systems: Sequence[object], clock: Clock) -> Mount:
    """The ``/broker`` mount: ``/broker/ngsi-ld/v1/entities``."""

    async def endpoint(request: Request) -> Response:
        return query(request, clock)

    return Mount("/broker", routes=[Route(API_PATH, endpoint, name="entities")], name="broker")


def sources(systems: Sequence[object], base_url: str) -> list[tuple[str, dict[str, object]]]:
    """One ngsild source per tenant, pointing at the broker at ``base_url``."""
    return [
        (
            tenant.city_id,
            {
                "id": f"{tenant.city_id}-broker-demo",
                "kind": "ngsild",
                "url": f"{base_url.rstrip('/')}/broker",
                "schedule": "every 60s",
                "title": f"{tenant.city_id.title()} NGSI-LD broker (demo)",
                "options": {
                    "types": [entity_type for entity_type, _count in tenant.counts],
                    "context": CONTEXT,
                    "page_size": 10 if tenant.key_values else 20,
                    "tenant": tenant.city_id,
                },
            },
        )
        for tenant in TENANTS
    ]
