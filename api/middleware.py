"""Security headers on every response, and the CORS policy.

CORS: the hub is a public read API, so ``GET``/``HEAD`` are open to every origin (``Access-Control-Allow-Origin:
*``, never with credentials). Writes from a browser on another origin are refused with 403 unless that origin is
listed in ``NORDHUB_CORS_ORIGINS`` (or is the hub's own ``NORDHUB_BASE_URL``): refusing them outright, rather than
only leaving out the CORS headers, also stops the "simple" cross-origin POSTs that a browser sends without asking
first. Clients that are not browsers send no ``Origin`` and are not affected.
"""

from __future__ import annotations

from collections.abc import Iterable
from urllib.parse import urlsplit

from fastapi import FastAPI
from starlette.datastructures import Headers, MutableHeaders
from starlette.responses import Response
from starlette.types import ASGIApp, Message, Receive, Scope, Send

from api.limits import RequestLimits
from api.problems import middleware_problem
from api.ratelimit import RateLimit, buckets_for
from hub.errors import CrossOriginRefused
from hub.settings import Settings

READS = frozenset({"GET", "HEAD"})
WRITES = "POST, PUT, PATCH, DELETE"
EXPOSED = "Link, Location, ETag, NGSILD-Results-Count, NGSILD-Tenant, Retry-After"
API_CSP = "default-src 'none'; frame-ancestors 'none'"
PAGE_CSP = (
    "default-src 'self'; img-src 'self' data:; style-src 'self' 'unsafe-inline'; "
    "frame-ancestors 'none'; base-uri 'none'; form-action 'self'"
)
# FastAPI's /docs and /redoc load Swagger UI / ReDoc from jsDelivr and start them with an inline script.
DOCS_CSP = (
    "default-src 'self'; script-src 'self' 'unsafe-inline' https://cdn.jsdelivr.net; "
    "style-src 'self' 'unsafe-inline' https://cdn.jsdelivr.net https://fonts.googleapis.com; "
    "font-src 'self' https://fonts.gstatic.com; img-src 'self' data: https://fastapi.tiangolo.com "
    "https://cdn.redoc.ly; worker-src 'self' blob:; frame-ancestors 'none'; base-uri 'none'"
)
SECURITY_HEADERS = {
    "x-content-type-options": "nosniff",
    "referrer-policy": "strict-origin-when-cross-origin",
    "x-frame-options": "DENY",
}
# The same headers as raw ASGI pairs, built once: every response gets them without a MutableHeaders (which
# rescanned the header list per setdefault) — per-request work that showed in bench/ngsi_http.py.
_SECURITY_RAW = tuple((name.encode("latin-1"), value.encode("latin-1")) for name, value in SECURITY_HEADERS.items())
_CSP = b"content-security-policy"
_CSP_RAW = {key: value.encode("latin-1") for key, value in (("docs", DOCS_CSP), ("page", PAGE_CSP), ("api", API_CSP))}


def _with_security_headers(message: Message, docs: bool) -> None:
    """Add the security headers and a CSP to a response start message, keeping any the app set itself."""
    raw = message["headers"] = list(message.get("headers", ()))
    names = {bytes(name).lower() for name, _value in raw}
    raw.extend(pair for pair in _SECURITY_RAW if pair[0] not in names)
    if _CSP not in names:
        content_type = next((bytes(v) for n, v in raw if bytes(n).lower() == b"content-type"), b"")
        kind = "docs" if docs else "page" if content_type.startswith(b"text/html") else "api"
        raw.append((_CSP, _CSP_RAW[kind]))


class SecurityHeaders:
    """Adds nosniff, a referrer policy, framing refusal and a Content-Security-Policy to every response."""

    def __init__(self, app: ASGIApp, *, docs_paths: Iterable[str]) -> None:
        self.app = app
        self.docs_paths = frozenset(docs_paths)

    async def __call__(self, scope: Scope, receive: Receive, send: Send) -> None:
        if scope["type"] != "http":
            await self.app(scope, receive, send)
            return
        docs = scope.get("path") in self.docs_paths

        async def with_headers(message: Message) -> None:
            if message["type"] == "http.response.start":
                _with_security_headers(message, docs)
            await send(message)

        await self.app(scope, receive, with_headers)


