"""HTTP rules of the NGSI-LD API: content negotiation, request bodies, and 411 for writes without a length."""

from __future__ import annotations

from typing import Any

import orjson
from fastapi import Request
from starlette.types import ASGIApp, Receive, Scope, Send

from api.accept import accept_ranges
from api.json_input import check_body
from api.problems import NGSI_PREFIX, problem_response
from hub.errors import ETSI_BASE, InvalidRequest, NotAcceptable, UnsupportedMediaType
from ngsi.geojson import GEO_JSON

LD_JSON = "application/ld+json"
JSON = "application/json"
OFFERED = (JSON, LD_JSON, GEO_JSON)  # the first is the default for */*
# A temporal answer has no GeoJSON representation here (an entity's history is not one geometry): 406 for geo+json.
TEMPORAL_MEDIA = (JSON, LD_JSON)
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
