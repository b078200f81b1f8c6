"""NGSI-LD discovery endpoints: ``/types``, ``/types/{type}``, ``/attributes``, ``/attributes/{attr}`` and
``/info/sourceIdentity`` (GS CIM 009 clauses 5.7.5 to 5.7.10, 5.15)."""

from __future__ import annotations

import uuid
from datetime import UTC, datetime
from typing import Annotated, Any

import orjson
from fastapi import APIRouter, Depends, Query
from fastapi.responses import Response

from api.ngsild_http import JSON, LD_JSON, negotiate
from api.routers.ngsild import Accept, Tenant, _headers, _tenant
from api.state import HubState, hub_state
from hub import __version__
from hub.errors import ResourceNotFound
from ngsi import discovery
from ngsi.context import CORE_CONTEXT

router = APIRouter(prefix="/ngsi-ld/v1", tags=["NGSI-LD discovery"])
State = Annotated[HubState, Depends(hub_state)]
Details = Annotated[bool, Query(description="true: one detailed object per item instead of a list of names")]
RESPONSES: dict[int | str, dict[str, Any]] = {200: {"content": {JSON: {}, LD_JSON: {}}}}


def _respond(body: Any, accept: str | None, tenant: str | None) -> Response:
    media = negotiate(accept)
    if media == LD_JSON:
        body = (
            [{"@context": CORE_CONTEXT, **b} for b in body]
            if isinstance(body, list)
            else {
                "@context": CORE_CONTEXT,
                **body,
            }
        )
    return Response(orjson.dumps(body), media_type=media, headers=_headers(media, tenant))


def _attribute(stats: discovery.AttributeStats, *, details: bool) -> dict[str, Any]:
    body: dict[str, Any] = {"id": stats.name, "type": "Attribute", "attributeName": stats.name}
    if details:
        body["attributeCount"] = stats.count
        body["typeNames"] = sorted(stats.type_names)
    body["attributeTypes"] = sorted(stats.attribute_types)
    return body


@router.get("/types", summary="Available entity types", responses=RESPONSES)
def list_types(state: State, details: Details = False, accept: Accept = None, ngsild_tenant: Tenant = None) -> Response:
    """EntityTypeList ``{id, type, typeList}``; with ``details=true`` an array of EntityType with attributeNames."""
    tenant = _tenant(state, ngsild_tenant)
    with state.db.connect() as conn:
        counts = discovery.type_counts(conn, tenant=tenant)
        if not details:
            body: Any = {"id": discovery.list_id("EntityTypeList"), "type": "EntityTypeList", "typeList": list(counts)}
            return _respond(body, accept, tenant)
        names: dict[str, set[str]] = {t: set() for t in counts}
        for stats in discovery.attribute_stats(conn, tenant=tenant).values():
            for type_name in stats.type_names:
                names.setdefault(type_name, set()).add(stats.name)
    body = [
        {"id": t, "type": "EntityType", "typeName": t, "attributeNames": sorted(attrs)} for t, attrs in names.items()
    ]
    return _respond(body, accept, tenant)


@router.get("/types/{type_name:path}", summary="Details of one entity type", responses=RESPONSES)
def get_type(state: State, type_name: str, accept: Accept = None, ngsild_tenant: Tenant = None) -> Response:
    """EntityTypeInfo: entityCount and attributeDetails; 404 ResourceNotFound when no entity has this type."""
    tenant = _tenant(state, ngsild_tenant)
    with state.db.connect() as conn:
        count = discovery.type_counts(conn, tenant=tenant).get(type_name, 0)
        if not count:
            raise ResourceNotFound(f"no entity of type {type_name!r}")
        stats = discovery.attribute_stats(conn, tenant=tenant, type_name=type_name)
    body = {
        "id": type_name,
        "type": "EntityTypeInfo",
        "typeName": type_name,
        "entityCount": count,
        "attributeDetails": [_attribute(s, details=False) for s in stats.values()],
    }
    return _respond(body, accept, tenant)


@router.get("/attributes", summary="Available attributes", responses=RESPONSES)
def list_attributes(
    state: State, details: Details = False, accept: Accept = None, ngsild_tenant: Tenant = None
) -> Response:
    """AttributeList ``{id, type, attributeList}``; with ``details=true`` an array of Attribute."""
    tenant = _tenant(state, ngsild_tenant)
    with state.db.connect() as conn:
        stats = discovery.attribute_stats(conn, tenant=tenant)
    if details:
        return _respond([_attribute(s, details=True) for s in stats.values()], accept, tenant)
    body = {"id": discovery.list_id("AttributeList"), "type": "AttributeList", "attributeList": list(stats)}
    return _respond(body, accept, tenant)


@router.get("/attributes/{attr:path}", summary="Details of one attribute", responses=RESPONSES)
def get_attribute(state: State, attr: str, accept: Accept = None, ngsild_tenant: Tenant = None) -> Response:
    """Attribute: attributeCount, attributeTypes, typeNames; 404 ResourceNotFound when no entity has it."""
    tenant = _tenant(state, ngsild_tenant)
    with state.db.connect() as conn:
        stats = discovery.attribute_stats(conn, tenant=tenant, attr=attr).get(attr)
    if stats is None:
        raise ResourceNotFound(f"no entity has an attribute {attr!r}")
    return _respond(_attribute(stats, details=True), accept, tenant)


@router.get("/info/sourceIdentity", summary="This hub's identity as a context source", responses=RESPONSES)
def source_identity(state: State, accept: Accept = None) -> Response:
    """ContextSourceIdentity: the alias other brokers see, the up-time and the current time (loop detection)."""
    now = datetime.now(UTC)
    body = {
        "id": f"urn:ngsi-ld:ContextSource:{uuid.uuid5(uuid.NAMESPACE_URL, state.settings.base_url)}",
        "type": "ContextSourceIdentity",
        "contextSourceExtras": {"software": "Nordhub", "version": __version__},
        "contextSourceAlias": state.settings.base_url,
        "contextSourceUpTime": _duration((now - state.started).total_seconds()),
        "contextSourceTimeAt": now.isoformat(timespec="milliseconds").replace("+00:00", "Z"),
    }
    return _respond(body, accept, None)


def _duration(seconds: float) -> str:
    """An ISO 8601 duration such as P1DT2H3M4S."""
    whole = int(seconds)
    days, rest = divmod(whole, 86400)
    hours, rest = divmod(rest, 3600)
    minutes, secs = divmod(rest, 60)
    return f"P{days}DT{hours}H{minutes}M{secs}S" if days else f"PT{hours}H{minutes}M{secs}S"
