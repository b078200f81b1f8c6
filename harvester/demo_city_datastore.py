"""CKAN datastore tables of the simulated member cities: Aarhus car parks and Copenhagen traffic counts.

``/datastore/api/3/action/datastore_search`` answers like CKAN: the envelope ``{help, success, result}``, ``limit``
capped at a small ``rows_max`` so that harvesters must page, and ``success: false`` errors. The car-park table has
the 13 real garages of Aarhus with their real capacities, naive local time stamps in the real format, a switched-
off counter (DOKK1, 0 of 0) and one that drifts above capacity (BUSGADEHUSET), as in the recorded table. Every
answer is a pure function of the clock.

The cities.toml sources point at the same tables as the real ``aarhus-parking`` and ``copenhagen-traffic``
sources, with the same options (the mapping included): they are read from the shipped ``cities.toml`` so that
they are written once, and only the URL differs.
"""

from __future__ import annotations

import math
import random
from collections.abc import Callable, Sequence
from dataclasses import dataclass
from datetime import datetime
from pathlib import Path
from typing import Any
from zoneinfo import ZoneInfo

import orjson
from starlette.requests import Request
from starlette.responses import Response
from starlette.routing import Mount, Route

from hub.cities import load_cities

Clock = Callable[[], float]
Row = dict[str, Any]
CITIES_FILE = Path(__file__).resolve().parents[1] / "cities.toml"
SEARCH_PATH = "/api/3/action/datastore_search"
ROWS_MAX = 10  # ckan.datastore.search.rows_max, set low so that paging is exercised
DEFAULT_LIMIT = 100
PARKING_RESOURCE = "2a82a145-0195-4081-a13c-b0e587e9b89c"
TRAFFIC_RESOURCE = "c8f3a2d4-5b1e-4f7a-9d26-7e0b4c1a9f53"
ZONE = ZoneInfo("Europe/Copenhagen")
PARKING_UPDATE_SECONDS = 60
TRAFFIC_INTERVAL_SECONDS = 900

# (garage code, capacity) in the order of the real table of 2016-10-29; DOKK1's counter reports 0 of 0.
GARAGES: tuple[tuple[str, int], ...] = (
    ("NORREPORT", 65), ("SKOLEBAKKEN", 512), ("SCANDCENTER", 1240), ("BRUUNS", 967), ("BUSGADEHUSET", 142),
    ("MAGASIN", 383), ("KALKVAERKSVEJ", 210), ("SALLING", 700), ("DOKK1", 0), ("Navitas", 449),
    ("NewBusgadehuset", 105), ("Urban Level 1", 319), ("Urban Level 2+3", 654),
)  # fmt: skip
DRIFTING_GARAGE = "BUSGADEHUSET"  # its counter misses exits: it climbs all day and resets at midnight
_ROADS = (
    "H.C. Andersens Boulevard", "Åboulevard", "Nørre Farimagsgade", "Amagerbrogade", "Jagtvej", "Tagensvej",
    "Vesterbrogade", "Gammel Kongevej", "Østerbrogade", "Nørrebrogade", "Frederikssundsvej", "Roskildevej",
    "Valby Langgade", "Englandsvej", "Folehaven", "Ålholmvej", "Bernstorffsgade", "Kalvebod Brygge", "Torvegade",
    "Lyngbyvej", "Borups Allé", "Ågade", "Falkoner Allé", "Enghavevej", "Sydhavnsgade", "Strandvejen",
    "Vigerslev Allé", "Øster Søgade", "Bispeengbuen", "Artillerivej",
)  # fmt: skip
COPENHAGEN_CENTRE = (12.5683, 55.6761)
LANES = 2


@dataclass(frozen=True, slots=True)
class CountingPoint:
    """A permanent traffic counter: its id, road, position, daily volume per lane and speed limit."""

    point_id: str
    road: str
    lon: float
    lat: float
    peak_per_lane: int  # vehicles in the busiest 15 minutes
    speed_limit: int


def counting_points() -> tuple[CountingPoint, ...]:
    """The 30 simulated counting points of Copenhagen; a pure function of a fixed seed."""
    rng = random.Random("copenhagen:traffic")
    ids = sorted(rng.sample(range(1000, 1999), len(_ROADS)))
    points = []
    for point_id, road in zip(ids, _ROADS, strict=True):
        distance, bearing = 4.5 * rng.random() ** 0.7, rng.uniform(0, 2 * math.pi)
        lat = COPENHAGEN_CENTRE[1] + distance * math.cos(bearing) / 110.574
        lon = COPENHAGEN_CENTRE[0] + distance * math.sin(bearing) / (111.320 * math.cos(math.radians(55.68)))
        points.append(
            CountingPoint(
                f"K{point_id}", road, round(lon, 6), round(lat, 6), rng.randint(60, 420), rng.choice((40, 50, 60))
            )
        )
    return tuple(points)


def _local(moment: float) -> datetime:
    return datetime.fromtimestamp(moment, ZONE).replace(tzinfo=None)


def _rush(hour: float) -> float:
    """Relative traffic by local hour: quiet at night, peaks around 08:00 and 16:30."""
    peaks = math.exp(-(((hour - 8.0) / 1.5) ** 2)) + 0.9 * math.exp(-(((hour - 16.5) / 1.8) ** 2))
    return 0.08 + 0.35 * math.exp(-(((hour - 12.5) / 4.0) ** 2)) + peaks


