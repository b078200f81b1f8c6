"""The HTTP/1.1 protocol ``nordhub serve`` runs: uvicorn's httptools protocol, with its refusals as problem documents.

uvicorn answers a request its parser cannot read with a plain-text ``400 Invalid HTTP request received.`` before
the app sees it. The commonest such request is an honest one: a GET whose request target is 64 KiB or longer
(httptools keeps URL offsets in 16 bits), e.g. a 10,000-term ``q``, which the app would have refused with a 414
naming the limit had it ever reached it. This subclass keeps uvicorn's C parser (the API's throughput rests on it,
``bench/ngsi_http.py``) and changes only that error path: the same refusal as an RFC 9457
``application/problem+json`` body, 414 with the query-string limit named for an over-long target, 400 otherwise,
under ``/ngsi-ld/`` with the ETSI type BadRequestData as every other refused request there (api.problems).
"""

from __future__ import annotations

import orjson
from uvicorn.protocols.http.httptools_impl import STATUS_LINE, HttpToolsProtocol

from api.problems import NGSI_PREFIX
from hub.errors import ETSI_BASE, PROBLEM_BASE

# httptools.parse_url refuses a request target of this many bytes or more (its offsets are 16-bit).
MAX_TARGET_BYTES = 65_535
MAX_QUERY_BYTES = 8192  # the default of NORDHUB_MAX_QUERY_BYTES; serve() passes the configured one


def refusal(target: bytes, parser_message: str, *, max_query: int) -> tuple[int, bytes]:
    """The status and problem document refusing a request the HTTP parser could not read; ``target`` is the request
    target as far as it was read."""
    path = target.split(b"?", 1)[0].decode("latin-1")
    if len(target) >= MAX_TARGET_BYTES:
        status, title, kind = 414, "Query string too long", "query-too-long"
        detail = (
            f"the request target has {len(target)} bytes or more, and this hub reads query strings of at most "
            f"{max_query} bytes (NORDHUB_MAX_QUERY_BYTES): send fewer or shorter parameters (a long q or a list "
            "of ids fits in the body of POST /ngsi-ld/v1/entityOperations/query)"
        )
    else:
        status, title, kind = 400, "Bad request", "bad-request"
        detail = f"the request is not valid HTTP/1.1 ({parser_message.rstrip('.')})"
    problem_type = ETSI_BASE + "BadRequestData" if path.startswith(NGSI_PREFIX) else PROBLEM_BASE + kind
    body = {"type": problem_type, "title": title, "status": status, "detail": detail}
    if path.startswith("/"):
        body["instance"] = path[:200]
    return status, orjson.dumps(body)


class ProblemHttpToolsProtocol(HttpToolsProtocol):
    """uvicorn's httptools protocol whose parser refusals are problem documents (see the module docstring)."""

    max_query_bytes = MAX_QUERY_BYTES

    def send_400_response(self, msg: str) -> None:
        status, body = refusal(getattr(self, "url", b""), msg, max_query=self.max_query_bytes)
        content = [STATUS_LINE[status]]
        for name, value in self.server_state.default_headers:
            content.extend([name, b": ", value, b"\r\n"])
        content.extend(
            [
                b"content-type: application/problem+json\r\n",
                b"content-length: " + str(len(body)).encode("ascii") + b"\r\n",
                b"connection: close\r\n",
                b"\r\n",
                body,
            ]
        )
        self.transport.write(b"".join(content))
        self.transport.close()


def protocol(max_query_bytes: int) -> type[ProblemHttpToolsProtocol]:
    """The protocol class for uvicorn's ``http=``, naming the configured query-string limit in its refusals."""
    return type("ProblemHttpToolsProtocol", (ProblemHttpToolsProtocol,), {"max_query_bytes": max_query_bytes})
