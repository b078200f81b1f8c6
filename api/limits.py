"""Request limits, enforced before any route parses anything.

An ASGI middleware (not a dependency) so that every route, present and future, is covered: the query string is
measured first (414), then the body is read from the stream and refused as soon as it passes the cap (413, without
reading the rest), then a JSON body's nesting depth is measured on the raw bytes (400) before a parser sees it.
The body is then replayed to the app, which reads it as usual.
"""

from __future__ import annotations

import re
from itertools import accumulate

from starlette.types import ASGIApp, Message, Receive, Scope, Send

from api.problems import middleware_problem
from hub.errors import BadRequest, NordhubError, QueryTooLong, RequestTooLarge

# A JSON string with its escapes; written as an unrolled loop so that a 10 MB string is one fast scan.
_JSON_STRING = re.compile(rb'"[^"\\]*(?:\\.[^"\\]*)*"')
_NOT_BRACKETS = bytes(range(256)).translate(None, b"[]{}")
_DEPTH_STEP = tuple(1 if b in b"[{" else -1 if b in b"]}" else 0 for b in range(256))


# The largest integer both databases store (BIGINT): integer parameters above it are refused with a 400,
# where they would fail inside the driver (an OverflowError on SQLite, "out of range" on PostgreSQL).
MAX_INTEGER = 2**63 - 1


class _ClientGone(Exception):
    """The client disconnected while sending its body: there is no one to answer."""


def json_depth(body: bytes) -> int:
    """The deepest nesting of arrays and objects in a JSON text (brackets inside strings do not count).

    Strings are cut out by one regex and every byte but the brackets is dropped, so the count runs in C-speed
    passes: about 0.5 s for 10 MB of brackets, less than parsing the same body.
    """
    brackets = _JSON_STRING.sub(b"", body).translate(None, _NOT_BRACKETS)
    return max(accumulate(map(_DEPTH_STEP.__getitem__, brackets)), default=0)


# A JSON escape of NUL: ``\u0000`` preceded by an even number of backslashes (an odd one escapes the backslash).
_JSON_NUL = re.compile(rb"(?<!\\)(?:\\\\)*\\u0000", re.IGNORECASE)


def _nul_in(path: str, query: bytes) -> str | None:
    """Where a request names a NUL character: its (decoded) path or its query string (``%00``), else None."""
    if "\x00" in path:
        return "path"
    if b"%00" in query or b"\x00" in query:
        return "query string (%00)"
    return None


def _header(scope: Scope, name: bytes) -> str | None:
    for key, value in scope.get("headers", ()):
        if key == name:
            return bytes(value).decode("latin-1")
    return None


def _may_have_body(scope: Scope) -> bool:
    """In HTTP/1.x (RFC 9112 6.3) a request has a body only with a Content-Length or a Transfer-Encoding; an
    HTTP/2 request may have one without either, so it is always read."""
    if not str(scope.get("http_version", "1.1")).startswith("1"):
        return True
    return any(key in (b"content-length", b"transfer-encoding") for key, _value in scope.get("headers", ()))


def _is_json(scope: Scope) -> bool:
    media = (_header(scope, b"content-type") or "").split(";")[0].strip().lower()
    return media.endswith("/json") or media.endswith("+json")


class RequestLimits:
    """Caps the query string, the request body and a JSON body's nesting depth, for every HTTP route."""

    def __init__(self, app: ASGIApp, *, max_body: int, max_depth: int, max_query: int) -> None:
        self.app = app
        self.max_body = max_body
        self.max_depth = max_depth
        self.max_query = max_query

    async def __call__(self, scope: Scope, receive: Receive, send: Send) -> None:
        if scope["type"] != "http":
            await self.app(scope, receive, send)
            return
        try:
            self._check_query(scope)
            body = await self._read_body(scope, receive) if _may_have_body(scope) else None
            if body and _is_json(scope):
                self._check_depth(body)
                self._check_nul(body)
        except _ClientGone:
            return
        except NordhubError as exc:
            await middleware_problem(scope, exc)(scope, receive, send)
            return
        # Without a body (most GETs) the app reads the client's own receive: nothing to replay.
        await self.app(scope, receive if body is None else _replay(body, receive), send)

    def _check_query(self, scope: Scope) -> None:
        query = scope.get("query_string", b"")
        size = len(query)
        if size > self.max_query:
            raise QueryTooLong(
                f"the query string has {size} bytes, more than the limit of {self.max_query} "
                "(NORDHUB_MAX_QUERY_BYTES): send fewer or shorter parameters"
            )
        # PostgreSQL text cannot hold NUL (a psycopg DataError, a 500, where SQLite would store it): no id, name or
        # value the hub keeps can contain one, so a request naming one is refused before anything reads it.
        where = _nul_in(scope.get("path", ""), query)
        if where:
            raise BadRequest(f"a NUL character (U+0000) in the {where}: no id, name or value stored here can hold one")

    def _check_nul(self, body: bytes) -> None:
        match = _JSON_NUL.search(body)
        if match:
            raise BadRequest(
                f"a NUL character (\\u0000) in the JSON body at byte {match.end() - 6}: no id, name or value stored "
                "here can hold one"
            )

    def _too_large(self, declared: str | None = None) -> RequestTooLarge:
        said = f" (Content-Length: {declared})" if declared else ""
        return RequestTooLarge(
            f"the request body is larger than the limit of {self.max_body} bytes{said} (NORDHUB_MAX_BODY_BYTES)"
        )

    async def _read_body(self, scope: Scope, receive: Receive) -> bytes:
        declared = _header(scope, b"content-length")
        if declared is not None and declared.strip().isdigit() and int(declared) > self.max_body:
            raise self._too_large(declared.strip())  # refused before a byte of it is read
        chunks: list[bytes] = []
        size = 0
        while True:
            message = await receive()
            if message["type"] == "http.disconnect":
                raise _ClientGone
            chunk = message.get("body", b"")
            size += len(chunk)
            if size > self.max_body:
                raise self._too_large()
            chunks.append(chunk)
            if not message.get("more_body", False):
                return b"".join(chunks)

    def _check_depth(self, body: bytes) -> None:
        depth = json_depth(body)
        if depth > self.max_depth:
            raise BadRequest(
                f"the JSON body nests arrays and objects {depth} levels deep, more than the limit of "
                f"{self.max_depth} (NORDHUB_MAX_JSON_DEPTH)"
            )


def _replay(body: bytes, receive: Receive) -> Receive:
    """A ``receive`` that hands the app the body already read, then waits on the client (for a disconnect)."""
    replayed = False

    async def replay() -> Message:
        nonlocal replayed
        if not replayed:
            replayed = True
            return {"type": "http.request", "body": body, "more_body": False}
        return await receive()

    return replay
