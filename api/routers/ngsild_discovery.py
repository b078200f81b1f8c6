"""NGSI-LD discovery endpoints: ``/types``, ``/types/{type}``, ``/attributes``, ``/attributes/{attr}`` and
``/info/sourceIdentity`` (GS CIM 009 clauses 5.7.5 to 5.7.10, 5.15)."""

from __future__ import annotations

import uuid
from dataclasses import dataclass
from datetime import UTC, datetime
from typing import Annotated, Any

import orjson
from fastapi import APIRouter, Depends, Query, Request
from fastapi.responses import Response

from api.ld import LdContext, LdRequest
from api.ngsild_http import JSON, JSON_MEDIA, LD_JSON, negotiate
from api.ngsild_openapi import READ, operation
from api.problems import problem_responses
from api.routers.ngsild import Accept, Tenant, _headers, _tenant
from api.state import HubState, hub_state
from hub import __version__
from hub.errors import InvalidRequest, ResourceNotFound
from ngsi import discovery, projection
from ngsi.context import CORE_CONTEXT

router = APIRouter(prefix="/ngsi-ld/v1", tags=["NGSI-LD discovery"])
State = Annotated[HubState, Depends(hub_state)]
Details = Annotated[bool, Query(description="true: one detailed object per item instead of a list of names")]
Local = Annotated[bool, Query(description="Only this hub's own data (always so: no context sources yet)")]
LISTS = ("details", "local")  # the query parameters GET /types and GET /attributes define (6.3.20)
ONE = ("local",)  # those of GET /types/{type} and GET /attributes/{attr}
ANSWERS: dict[int | str, dict[str, Any]] = {200: {"content": {JSON: {}, LD_JSON: {}}}}
RESPONSES = {**ANSWERS, **READ}


@dataclass(frozen=True, slots=True)
class DiscoveryRequest:
    """What the four type and attribute routes read alike: the hub, the request's @context, the query string,
    ``local``, ``Accept`` and ``NGSILD-Tenant`` (one parameter list, so that they cannot drift apart)."""

    state: HubState
    ld: LdRequest
    request: Request
    accept: str | None
    tenant_header: str | None

    def tenant(self, allowed: tuple[str, ...]) -> str | None:
        """The tenant whose entities answer: the ``NGSILD-Tenant`` given, else None — every city, the federated
        view that entity queries without the header give too (the hub's rule for a request without a tenant; a
        hub whose only entities are the default tenant's answers exactly those, as ETSI 022 to 026 expect). A
        query parameter the operation does not define is a 400 InvalidRequest (6.3.20; ETSI 577_01_02,
        5710_01_03)."""
        unknown = sorted(set(self.request.query_params) - set(allowed))
        if unknown:
            defined = ", ".join(allowed) or "none"
            raise InvalidRequest(f"query parameter {unknown[0]!r} is not defined here (defined: {defined})")
        return _tenant(self.state, self.tenant_header)

    def respond(self, body: Any, tenant: str | None) -> Response:
        return _respond(body, self.accept, tenant, self.ld)


def _discovery_request(
    state: State,
    ld: LdContext,
    request: Request,
    local: Local = False,
    accept: Accept = None,
    ngsild_tenant: Tenant = None,
) -> DiscoveryRequest:
    """FastAPI dependency: the parameters every type and attribute route declares. ``local`` is declared (so that
    it is documented and accepted) but not read: this hub holds its own data only."""
    return DiscoveryRequest(state, ld, request, accept, ngsild_tenant)


Discovery = Annotated[DiscoveryRequest, Depends(_discovery_request)]


def _respond(body: Any, accept: str | None, tenant: str | None, ld: LdRequest | None = None) -> Response:
    media = negotiate(accept, JSON_MEDIA)
    if media == LD_JSON:
        context = CORE_CONTEXT if ld is None else ld.body_context()
        body = [{"@context": context, **b} for b in body] if isinstance(body, list) else {"@context": context, **body}
    return Response(
        orjson.dumps(body), media_type=media, headers=_headers(media, tenant, None if ld is None else ld.link())
    )


def _iri(ld: LdRequest, stored: str) -> str:
    """The ``id`` of a type or attribute: its full IRI (its stored name when no @context was sent)."""
    return stored if ld.translation.identity else ld.translation.default.expand(stored) or stored


def _attribute(
    stats: discovery.AttributeStats, ld: LdRequest, *, count: bool, types: bool, typed: bool
) -> dict[str, Any]:
    """An Attribute (5.2.28) with the members each operation gives, as the ETSI suite expects them: its details in
    EntityTypeInfo carry attributeTypes (024), the details=true list typeNames (026), the attribute's own
    information all three with attributeCount (027)."""
    name = ld.translation.to_client
    body: dict[str, Any] = {"id": _iri(ld, stats.name), "type": "Attribute", "attributeName": name(stats.name)}
    if count:
        body["attributeCount"] = stats.count
    if typed:
        body["typeNames"] = sorted(name(t) for t in stats.type_names)
    if types:
        body["attributeTypes"] = sorted(stats.attribute_types)
    return body


