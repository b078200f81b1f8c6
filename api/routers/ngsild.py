"""NGSI-LD consumption endpoints (``/ngsi-ld/v1``): query and retrieve entities."""

from __future__ import annotations

from typing import Annotated, Any
from urllib.parse import urlencode

from fastapi import APIRouter, Depends, Header, Query, Request
from fastapi.responses import Response

from api.limits import MAX_INTEGER
from api.state import HubState, hub_state
from hub.errors import BadRequestData, NonexistentTenant, NotAcceptable, OperationNotSupported, ResourceNotFound
from ngsi import store
from ngsi.context import context_link
from ngsi.q import parse_q, safe_regex
from ngsi.q_sql import compile_q
from ngsi.representation import Format, render, render_list
from ngsi.tables import entities
from schemas.ngsild import is_absolute_uri

router = APIRouter(prefix="/ngsi-ld/v1", tags=["NGSI-LD"])
MAX_LIMIT = 1000
LD_JSON = "application/ld+json"
JSON = "application/json"
NOT_YET = ("georel", "geometry", "coordinates", "attrs", "pick", "omit", "scopeQ", "csf")


def negotiate(accept: str | None) -> str:
    """The response media type for an ``Accept`` header: JSON-LD or JSON (with the @context in a Link)."""
    if not accept:
        return JSON
    offered = [part.split(";")[0].strip().lower() for part in accept.split(",")]
    for media in offered:
        if media in (JSON, LD_JSON):
            return media
        if media in ("*/*", "application/*"):
            return JSON
    raise NotAcceptable(f"cannot answer with any of {accept!r}: offered are {JSON} and {LD_JSON}")


def _format(fmt: str | None, options: str | None) -> Format:
    wanted = {o.strip() for o in (options or "").split(",") if o.strip()}
    if fmt:
        wanted.add(fmt)
    for candidate in (Format.KEY_VALUES, Format.CONCISE, Format.NORMALIZED):
        if candidate.value in wanted:
            return candidate
    if "sysAttrs" in wanted or not wanted:
        return Format.NORMALIZED
    raise BadRequestData(f"unknown format/options {sorted(wanted)}: use normalized, concise or keyValues")


def _tenant(state: HubState, tenant: str | None) -> str | None:
    if tenant is None or tenant == "":
        return None  # no header: the federated view across every city
    with state.db.connect() as conn:
        known = store.tenant_exists(conn, tenant)
    if not known and tenant not in {c.id for c in state.registry.cities}:
        raise NonexistentTenant(f"tenant {tenant!r} does not exist")
    return tenant


def _headers(media: str, tenant: str | None) -> dict[str, str]:
    headers = {"Link": context_link()} if media == JSON else {}
    if tenant:
        headers["NGSILD-Tenant"] = tenant
    return headers


def _split(value: str | None) -> list[str]:
    return [v.strip() for v in (value or "").split(",") if v.strip()]


