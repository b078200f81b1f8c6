"""The Query body of ``POST /entityOperations/query`` (GS CIM 009 clause 5.2.23) and its parts with their names as
stored: the OpenAPI schema, its parsing into an ``ngsi.query.EntityQuery``, and the translation of an ordering or a
geo-query with the request's @context, which ``GET /entities`` and the temporal API share.

The temporal query (``POST /temporal/entityOperations/query``) reads the same body, less ``temporalQ``.
"""

from __future__ import annotations

from dataclasses import replace
from typing import Any

from api import ngsild_checks as checks
from api.ld import LdRequest
from api.ngsild_http import JSON, LD_JSON
from hub.errors import BadRequestData, TooComplexQuery
from ngsi import linked
from ngsi.geo import GeoQuery, parse_geo_q
from ngsi.ordering import Ordering, parse_ordering
from ngsi.query import EntityQuery, Selector

# Each EntitySelector is one more OR'd branch of the SQL: SQLite refuses an expression tree deeper than 1,000
# (about 1,000 selectors, a 500 before this cap), and long before that the plan costs more than the query.
MAX_SELECTORS = 100
_SELECTOR = {
    "type": "object",
    "required": ["type"],
    "additionalProperties": False,
    "properties": {
        "type": {"type": "string"},
        "id": {"anyOf": [{"type": "string", "format": "uri"}, {"type": "array", "items": {"type": "string"}}]},
        "idPattern": {"type": "string"},
    },
}
_PROJECTION = {"anyOf": [{"type": "string"}, {"type": "array", "items": {"type": "string"}}]}
_QUERY_SCHEMA = {
    "type": "object",
    "required": ["type"],
    "properties": {
        "@context": {"description": "JSON-LD @context (application/ld+json bodies only)"},
        "type": {"type": "string", "enum": ["Query"]},
        "entities": {"type": "array", "items": _SELECTOR, "maxItems": MAX_SELECTORS},
        "attrs": {"type": "array", "items": {"type": "string"}},
        "q": {"type": "string"},
        "scopeQ": {"type": "string"},
        "lang": {"type": "string"},
        "pick": {**_PROJECTION, "description": "Entity members and attributes to keep (rel{…}: of linked entities)"},
        "omit": {**_PROJECTION, "description": "Entity members and attributes to leave out"},
        "join": {"type": "string", "enum": ["flat", "inline"], "description": "Linked entities"},
        "joinLevel": {"type": "integer", "minimum": 1, "maximum": linked.MAX_JOIN_LEVEL},
        "geoQ": {"type": "object", "description": "georel, geometry, coordinates, geoproperty"},
        "ordering": {
            "type": "object",
            "description": "OrderingParams: orderBy (array of keys as in GET orderBy), collation (und), "
            "coordinates [lon,lat] and geometry (Point) for dist-asc/dist-desc",
        },
        "geometryProperty": {"type": "string", "description": "The GeoProperty of GeoJSON answers (default location)"},
        "datasetId": {
            "description": "Only the attribute instances of these datasetIds (URIs; @none: the default instance)",
            "anyOf": [{"type": "string"}, {"type": "array", "items": {"type": "string"}}],
        },
        "temporalQ": {"type": "object", "description": "Temporal API only: 400 BadRequestData here"},
    },
    "additionalProperties": False,
}
QUERY_BODY = {
    "requestBody": {
        "required": True,
        "content": {JSON: {"schema": _QUERY_SCHEMA}, LD_JSON: {"schema": _QUERY_SCHEMA}},
    }
}


def ordering_as_stored(ordering: Ordering | None, ld: LdRequest) -> Ordering | None:
    """The ordering with its attribute names as stored (expanded with the request's @context, as q's are)."""
    if ordering is None or ld.translation.identity:
        return ordering
    return ordering.renamed(ld.translation.to_stored)


def geo_as_stored(geo: GeoQuery | None, ld: LdRequest) -> GeoQuery | None:
    """The geo-query with its GeoProperty named as stored."""
    if geo is None or ld.translation.identity:
        return geo
    return replace(geo, geoproperty=ld.translation.to_stored(geo.geoproperty))