def parking_rows(now: float) -> list[Row]:
    """The car-park table at POSIX time ``now``: one row per garage, all stamped with the same local time."""
    stamp = int(now) - int(now) % PARKING_UPDATE_SECONDS
    local = _local(stamp)
    hour = local.hour + local.minute / 60.0
    shopping = 0.1 + 0.8 * math.exp(-(((hour - 14.0) / 3.5) ** 2))  # the garages serve the centre's shops
    rows = []
    for index, (code, capacity) in enumerate(GARAGES, start=1):
        noise = random.Random(f"aarhus:{code}:{stamp // 600}").uniform(-0.08, 0.08)
        count = round(capacity * max(0.0, min(1.0, shopping + noise)))
        if code == DRIFTING_GARAGE:
            count += 4 * (local.hour * 60 + local.minute)
        date = local.strftime("%Y/%m/%d %H:%M:%S")
        rows.append({"date": date, "vehicleCount": count, "_id": index, "totalSpaces": capacity, "garageCode": code})
    return rows


def traffic_rows(now: float) -> list[Row]:
    """The traffic-count table at ``now``: the last complete 15-minute interval, per counting point and lane."""
    start = int(now) - int(now) % TRAFFIC_INTERVAL_SECONDS - TRAFFIC_INTERVAL_SECONDS
    local = _local(start)
    load = _rush(local.hour + local.minute / 60.0)
    rows: list[Row] = []
    for point in counting_points():
        for lane in range(1, LANES + 1):
            rng = random.Random(f"copenhagen:{point.point_id}:{lane}:{start}")
            count = round(point.peak_per_lane * load * rng.uniform(0.85, 1.15) * (1.0 if lane == 1 else 0.8))
            congestion = min(1.0, load * point.peak_per_lane / 400.0)
            speed = round(point.speed_limit * (1.05 - 0.45 * congestion) * rng.uniform(0.95, 1.05), 1)
            rows.append(
                {
                    "_id": len(rows) + 1,
                    "maalested": point.point_id,
                    "vejnavn": point.road,
                    "spor": lane,
                    "tidspunkt": local.strftime("%Y-%m-%d %H:%M:%S"),
                    "antal": count,
                    "hastighed": speed,
                    "lon": point.lon,
                    "lat": point.lat,
                }
            )
    return rows


_TABLES: dict[str, tuple[Callable[[float], list[Row]], tuple[tuple[str, str], ...]]] = {
    PARKING_RESOURCE: (
        parking_rows,
        (("_id", "int4"), ("date", "text"), ("garageCode", "text"), ("totalSpaces", "int4"), ("vehicleCount", "int4")),
    ),
    TRAFFIC_RESOURCE: (
        traffic_rows,
        (
            ("_id", "int4"), ("maalested", "text"), ("vejnavn", "text"), ("spor", "int4"), ("tidspunkt", "text"),
            ("antal", "int4"), ("hastighed", "numeric"), ("lon", "numeric"), ("lat", "numeric"),
        ),
    ),
}  # fmt: skip


def _ckan(request: Request, payload: object, status: int = 200) -> Response:
    help_url = str(request.base_url).rstrip("/") + "/datastore/api/3/action/help_show?name=datastore_search"
    body = {"help": help_url, "success": status == 200, ("result" if status == 200 else "error"): payload}
    return Response(orjson.dumps(body), status_code=status, media_type="application/json")


def _int_param(request: Request, name: str, default: int) -> int | None:
    text = request.query_params.get(name, str(default))
    return int(text) if text.isascii() and text.isdigit() else None


def search(request: Request, clock: Clock) -> Response:
    """``datastore_search`` with ``resource_id``, ``limit`` (capped at ROWS_MAX) and ``offset``."""
    resource_id = request.query_params.get("resource_id")
    if not resource_id:
        return _ckan(request, {"__type": "Validation Error", "resource_id": ["Missing value"]}, 409)
    if resource_id not in _TABLES:
        message = f'Not found: Resource "{resource_id}" was not found.'
        return _ckan(request, {"__type": "Not Found Error", "message": message}, 404)
    limit, offset = _int_param(request, "limit", DEFAULT_LIMIT), _int_param(request, "offset", 0)
    if limit is None or offset is None:
        return _ckan(request, {"__type": "Validation Error", "limit": ["Invalid integer"]}, 409)
    rows_of, fields = _TABLES[resource_id]
    rows = rows_of(clock())
    limit = min(limit, ROWS_MAX)
    result = {
        "resource_id": resource_id,
        "fields": [{"type": kind, "id": name} for name, kind in fields],
        "records": rows[offset : offset + limit],
        "_links": {
            "start": f"{SEARCH_PATH}?resource_id={resource_id}",
            "next": f"{SEARCH_PATH}?offset={offset + limit}&resource_id={resource_id}",
        },
        "limit": limit,
        "offset": offset,
        "total": len(rows),
    }
    return _ckan(request, result)


def routes(systems: Sequence[object], clock: Clock) -> Mount:
    """The ``/datastore`` mount: a CKAN action API with ``datastore_search`` only."""

    async def endpoint(request: Request) -> Response:
        return search(request, clock)

    return Mount("/datastore", routes=[Route(SEARCH_PATH, endpoint, name="search")], name="datastore")


def sources(systems: Sequence[object], base_url: str) -> list[tuple[str, dict[str, object]]]:
    """The shipped ``aarhus-parking`` and ``copenhagen-traffic`` sources, re-pointed at ``base_url``."""
    registry = load_cities(CITIES_FILE)
    url = f"{base_url.rstrip('/')}/datastore{SEARCH_PATH}"
    result: list[tuple[str, dict[str, object]]] = []
    for source_id, schedule in (("aarhus-parking", "every 60s"), ("copenhagen-traffic", "every 5m")):
        city, source = registry.source(source_id)
        demo = {"id": f"{source_id}-demo", "kind": "datastore", "url": url, "schedule": schedule}
        result.append((city.id, {**demo, "title": f"{source.title} (demo)", "options": source.options}))
    return result