@router.get("/types", summary="Available entity types", responses=RESPONSES, openapi_extra=operation())
def list_types(asked: Discovery, details: Details = False) -> Response:
    """EntityTypeList ``{id, type, typeList}``; with ``details=true`` an array of EntityType with attributeNames.
    Names are in the terms of the request's @context (Link header), as everywhere in the NGSI-LD API."""
    state, ld = asked.state, asked.ld
    tenant, name = asked.tenant(LISTS), ld.translation.to_client
    projection.ensure_current(state.db)  # the statistics reflect every committed write
    with state.db.connect() as conn:
        counts = discovery.type_counts(conn, tenant=tenant)
        if not details:
            types = [name(t) for t in counts]
            body: Any = {"id": discovery.list_id("EntityTypeList"), "type": "EntityTypeList", "typeList": types}
            return asked.respond(body, tenant)
        names: dict[str, set[str]] = {t: set() for t in counts}
        for stats in discovery.attribute_stats(conn, tenant=tenant).values():
            for type_name in stats.type_names:
                names.setdefault(type_name, set()).add(stats.name)
    body = [
        {"id": _iri(ld, t), "type": "EntityType", "typeName": name(t), "attributeNames": sorted(map(name, attrs))}
        for t, attrs in names.items()
    ]
    return asked.respond(body, tenant)


@router.get(
    "/types/{type_name:path}", summary="Details of one entity type", responses=RESPONSES, openapi_extra=operation()
)
def get_type(asked: Discovery, type_name: str) -> Response:
    """EntityTypeInfo: entityCount and attributeDetails; 404 ResourceNotFound when no entity has this type.
    The type is a term of the request's @context or a full IRI."""
    state, ld = asked.state, asked.ld
    tenant, stored = asked.tenant(ONE), ld.translation.to_stored(type_name)
    projection.ensure_current(state.db)  # the statistics reflect every committed write
    with state.db.connect() as conn:
        count = discovery.type_counts(conn, tenant=tenant).get(stored, 0)
        if not count:
            raise ResourceNotFound(f"no entity of type {type_name!r}")
        stats = discovery.attribute_stats(conn, tenant=tenant, type_name=stored)
    body = {
        "id": _iri(ld, stored),
        "type": "EntityTypeInfo",
        "typeName": ld.translation.to_client(stored),
        "entityCount": count,
        "attributeDetails": [_attribute(s, ld, count=False, types=True, typed=False) for s in stats.values()],
    }
    return asked.respond(body, tenant)


@router.get("/attributes", summary="Available attributes", responses=RESPONSES, openapi_extra=operation())
def list_attributes(asked: Discovery, details: Details = False) -> Response:
    """AttributeList ``{id, type, attributeList}``; with ``details=true`` an array of Attribute."""
    state, ld = asked.state, asked.ld
    tenant = asked.tenant(LISTS)
    projection.ensure_current(state.db)  # the statistics reflect every committed write
    with state.db.connect() as conn:
        stats = discovery.attribute_stats(conn, tenant=tenant)
    if details:
        listed = [_attribute(s, ld, count=False, types=False, typed=True) for s in stats.values()]
        return asked.respond(listed, tenant)
    names = [ld.translation.to_client(a) for a in stats]
    body = {"id": discovery.list_id("AttributeList"), "type": "AttributeList", "attributeList": names}
    return asked.respond(body, tenant)


@router.get(
    "/attributes/{attr:path}", summary="Details of one attribute", responses=RESPONSES, openapi_extra=operation()
)
def get_attribute(asked: Discovery, attr: str) -> Response:
    """Attribute: attributeCount, attributeTypes, typeNames; 404 ResourceNotFound when no entity has it.
    The attribute is a term of the request's @context or a full IRI."""
    state, ld = asked.state, asked.ld
    tenant, stored = asked.tenant(ONE), ld.translation.to_stored(attr)
    projection.ensure_current(state.db)  # the statistics reflect every committed write
    with state.db.connect() as conn:
        stats = discovery.attribute_stats(conn, tenant=tenant, attr=stored).get(stored)
    if stats is None:
        raise ResourceNotFound(f"no entity has an attribute {attr!r}")
    return asked.respond(_attribute(stats, ld, count=True, types=True, typed=True), tenant)


@router.get(
    "/info/sourceIdentity",
    summary="This hub's identity as a context source",
    responses={**ANSWERS, **problem_responses(400, 406, 413, 414, 429)},  # no @context, tenant or entity is read
)
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
