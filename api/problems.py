"""The one place errors become RFC 9457 ``application/problem+json`` responses.

Starlette finds handlers by walking the exception's class hierarchy, so the handler on ``NordhubError`` serves the
whole tree in ``hub.errors``. Routes under ``/ngsi-ld/`` get the ETSI NGSI-LD problem types.
"""

from __future__ import annotations

import logging
from typing import Any

import orjson
from fastapi import FastAPI, Request
from fastapi.exceptions import RequestValidationError
from starlette.exceptions import HTTPException
from starlette.responses import Response
from starlette.types import Scope

from hub.errors import ETSI_BASE, PROBLEM_BASE, NordhubError, TooManyRequests, Unauthorized

log = logging.getLogger(__name__)
PROBLEM_JSON = "application/problem+json"
NGSI_PREFIX = "/ngsi-ld/"


PROBLEM_SCHEMA: dict[str, Any] = {
    "type": "object",
    "title": "Problem",
    "description": "RFC 9457 problem details; under /ngsi-ld/ the type is an ETSI NGSI-LD error type.",
    "required": ["type", "title", "status", "detail"],
    "properties": {
        "type": {"type": "string", "format": "uri"},
        "title": {"type": "string"},
        "status": {"type": "integer"},
        "detail": {"type": "string"},
        "instance": {"type": "string"},
    },
}
_ANSWERS = {
    400: "Bad request: a parameter or the body is invalid (the detail names which and where)",
    401: "A key is needed (Authorization: Bearer), or the key given is unknown, revoked or expired",
    403: "Refused: a query too complex or with too many results, or a cross-origin write",
    404: "Not found",
    406: "None of the media types in Accept can be served",
    409: "Already exists",
    411: "Length required: a POST, PATCH or PUT under /ngsi-ld/ without Content-Length or Transfer-Encoding",
    413: "The request body is larger than NORDHUB_MAX_BODY_BYTES",
    414: "The query string is longer than NORDHUB_MAX_QUERY_BYTES",
    415: "Unsupported Content-Type",
    422: "Operation not supported",
    429: "Rate limit exceeded (see Retry-After)",
    504: "LdContextNotAvailable: the request's @context is not in the context store and cannot be fetched",
}


def problem_responses(*statuses: int) -> dict[int | str, dict[str, Any]]:
    """The OpenAPI responses of these problem statuses; the fuzz test (tests/api/test_fuzz.py) holds every answer
    of an operation to its declarations."""
    return {s: {"description": _ANSWERS[s], "content": {PROBLEM_JSON: {"schema": PROBLEM_SCHEMA}}} for s in statuses}


# Declared on every operation outside /ngsi-ld/ (whose routes declare their own, api.ngsild_openapi): the
# middleware answers 413/414/429 on any route, and the exception tree can answer the others.
PROBLEM_RESPONSES = problem_responses(400, 401, 403, 404, 406, 409, 413, 414, 415, 422, 429)


def problem_response(
    request: Request,
    *,
    status: int,
    problem_type: str,
    title: str,
    detail: str,
    headers: dict[str, str] | None = None,
    **extra: Any,
) -> Response:
    """The single function that shapes every error body of the hub."""
    body = {"type": problem_type, "title": title, "status": status, "detail": detail, "instance": request.url.path}
    body.update(extra)
    headers = dict(headers or {})
    tenant = request.headers.get("ngsild-tenant")
    if tenant and request.url.path.startswith(NGSI_PREFIX):
        headers["NGSILD-Tenant"] = tenant
    return Response(orjson.dumps(body), status_code=status, media_type=PROBLEM_JSON, headers=headers)


async def _nordhub_error(request: Request, exc: Exception) -> Response:
    assert isinstance(exc, NordhubError)
    headers = {"WWW-Authenticate": 'Bearer realm="nordhub"'} if isinstance(exc, Unauthorized) else None
    return problem_response(
        request, status=exc.status, problem_type=exc.problem_type, title=exc.title, detail=exc.detail, headers=headers
    )


def middleware_problem(scope: Scope, exc: NordhubError) -> Response:
    """The problem response of an error raised by a middleware, where the app's exception handlers do not reach.

    Under ``/ngsi-ld/`` a refused request (400, 413, 414) carries the closest ETSI type, BadRequestData.
    """
    request = Request(scope)
    problem_type = exc.problem_type
    if request.url.path.startswith(NGSI_PREFIX) and exc.status in (400, 413, 414):
        problem_type = ETSI_BASE + "BadRequestData"
    response = problem_response(
        request, status=exc.status, problem_type=problem_type, title=exc.title, detail=exc.detail
    )
    if isinstance(exc, TooManyRequests):
        response.headers["Retry-After"] = str(exc.retry_after)
    return response