def origin_of(url: str) -> str:
    """``scheme://host[:port]`` of a URL, as a browser sends it in ``Origin``."""
    parts = urlsplit(url)
    return f"{parts.scheme}://{parts.netloc}".lower()


class Cors:
    """Reads open to every origin; cross-origin writes only from the allowed origins (see the module doc)."""

    def __init__(self, app: ASGIApp, *, write_origins: Iterable[str], own_origin: str) -> None:
        self.app = app
        self.write_origins = frozenset(origin_of(o) if o != "*" else o for o in write_origins)
        self.own_origin = origin_of(own_origin)

    def may_write(self, origin: str, host: str | None) -> bool:
        origin = origin.lower()
        if "*" in self.write_origins or origin in (self.write_origins | {self.own_origin}):
            return True
        return host is not None and urlsplit(origin).netloc == host.lower()  # same origin as the request

    def _allow_origin(self, origin: str) -> dict[str, str]:
        if origin.lower() in self.write_origins:
            return {"access-control-allow-origin": origin, "vary": "Origin"}
        return {"access-control-allow-origin": "*"}

    async def __call__(self, scope: Scope, receive: Receive, send: Send) -> None:
        # Most requests (scripts, servers, same-origin pages) send no Origin: find that out on the raw header
        # list before parsing the headers into a Headers object.
        if scope["type"] != "http" or not any(name == b"origin" for name, _value in scope["headers"]):
            await self.app(scope, receive, send)
            return
        headers = Headers(scope=scope)
        origin = headers.get("origin")
        if not origin:
            await self.app(scope, receive, send)
            return
        method = scope["method"]
        asked = headers.get("access-control-request-method")
        if method == "OPTIONS" and asked:
            await self._preflight(origin, asked.upper(), headers)(scope, receive, send)
            return
        if method not in READS and method != "OPTIONS" and not self.may_write(origin, headers.get("host")):
            await middleware_problem(scope, self._refusal(origin, method))(scope, receive, send)
            return
        extra = {**self._allow_origin(origin), "access-control-expose-headers": EXPOSED}

        async def with_cors(message: Message) -> None:
            if message["type"] == "http.response.start":
                MutableHeaders(scope=message).update(extra)
            await send(message)

        await self.app(scope, receive, with_cors)

    def _refusal(self, origin: str, method: str) -> CrossOriginRefused:
        return CrossOriginRefused(
            f"{method} from origin {origin!r} refused: cross-origin writes are allowed only from the origins in "
            "NORDHUB_CORS_ORIGINS; reads (GET, HEAD) are open to every origin"
        )

    def _preflight(self, origin: str, asked: str, headers: Headers) -> Response:
        if asked not in READS and not self.may_write(origin, headers.get("host")):
            return Response(status_code=403, headers={"vary": "Origin"})
        allowed = {
            **self._allow_origin(origin),
            "access-control-allow-methods": "GET, HEAD" + ("" if asked in READS else ", " + WRITES),
            "access-control-max-age": "600",
        }
        wanted = headers.get("access-control-request-headers")
        if wanted:
            allowed["access-control-allow-headers"] = wanted
        return Response(status_code=204, headers=allowed)


def install_middleware(app: FastAPI, settings: Settings) -> None:
    """Limits, rate limits, CORS and security headers, outermost last (so every refusal carries the headers)."""
    app.add_middleware(
        RequestLimits,
        max_body=settings.max_body_bytes,
        max_depth=settings.max_json_depth,
        max_query=settings.max_query_bytes,
    )
    app.add_middleware(
        RateLimit,
        anonymous=buckets_for(settings.rate_limit_anonymous, settings.rate_limit_anonymous_burst),
        keyed=buckets_for(settings.rate_limit_key, settings.rate_limit_key_burst),
    )
    app.add_middleware(Cors, write_origins=settings.cors_origins, own_origin=settings.base_url)
    docs = [path for path in (app.docs_url, app.redoc_url, app.swagger_ui_oauth2_redirect_url) if path]
    app.add_middleware(SecurityHeaders, docs_paths=docs)
