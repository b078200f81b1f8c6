"""The ``ngsild`` source kind: a city's own NGSI-LD broker, queried type by type and paged.

``GET <url>/ngsi-ld/v1/entities?type=<T>&limit=<n>`` for each type in ``options.types``, with the source's
@context in a ``Link`` header and ``Accept: application/json``. Pages follow the answer's ``Link: <…>;
rel="next"`` when the broker sends one, else ``offset`` until a short page. Entities arrive normalized, concise or
as keyValues; the last two are wrapped back into Properties, GeoProperties and Relationships so that the hub
stores one representation. Broker ids that are URNs are kept; any other id becomes
``urn:ngsi-ld:<type>:<city>:<id>``.
"""

from __future__ import annotations

import os
import re
from collections.abc import AsyncIterator, Mapping
from dataclasses import dataclass, field
from typing import Annotated, Any, ClassVar
from urllib.parse import urlencode, urljoin, urlsplit

import orjson
from pydantic import AfterValidator, BaseModel, ConfigDict, Field

from harvester.http import FetchResult, HttpClient
from harvester.sources.base import HarvestBatch, Record
from harvester.sources.datastore_mapping import id_part, validate_options
from hub.cities import City, HttpUrl, Source, SourceKind
from hub.errors import PayloadInvalid
from schemas.findings import Finding, Severity
from schemas.ngsild import ATTRIBUTE_VALUE_MEMBER

API_PATH = "/ngsi-ld/v1"
CONTEXT_REL = "http://www.w3.org/ns/json-ld#context"
GEOJSON_TYPES = frozenset(
    {"Point", "MultiPoint", "LineString", "MultiLineString", "Polygon", "MultiPolygon", "GeometryCollection"}
)
# Members of the remote entity that are not carried over: its @context (we asked for none in the body), its
# scope (the hub scopes entities by city) and the remote broker's system attributes.
DROPPED_MEMBERS = frozenset({"@context", "scope", "createdAt", "modifiedAt", "deletedAt"})
_LINK = re.compile(r"<(?P<target>[^>]*)>(?P<params>[^<]*)")
_CONCISE = (("value", "Property"), ("object", "Relationship"), ("languageMap", "LanguageProperty"))


def _entity_type(value: str) -> str:
    if not value.strip() or any(c in value for c in ",;()| "):
        raise ValueError(f"{value!r} is not one entity type (list several as separate items)")
    return value


class NgsiLdOptions(BaseModel):
    """``options`` of an ngsild source."""

    model_config = ConfigDict(extra="forbid")

    types: list[Annotated[str, AfterValidator(_entity_type)]] = Field(min_length=1)
    context: HttpUrl | None = None
    page_size: int = Field(default=100, ge=1, le=1000)
    tenant: str | None = Field(default=None, min_length=1)


@dataclass(frozen=True, slots=True)
class EntityPage:
    """One answer of the broker: where it came from, how many entities came before it, and its entities."""

    url: str
    offset: int
    entities: list[Any]
    size: int


def entities_url(url: str, **params: str | int) -> str:
    """``<url>/ngsi-ld/v1/entities?…``; ``url`` may be the broker's root or already its ``/ngsi-ld/v1`` base."""
    base = url.split("?")[0].rstrip("/")
    if not urlsplit(base).path.endswith(API_PATH):
        base += API_PATH
    return f"{base}/entities?{urlencode(params)}"


def request_headers(options: NgsiLdOptions, extra: Mapping[str, str]) -> dict[str, str]:
    """Accept, the @context as a Link header and the remote tenant, on top of the source's own headers."""
    headers = {**extra, "Accept": "application/json"}
    if options.context:
        headers["Link"] = f'<{options.context}>; rel="{CONTEXT_REL}"; type="application/ld+json"'
    if options.tenant:
        headers["NGSILD-Tenant"] = options.tenant
    return headers


def next_link(header: str | None, base_url: str) -> str | None:
    """The absolute target of the ``rel="next"`` link in a Link header (several links may share the header)."""
    for match in _LINK.finditer(header or ""):
        rels = re.findall(r';\s*rel\s*=\s*"?([^";]+)"?', match.group("params"))
        if any("next" in rel.split() for rel in rels):
            return urljoin(base_url, str(match.group("target")).strip())
    return None


def page_entities(result: FetchResult) -> list[Any]:
    """The entity array of an answer; PayloadInvalid for anything else, naming a ProblemDetails' type and detail."""
    try:
        doc = orjson.loads(result.content)
    except orjson.JSONDecodeError as exc:
        raise PayloadInvalid(f"GET {result.url}: invalid JSON ({exc})") from exc
    if isinstance(doc, list):
        return doc
    if isinstance(doc, dict) and isinstance(doc.get("type"), str) and ("title" in doc or "detail" in doc):
        detail = doc.get("detail") or doc.get("title")
        raise PayloadInvalid(f"GET {result.url}: the broker answered a problem: {doc['type']}: {detail}")
    raise PayloadInvalid(f"GET {result.url}: expected a JSON array of entities, got {type(doc).__name__}")