def _where(loc: tuple[Any, ...]) -> str:
    parts = [str(p) for p in loc]
    if parts and parts[0] in ("query", "path", "header", "body"):
        return f"{parts[0]} parameter {'.'.join(parts[1:])!r}" if len(parts) > 1 else parts[0]
    return ".".join(parts)


async def _validation_error(request: Request, exc: Exception) -> Response:
    assert isinstance(exc, RequestValidationError)
    detail = "; ".join(f"{_where(tuple(e.get('loc', ())))}: {e.get('msg', 'invalid')}" for e in exc.errors())
    if request.url.path.startswith(NGSI_PREFIX):
        return problem_response(
            request, status=400, problem_type=ETSI_BASE + "BadRequestData", title="Bad request data", detail=detail
        )
    return problem_response(
        request, status=400, problem_type=PROBLEM_BASE + "bad-request", title="Bad request", detail=detail
    )


async def _http_error(request: Request, exc: Exception) -> Response:
    assert isinstance(exc, HTTPException)
    ngsi = request.url.path.startswith(NGSI_PREFIX)
    if exc.status_code == 404:
        problem_type = ETSI_BASE + "ResourceNotFound" if ngsi else PROBLEM_BASE + "not-found"
        return problem_response(
            request, status=404, problem_type=problem_type, title="Not found", detail=f"no route {request.url.path}"
        )
    title = str(exc.detail)
    problem_type = ETSI_BASE + "InvalidRequest" if ngsi else PROBLEM_BASE + f"http-{exc.status_code}"
    detail = title
    allow = _allowed(request) if exc.status_code == 405 else None
    if allow:
        detail = f"{request.method} is not a method of {request.url.path}: it takes {allow}"
    response = problem_response(request, status=exc.status_code, problem_type=problem_type, title=title, detail=detail)
    if allow:
        response.headers["Allow"] = allow  # RFC 9110 15.5.6: a 405 names the methods the resource takes
    return response


def _allowed(request: Request) -> str | None:
    """Every method some route takes at this path (Starlette's 405 names only the first matching route's)."""
    path = request.url.path
    methods = {m for route in _routes(request.app.router.routes) for m in _methods_at(route, path)}
    methods.discard("HEAD")
    return ", ".join(sorted(methods)) or None


def _routes(routes: Any) -> Any:
    """The endpoint routes, through included routers (FastAPI wraps them) and mounts."""
    for route in routes:
        inner = getattr(getattr(route, "original_router", None), "routes", None) or getattr(route, "routes", None)
        if inner is not None and not hasattr(route, "methods"):
            yield from _routes(inner)
        else:
            yield route


def _methods_at(route: Any, path: str) -> set[str]:
    regex, methods = getattr(route, "path_regex", None), getattr(route, "methods", None)
    return set(methods) if regex is not None and methods and regex.match(path) else set()


async def _unexpected(request: Request, exc: Exception) -> Response:
    log.error("unhandled error on %s %s", request.method, request.url.path, exc_info=exc)
    ngsi = request.url.path.startswith(NGSI_PREFIX)
    return problem_response(
        request,
        status=500,
        problem_type=ETSI_BASE + "InternalError" if ngsi else PROBLEM_BASE + "internal-error",
        title="Internal error",
        detail="the hub failed to answer this request; the error is in its log",
    )


def _without_validation_422(schema: dict[str, Any]) -> None:
    """Drop FastAPI's default 422 "Validation Error" answers: a parameter that fails validation is a 400 problem
    here (``_validation_error``); an operation that does answer 422 declares it as a problem."""
    for path in schema.get("paths", {}).values():
        for operation in path.values():
            answers = operation.get("responses", {}) if isinstance(operation, dict) else {}
            if answers.get("422", {}).get("description") == "Validation Error":
                del answers["422"]
    for name in ("HTTPValidationError", "ValidationError"):
        schema.get("components", {}).get("schemas", {}).pop(name, None)


def install_openapi(app: FastAPI) -> None:
    """``/openapi.json`` as FastAPI writes it, less the 422 answers the hub never gives."""
    generate = app.openapi

    def openapi() -> dict[str, Any]:
        fresh = app.openapi_schema is None
        schema = generate()
        if fresh:
            _without_validation_422(schema)
        return schema

    app.openapi = openapi  # type: ignore[method-assign]


def install_problem_handlers(app: FastAPI) -> None:
    app.add_exception_handler(NordhubError, _nordhub_error)
    app.add_exception_handler(RequestValidationError, _validation_error)
    app.add_exception_handler(HTTPException, _http_error)
    app.add_exception_handler(Exception, _unexpected)
