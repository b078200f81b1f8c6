"""``POST /api/v1/validate``: check a document (the request body) or a URL against the hub's validators."""

from __future__ import annotations

from typing import Annotated, Any

import anyio.to_thread
from fastapi import APIRouter, Depends, Query, Request

from api.state import HubState, hub_state
from api.validation import Kind, Validators, gbfs_from_url, validate_document, validate_gbfs_files
from hub.errors import BadRequest

router = APIRouter(prefix="/api/v1", tags=["validation"])


@router.post("/validate", summary="Validate a document or a URL (NGSI-LD, Smart Data Models, GBFS, DCAT-AP)")
async def validate(
    request: Request,
    state: Annotated[HubState, Depends(hub_state)],
    kind: Annotated[Kind, Query(description="What the document is; auto detects it")] = Kind.AUTO,
    profile: Annotated[str | None, Query(description="DCAT-AP: [version:]base|recommended|vocabularies|full")] = None,
    url: Annotated[
        str | None, Query(description="Fetch and validate this URL instead of the body (SSRF-guarded)")
    ] = None,
    name: Annotated[str, Query(description="A file name for the body, used to detect its kind")] = "document",
) -> dict[str, Any]:
    """The report: ``{kind, valid, errors, warnings, counts, findings (capped), truncated, …}``."""
    validators = Validators.for_data_dir(state.settings.data_dir)
    if url is not None:
        client = state.harvester.client
        if kind is Kind.GBFS:
            files = await gbfs_from_url(client, url)
            return await anyio.to_thread.run_sync(validate_gbfs_files, files, validators)
        content, name = (await client.get(url)).content, url.rsplit("/", 1)[-1] or "document"
    else:
        content = await _body(request, state.settings.http_max_bytes)
    return await anyio.to_thread.run_sync(
        lambda: validate_document(content, name=name, kind=kind, validators=validators, profile=profile)
    )


async def _body(request: Request, cap: int) -> bytes:
    chunks: list[bytes] = []
    size = 0
    async for chunk in request.stream():
        size += len(chunk)
        if size > cap:
            raise BadRequest(f"request body exceeds {cap} bytes")
        chunks.append(chunk)
    if not size:
        raise BadRequest("send the document as the request body, or give ?url=")
    return b"".join(chunks)
