"""The query parameters and headers of ``GET /ngsi-ld/v1/entities``, read by hand and described to OpenAPI once.

Why not FastAPI's ``Query``/``Header`` declarations: with 20 of them FastAPI validated each one through pydantic on
every request, about a third of the ASGI path of a ``type=T&limit=100`` page (bench/ngsi_http.py, cProfile). Here
the parameters are one table: :func:`read` takes what a request sends (the last value of a repeated parameter, as
FastAPI did) and :func:`openapi_parameters` writes the same table in the form FastAPI generated, so ``/openapi.json``
(and the schemathesis fuzz test reading it) describes every parameter as before.
"""

from __future__ import annotations

import re
from dataclasses import dataclass
from typing import Any, Literal

from starlette.requests import Request

from api.limits import MAX_INTEGER
from hub.errors import BadRequestData
from ngsi.geo import GEOMETRIES
from ngsi.linked import MAX_JOIN_LEVEL
from ngsi.query import MAX_LIMIT

Kind = Literal["string", "integer", "boolean"]
_INTEGER = re.compile(r"\s*[+-]?\d+\s*")
_TRUE = frozenset({"1", "on", "t", "true", "y", "yes"})  # what pydantic reads as booleans, case-insensitive
_FALSE = frozenset({"0", "off", "f", "false", "n", "no"})


@dataclass(frozen=True, slots=True)
class Param:
    """One parameter: where it is sent, its type, its default (None: optional string), its description and its
    bounds (``bounds``: checked by :func:`read`; ``described``: only declared)."""

    name: str
    description: str
    kind: Kind = "string"
    default: str | int | bool | None = None
    location: Literal["query", "header"] = "query"
    bounds: tuple[int, int] | None = None
    described: tuple[int, int] | None = None  # bounds only described: another layer checks them, with its message


GEOREL = "near;maxDistance==N, near;minDistance==N (metres), equals, disjoint, intersects, within, contains, overlaps"
ENTITY_QUERY: tuple[Param, ...] = (
    Param("type", "Type expression: A,B any of; A;B or (A;B) both; * any"),
    Param("id", "Entity ids, comma-separated"),
    Param("idPattern", "A regular expression over entity ids"),
    Param("attrs", "Deprecated: pick these attributes; entities have ≥1"),
    Param("q", 'Query language, e.g. availableBikeNumber>5;status=="working"'),
    Param("scopeQ", "Scope query: /Nordic/NO/# (it and below), /Nordic/+/oslo; ; and ,"),
    Param("pick", "Entity members (id, type, scope, createdAt…) and attributes to keep"),
    Param("omit", "Entity members and attributes to leave out (not with pick)"),
    Param("lang", "LanguageProperty → Property in this language (fr,en;q=0.8); * all"),
    Param("datasetId", "Keep only attribute instances with these datasetIds (@none)"),
    Param("local", "Only this hub's own entities (always so: no context sources yet)", "boolean", False),
    Param("limit", f"Page size, 0..{MAX_LIMIT} (0 only with count=true)", "integer", 20, described=(0, MAX_LIMIT)),
    Param("offset", "Entities to skip (0 or more)", "integer", 0, bounds=(0, MAX_INTEGER)),
    Param("count", "Return the total in NGSILD-Results-Count", "boolean", False),
    Param("format", "normalized (default), concise, keyValues (alias simplified)"),
    Param("options", "Comma list of keyValues, concise, normalized, sysAttrs"),
    Param("join", "Linked entities: flat (added to the array) or inline (inside each Relationship)"),
    Param("joinLevel", "How many Relationship hops join follows (default 1)", "integer", 1, bounds=(1, MAX_JOIN_LEVEL)),
    Param(
        "geometryProperty", "With application/geo+json only: the GeoProperty that is the geometry (absent: location)"
    ),
    Param("georel", GEOREL),
    Param("geometry", f"The query geometry: {', '.join(GEOMETRIES)}"),
    Param("coordinates", "The query geometry's coordinates as a JSON array, longitude first"),
    Param("geoproperty", "The GeoProperty the query applies to (location)"),
    Param(
        "orderBy",
        "Order of the entities: comma list of id, type, scope, createdAt, modifiedAt or attribute paths (a, a.sub, "
        "a[key], a.createdAt / a.modifiedAt: the attribute's system timestamps), each with ;asc (default), ;desc, "
        "or for a GeoProperty ;dist-asc / ;dist-desc (from orderFrom); "
        "missing values last, id breaks ties",
    ),
    Param("collation", "How orderBy compares strings: none = codepoint order; und = the Unicode root collation"),
    Param("orderFrom", "With orderBy …;dist-asc|dist-desc: the point distances are measured from, [lon,lat]"),
    Param("orderGeometry", "The type of orderFrom's geometry: Point (the only one supported)"),
    Param("accept", "application/json (default), application/ld+json or application/geo+json", location="header"),
    Param("NGSILD-Tenant", "Tenant (a city id); none: every city", location="header"),
    Param("prefer", "ngsi-ld=<major.minor>: amend entities for that version (203 if one changed)", location="header"),
)


def _schema(param: Param) -> dict[str, Any]:
    schema: dict[str, Any]
    if param.kind == "string" and param.default is None:
        schema = {"anyOf": [{"type": "string"}, {"type": "null"}]}
    else:
        schema = {"type": param.kind, "default": param.default}
    bounds = param.bounds or param.described
    if bounds is not None:
        schema["minimum"], schema["maximum"] = bounds
    return {**schema, "description": param.description, "title": param.name.title()}


def openapi_parameters(params: tuple[Param, ...]) -> list[dict[str, Any]]:
    """The OpenAPI parameter objects of ``params``, as FastAPI writes them for ``Query``/``Header`` declarations."""
    return [
        {
            "name": p.name,
            "in": p.location,
            "required": False,
            "schema": _schema(p),
            "description": p.description,
        }
        for p in params
    ]


def _invalid(param: Param, message: str) -> BadRequestData:
    return BadRequestData(f"{param.location} parameter {param.name!r}: {message}")


def _value(param: Param, raw: str) -> str | int | bool:
    if param.kind == "string":
        return raw
    if param.kind == "boolean":
        word = raw.strip().lower()
        if word in _TRUE or word in _FALSE:
            return word in _TRUE
        raise _invalid(param, "Input should be a valid boolean, unable to interpret input")
    if not _INTEGER.fullmatch(raw):
        raise _invalid(param, "Input should be a valid integer, unable to parse string as an integer")
    number = int(raw)
    if param.bounds is not None and not param.bounds[0] <= number <= param.bounds[1]:
        raise _invalid(param, f"Input should be between {param.bounds[0]} and {param.bounds[1]}")
    return number


def read(request: Request, params: tuple[Param, ...]) -> dict[str, Any]:
    """Every parameter of ``params`` by name: the request's value, typed, or the default; 400 for a bad value."""
    query, headers = request.query_params, request.headers
    values: dict[str, Any] = {}
    for param in params:
        raw = (query if param.location == "query" else headers).get(param.name)
        values[param.name] = param.default if raw is None else _value(param, raw)
    return values