def query_from_body(body: Any, ld: LdRequest, *, temporal: bool = False, local: bool = False) -> EntityQuery:
    """A Query body as an evaluation with its names as stored (translated with the request's @context);
    ``temporal``: of ``POST /temporal/entityOperations/query``, whose selectors need no type yet; ``local``: the
    query string's ``local=true``, which alone selects every entity this hub holds (6.4.3.2)."""
    checks.query_body(body, temporal=temporal)
    typed = not temporal
    items = body.get("entities") or []
    if not isinstance(items, list) or not all(isinstance(i, dict) for i in items):
        raise BadRequestData("entities must be an array of EntitySelector objects {type, id, idPattern}")
    if len(items) > MAX_SELECTORS:
        raise TooComplexQuery(
            f"entities: {len(items)} EntitySelectors, more than the limit of {MAX_SELECTORS} (name many ids in one "
            "selector's id array, or many types in one type expression)"
        )
    selectors = tuple(_selector(item, ld, typed=typed) for item in items)
    attrs = body.get("attrs") or []
    if not isinstance(attrs, list) or not all(isinstance(a, str) for a in attrs):
        raise BadRequestData("attrs must be an array of attribute names")
    text = {name: body.get(name) for name in ("q", "scopeQ", "lang")}
    bad = [name for name, value in text.items() if value is not None and not isinstance(value, str)]
    if bad:
        raise BadRequestData(f"{bad[0]} must be a string")
    geo = body.get("geoQ")
    parsed = None if geo is None else geo_as_stored(parse_geo_q(geo), ld)
    ordering = ordering_as_stored(_body_ordering(body.get("ordering")), ld)
    names = tuple(ld.names(attrs))
    return EntityQuery(selectors, names, ld.q(text["q"]), text["scopeQ"], parsed, local=local, ordering=ordering)


def body_dataset_ids(body: dict[str, Any]) -> str | None:
    """The body's ``datasetId`` (a URI or @none, or an array of them) as GET's ``datasetId`` parameter spells it."""
    value = body.get("datasetId")
    if value is None or isinstance(value, str):
        return value
    if isinstance(value, list) and value and all(isinstance(d, str) and d and "," not in d for d in value):
        return ",".join(value)
    raise BadRequestData("datasetId must be a string or a non-empty array of strings (URIs, or @none)")


def _body_ordering(member: Any) -> Ordering | None:
    """A Query body's ``ordering`` (OrderingParams, clause 5.2.43): orderBy (string array), collation, and the
    distance reference ``coordinates`` (a JSON array) with its ``geometry``."""
    if member is None:
        return None
    if not isinstance(member, dict):
        raise BadRequestData("ordering must be an OrderingParams object {orderBy, collation, coordinates, geometry}")
    unknown = sorted(set(member) - {"orderBy", "collation", "coordinates", "geometry"})
    if unknown:
        raise BadRequestData(
            f"ordering: unknown member(s) {', '.join(unknown)}; use orderBy, collation, coordinates, geometry"
        )
    order_by, coordinates = member.get("orderBy"), member.get("coordinates")
    if order_by is not None and not isinstance(order_by, list):
        raise BadRequestData("ordering.orderBy must be an array of strings")
    if coordinates is not None and not isinstance(coordinates, list):
        raise BadRequestData("ordering.coordinates must be a JSON array [longitude, latitude]")
    names = ("ordering.orderBy", "ordering.collation", "ordering.coordinates", "ordering.geometry")
    return parse_ordering(order_by, member.get("collation"), coordinates, member.get("geometry"), names=names)


def _selector(item: dict[str, Any], ld: LdRequest, *, typed: bool) -> Selector:
    """An EntitySelector: ``id`` one URI or several, and when given it takes precedence over ``idPattern``;
    ``typed``: its type is mandatory (5.2.33; the temporal query does not ask it yet)."""
    ids, pattern = checks.selector_ids(item, typed=typed), item.get("idPattern")
    if pattern is not None and not isinstance(pattern, str):
        raise BadRequestData("an EntitySelector's idPattern is a string")
    return Selector(types=ld.type_expression(item.get("type")), ids=ids, id_pattern=None if ids else pattern)
