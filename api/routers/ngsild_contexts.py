"""NGSI-LD ``/jsonldContexts``: list, serve, add (hosted) and delete the @contexts of the context store.

The writes (POST, DELETE) are in this one router so that write authorisation can wrap it as a whole.
"""

from __future__ import annotations

from datetime import datetime
from typing import Annotated, Any

import orjson
from fastapi import APIRouter, Depends, Query, Request
from fastapi.responses import Response

from api.auth import context_writer
from api.ngsild_http import only_defined_parameters
from api.ngsild_openapi import CONTEXT_DOCUMENT, request_body
from api.problems import problem_responses
from api.state import HubState, hub_state
from hub.errors import BadRequestData, InvalidRequest, UnsupportedMediaType
from ngsi.contexts import ContextInfo, ContextKind, parse_document

router = APIRouter(
    prefix="/ngsi-ld/v1/jsonldContexts", tags=["NGSI-LD @contexts"], dependencies=[Depends(only_defined_parameters)]
)
State = Annotated[HubState, Depends(hub_state)]
LD_JSON = "application/ld+json"
# No @context is read and nothing negotiated here (no 406, 504); every problem a JSON body nested too deep (400), a
# body too large (413, on any method), a long query string (414) or the rate limit (429) can give is declared.
_EVERYWHERE = (400, 413, 414, 429)


def _iso(moment: datetime | None) -> str | None:
    return moment.isoformat().replace("+00:00", "Z") if moment is not None else None


def _details(info: ContextInfo) -> dict[str, Any]:
    return {
        "url": info.url,
        "id": info.id,
        "kind": info.kind.value,
        "createdAt": _iso(info.created_at),
        "numberOfHits": info.hits,
        "lastUsage": _iso(info.last_usage),
    }


@router.get("", summary="List the @contexts this hub holds", responses=problem_responses(*_EVERYWHERE))
def list_contexts(
    state: State,
    details: Annotated[bool, Query(description="Entries with id, kind, createdAt, numberOfHits, lastUsage")] = False,
    kind: Annotated[
        str | None,
        Query(
            description="Cached or Hosted (ImplicitlyCreated is accepted and matches none: this hub never stores the "
            "@context of a request)"
        ),
    ] = None,
) -> Response:
    """The context URLs (``details=true``: one object per context). Hit counts are this process's."""
    if kind is not None and kind not in {k.value for k in ContextKind}:
        raise BadRequestData(f"kind {kind!r}: use {', '.join(k.value for k in ContextKind)}")
    entries = [e for e in state.contexts.entries() if kind is None or e.kind.value == kind]
    body = [_details(e) for e in entries] if details else [e.url for e in entries]
    return Response(orjson.dumps(body), media_type="application/json")


@router.get(
    "/{context_id:path}",
    summary="Serve one @context (by id or URL)",
    response_class=Response,
    responses={
        200: {"description": "The context document", "content": {LD_JSON: {}}},
        **problem_responses(*_EVERYWHERE, 404),
    },
)
def serve_context(state: State, context_id: str) -> Response:
    _info, document = state.contexts.entry(context_id)
    return Response(orjson.dumps(document), media_type=LD_JSON)


@router.post(
    "",
    status_code=201,
    summary="Add a hosted @context (the body is a JSON-LD context document)",
    response_class=Response,
    responses={
        201: {"description": "Added; Location names the context's URL"},
        **problem_responses(*_EVERYWHERE, 401, 403, 411, 415),
    },
    dependencies=[Depends(context_writer)],
    openapi_extra=request_body(CONTEXT_DOCUMENT, ("application/json", LD_JSON)),
)
async def add_context(request: Request, state: State) -> Response:
    media = request.headers.get("content-type", "").split(";")[0].strip().lower()
    if media not in ("application/json", LD_JSON):
        raise UnsupportedMediaType(f"Content-Type {media or '(none)'!r}: send {LD_JSON} or application/json")
    raw = await request.body()
    if not raw:
        raise InvalidRequest("the request has no body: send a JSON-LD context document")
    info = state.contexts.host(parse_document("the posted document", raw), state.settings.base_url)
    return Response(status_code=201, headers={"Location": info.url})


@router.delete(
    "/{context_id:path}",
    status_code=204,
    summary="Delete a stored @context (never the core context)",
    response_class=Response,
    responses={204: {"description": "Deleted"}, **problem_responses(*_EVERYWHERE, 401, 403, 404)},
    dependencies=[Depends(context_writer)],
)
def delete_context(state: State, context_id: str) -> Response:
    state.contexts.remove(context_id)
    return Response(status_code=204)