async def entity_pages(
    client: HttpClient, url: str, entity_type: str, *, page_size: int, headers: Mapping[str, str]
) -> AsyncIterator[EntityPage]:
    """Every page of one type: by ``rel="next"`` links once the broker gives one, else by offset to a short page."""
    target, offset, linked = entities_url(url, type=entity_type, limit=page_size), 0, False
    previous: list[Any] | None = None
    while True:
        result = await client.get(target, headers)
        entities = page_entities(result)
        if entities and entities == previous:
            raise PayloadInvalid(f"GET {result.url}: the page repeats the previous one (offset or link ignored)")
        yield EntityPage(result.url, offset, entities, len(result.content))
        offset, previous = offset + len(entities), entities
        following = next_link(result.headers.get("link"), result.url)
        if following is not None:
            target, linked = following, True
        elif linked or len(entities) < page_size:
            return
        else:
            target = entities_url(url, type=entity_type, limit=page_size, offset=offset)


def attribute(value: Any) -> Any:
    """One attribute in the normalized representation, whichever representation it arrived in."""
    if isinstance(value, dict):
        kind = value.get("type")
        if isinstance(kind, str) and ATTRIBUTE_VALUE_MEMBER.get(kind) in value:
            return value  # already normalized
        if kind in GEOJSON_TYPES and ("coordinates" in value or "geometries" in value):
            return {"type": "GeoProperty", "value": value}
        for member, wrapped in _CONCISE:
            if kind is None and member in value:
                inner = value[member]
                is_geo = member == "value" and isinstance(inner, dict) and inner.get("type") in GEOJSON_TYPES
                return {**value, "type": "GeoProperty" if is_geo else wrapped}
    if isinstance(value, list) and value and all(isinstance(v, dict) and "datasetId" in v for v in value):
        return [attribute(v) for v in value]  # a multi-instance attribute
    return {"type": "Property", "value": value}


@dataclass(frozen=True, slots=True)
class BrokerContext:
    """What an entity needs to know beyond itself: the city and the type that was asked for."""

    city_id: str
    entity_type: str


def local_id(raw_id: str, entity_type: str, city_id: str) -> str:
    """The broker's id when it is a URN, else one minted under the city."""
    if raw_id.lower().startswith("urn:"):
        return raw_id
    return f"urn:ngsi-ld:{entity_type}:{city_id}:{id_part(raw_id)}"


def entity_record(raw: Any, index: int, context: BrokerContext) -> tuple[Record, bool]:
    """One remote entity as a normalized Record, and whether any attribute had to be wrapped."""
    where = f"/{context.entity_type}/{index}"
    raw_id = raw.get("id") if isinstance(raw, dict) else None
    if not isinstance(raw, dict) or not isinstance(raw_id, str) or not raw_id.strip():
        return Record(where, None, [Finding("ngsild.missing-id", Severity.ERROR, where, "entity has no id")]), False
    findings: list[Finding] = []
    entity_type = raw.get("type")
    if not isinstance(entity_type, str | list) or not entity_type:
        message = f"entity has no type: {context.entity_type} (the type asked for) assumed"
        findings.append(Finding("ngsild.missing-type", Severity.WARNING, f"{where}/type", message))
        entity_type = context.entity_type
    first_type = entity_type if isinstance(entity_type, str) else str(entity_type[0])
    entity: dict[str, Any] = {"id": local_id(raw_id.strip(), first_type, context.city_id), "type": entity_type}
    wrapped = False
    for name, value in raw.items():
        if name in entity or name in DROPPED_MEMBERS:
            continue
        entity[name] = attribute(value)
        wrapped = wrapped or entity[name] != value
    return Record(entity["id"], entity, findings), wrapped


@dataclass(slots=True)
class _Collected:
    records: list[Record] = field(default_factory=list)
    findings: list[Finding] = field(default_factory=list)
    seen: set[str] = field(default_factory=set)
    size: int = 0


def _collect(page: EntityPage, context: BrokerContext, into: _Collected) -> None:
    wrapped = 0
    for index, raw in enumerate(page.entities, start=page.offset):
        record, was_wrapped = entity_record(raw, index, context)
        wrapped += was_wrapped
        if record.entity is not None and record.record_id in into.seen:
            message = f"{record.record_id} was already listed: this copy is ignored"
            into.findings.append(
                Finding("ngsild.duplicate-id", Severity.WARNING, f"/{context.entity_type}/{index}", message)
            )
            continue
        into.seen.add(record.record_id)
        into.records.append(record)
    if wrapped:
        message = f"{wrapped} entities of {page.url} were not normalized (keyValues or concise): values wrapped"
        into.findings.append(Finding("ngsild.not-normalized", Severity.INFO, f"/{context.entity_type}", message))
    into.size += page.size


class NgsiLdAdapter:
    """Harvests the entities of the configured types from a city's NGSI-LD broker."""

    kind: ClassVar[SourceKind] = SourceKind.NGSILD

    async def harvest(self, client: HttpClient, city: City, source: Source) -> HarvestBatch:
        options = validate_options(NgsiLdOptions, source.id, source.options)
        headers = request_headers(options, source.header_values(os.environ))
        collected = _Collected()
        for entity_type in options.types:
            context = BrokerContext(city.id, entity_type)
            pages = entity_pages(client, source.url, entity_type, page_size=options.page_size, headers=headers)
            async for page in pages:
                _collect(page, context, collected)
        return HarvestBatch(records=collected.records, bytes=collected.size, findings=collected.findings)