@router.get("/entities", summary="Query entities")
def query_entities(
    request: Request,
    state: Annotated[HubState, Depends(hub_state)],
    type: Annotated[str | None, Query(description="Entity types, comma-separated (any of)")] = None,
    id: Annotated[str | None, Query(description="Entity ids, comma-separated")] = None,
    idPattern: Annotated[str | None, Query(description="A regular expression over entity ids")] = None,
    q: Annotated[str | None, Query(description='Query language, e.g. availableBikeNumber>5;status=="working"')] = None,
    limit: Annotated[int, Query(description=f"Page size, 0..{MAX_LIMIT} (0 only with count=true)")] = 20,
    offset: Annotated[int, Query(ge=0, le=MAX_INTEGER, description="Entities to skip")] = 0,
    count: Annotated[bool, Query(description="Return the total in NGSILD-Results-Count")] = False,
    format: Annotated[str | None, Query(description="normalized, concise or keyValues")] = None,
    options: Annotated[str | None, Query(description="keyValues, concise, sysAttrs")] = None,
    accept: Annotated[str | None, Header()] = None,
    ngsild_tenant: Annotated[str | None, Header(alias="NGSILD-Tenant")] = None,
) -> Response:
    """Entities matching ``type`` and/or ``id``, ordered by id, as a JSON array."""
    unsupported = [name for name in NOT_YET if name in request.query_params]
    if unsupported:
        raise OperationNotSupported(f"query parameter(s) {', '.join(unsupported)} not supported by this hub yet")
    types, ids = _split(type), _split(id)
    if not types and not ids and not idPattern and not q:
        raise BadRequestData("a query needs at least one of type, id, idPattern, attrs, q or a geo-query")
    where = _conditions(q, idPattern)
    bad = [i for i in ids if not is_absolute_uri(i)]
    if bad:
        raise BadRequestData(f"id {bad[0]!r} is not an absolute URI")
    if not 0 <= limit <= MAX_LIMIT or (limit == 0 and not count):
        raise BadRequestData(f"limit must be 1..{MAX_LIMIT} (0 only with count=true), got {limit}")
    media, fmt = negotiate(accept), _format(format, options)
    tenant = _tenant(state, ngsild_tenant)
    with state.db.connect() as conn:
        rows, total = store.query_entities(
            conn, tenant=tenant, types=types, ids=ids, limit=limit, offset=offset, count=count, extra=where
        )
    headers = _headers(media, tenant)
    links = _page_links(request, offset, limit, len(rows), total)
    if links:
        headers["Link"] = ", ".join(filter(None, [headers.get("Link"), *links]))
    if total is not None:
        headers["NGSILD-Results-Count"] = str(total)
    body = render_list(rows, fmt, with_context=media == LD_JSON)
    return Response(body, media_type=media, headers=headers)


def _conditions(q: str | None, id_pattern: str | None) -> list[Any]:
    """SQL conditions of ``q`` (compiled to indexed lookups) and ``idPattern`` (a regex, checked for safety)."""
    where: list[Any] = []
    if q:
        where.append(compile_q(parse_q(q), entities_table=entities))
    if id_pattern:
        where.append(entities.c.id.regexp_match(safe_regex(id_pattern)))
    return where


def _page_links(request: Request, offset: int, limit: int, returned: int, total: int | None) -> list[str]:
    if limit == 0:
        return []
    params = dict(request.query_params)
    links = []
    if returned == limit and (total is None or offset + limit < total):
        links.append(f'<{request.url.path}?{urlencode({**params, "offset": offset + limit})}>; rel="next"')
    if offset > 0:
        links.append(f'<{request.url.path}?{urlencode({**params, "offset": max(offset - limit, 0)})}>; rel="prev"')
    return links


@router.get("/entities/{entity_id:path}", summary="Retrieve one entity")
def retrieve_entity(
    entity_id: str,
    state: Annotated[HubState, Depends(hub_state)],
    type: Annotated[str | None, Query(description="If given, the entity's type must match")] = None,
    format: Annotated[str | None, Query(description="normalized, concise or keyValues")] = None,
    options: Annotated[str | None, Query(description="keyValues, concise, sysAttrs")] = None,
    accept: Annotated[str | None, Header()] = None,
    ngsild_tenant: Annotated[str | None, Header(alias="NGSILD-Tenant")] = None,
) -> Response:
    """One entity by id; 404 ResourceNotFound when it does not exist (in this tenant)."""
    if not is_absolute_uri(entity_id):
        raise BadRequestData(f"entity id {entity_id!r} is not an absolute URI")
    media, fmt = negotiate(accept), _format(format, options)
    tenant = _tenant(state, ngsild_tenant)
    with state.db.connect() as conn:
        stored = store.get_entity(conn, tenant=tenant, entity_id=entity_id)
    if stored is None or (type and f'"type":"{type}"' not in stored):
        raise ResourceNotFound(f"entity {entity_id!r} not found")
    body = render(stored, fmt, with_context=media == LD_JSON)
    return Response(body, media_type=media, headers=_headers(media, tenant))
