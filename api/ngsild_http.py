"""HTTP rules of the NGSI-LD API: content negotiation, request bodies, and 411 for writes without a length."""

from __future__ import annotations

from collections.abc import Collection
from typing import Any
from urllib.parse import quote

import orjson
from fastapi import Request
from starlette.types import ASGIApp, Receive, Scope, Send

from api.accept import accept_ranges
from api.json_input import check_body
from api.problems import NGSI_PREFIX, problem_response
from hub.errors import ETSI_BASE, BadRequestData, InvalidRequest, NotAcceptable, UnsupportedMediaType
from ngsi.geojson import GEO_JSON

LD_JSON = "application/ld+json"
JSON = "application/json"
OFFERED = (JSON, LD_JSON, GEO_JSON)  # the first is the default for */*
# Answers that are not entities have no GeoJSON representation: an entity's history is not one geometry, a list
# of types or attributes none at all (406 for Accept: application/geo+json alone).
JSON_MEDIA = (JSON, LD_JSON)
BODY_TYPES = ("application/json", "application/ld+json", "application/merge-patch+json")
_WRITES = frozenset({"POST", "PATCH", "PUT"})


def negotiate(accept: str | None, offered: tuple[str, ...] = OFFERED) -> str:
    """The response media type for an ``Accept`` header, honouring q-values; NotAcceptable (406) when none fits."""
    if not accept:
        return offered[0]
    best: tuple[float, int, str] | None = None
    for media, weight in accept_ranges(accept):
        if weight <= 0:
            continue
        if media in offered:
            candidate = (weight, 2, media)
        elif media in ("*/*", "application/*"):
            candidate = (weight, 1, offered[0])
        else:
            continue
        if best is None or candidate[:2] > best[:2]:
            best = candidate
    if best is None:
        raise NotAcceptable(f"cannot answer with any of {accept!r}: offered are {', '.join(offered)}")
    return best[2]


async def json_body(request: Request, types: tuple[str, ...] = BODY_TYPES) -> Any:
    """The parsed JSON body of a write; 415 for a Content-Type not in ``types``, 400 for an empty or malformed body,
    or one with a duplicate member or an integer beyond 64 bits (``api.json_input``)."""
    content_type = request.headers.get("content-type", "").split(";")[0].strip().lower()
    if content_type not in types:
        raise UnsupportedMediaType(f"Content-Type {content_type or '(none)'!r}: send one of {', '.join(types)}")
    raw = await request.body()
    if not raw:
        raise InvalidRequest("the request has no body")
    try:
        parsed = orjson.loads(raw)
    except orjson.JSONDecodeError as exc:
        raise InvalidRequest(f"the body is not valid JSON ({exc})") from None
    check_body(raw, parsed)  # duplicate members and integers beyond 64 bits, which orjson lets through
    return parsed


class RequireLength:
    """ASGI middleware: a POST, PATCH or PUT under ``/ngsi-ld/`` without Content-Length or Transfer-Encoding → 411.

    A middleware rather than a dependency so that every NGSI-LD write route, present and future, is covered.
    """

    def __init__(self, app: ASGIApp) -> None:
        self.app = app

    async def __call__(self, scope: Scope, receive: Receive, send: Send) -> None:
        if scope["type"] == "http" and scope["method"] in _WRITES and scope["path"].startswith(NGSI_PREFIX):
            names = {name.lower() for name, _value in scope["headers"]}
            if b"content-length" not in names and b"transfer-encoding" not in names:
                response = problem_response(
                    Request(scope),
                    status=411,
                    problem_type=ETSI_BASE + "InvalidRequest",
                    title="Length required",
                    detail=f"{scope['method']} needs a Content-Length (or Transfer-Encoding: chunked) header",
                )
                await response(scope, receive, send)
                return
        await self.app(scope, receive, send)


def location(prefix: str, entity_id: str) -> str:
    """A Location header for an entity: its id percent-encoded as one path segment and more (``/`` kept, as the
    routes read ids with slashes), so ``?``, ``#``, ``%`` and non-ASCII characters reach the client intact."""
    return prefix + quote(entity_id, safe=":/@!$&'()*+,;=-._~")


# Query parameter names each route defines, by route: read once from its declaration (FastAPI's dependant, with
# its sub-dependencies, and the parameters its OpenAPI description adds).
_DEFINED: dict[int, frozenset[str]] = {}


def _declared(route: Any) -> frozenset[str]:
    names = _DEFINED.get(id(route))
    if names is None:
        extra = (getattr(route, "openapi_extra", None) or {}).get("parameters", ())
        names = frozenset([*_query_names(route.dependant), *(p["name"] for p in extra if p.get("in") == "query")])
        _DEFINED[id(route)] = names
    return names


def _query_names(dependant: Any) -> list[str]:
    """The query parameters a FastAPI dependant reads, its sub-dependencies' included."""
    names = [field.alias for field in dependant.query_params]
    for sub in dependant.dependencies:
        names.extend(_query_names(sub))
    return names


def defined_parameters(request: Request, names: Collection[str] | None = None, extra: Collection[str] = ()) -> None:
    """6.3.20: a query parameter the operation does not define is a 400 InvalidRequest (a misspelt ``qq`` would
    otherwise answer another question than the one asked), and one given twice a 400 BadRequestData (which of the
    two was meant?). ``names``: the defined ones, else those the route declares; ``extra``: defined besides."""
    given = request.query_params
    if not given:
        return
    defined = _declared(request.scope["route"]) if names is None else names
    unknown = [name for name in given if name not in defined and name not in extra]
    if unknown:
        listed = ", ".join(sorted({*defined, *extra})) or "none"
        raise InvalidRequest(f"query parameter {unknown[0]!r} is not defined for this operation (defined: {listed})")
    if len(given.multi_items()) > len(given):
        twice = next(name for name in given if len(given.getlist(name)) > 1)
        raise BadRequestData(f"query parameter {twice!r} is given {len(given.getlist(twice))} times: give it once")


async def only_defined_parameters(request: Request) -> None:
    """The router dependency form of :func:`defined_parameters`."""
    defined_parameters(request)
