"""NGSI-LD temporal API: ``/ngsi-ld/v1/temporal/entities`` — history, lastN, and aggregation in the database."""

from __future__ import annotations

from dataclasses import replace
from datetime import UTC, datetime
from typing import Annotated

import orjson
from fastapi import APIRouter, Depends, Header, Query, Request
from fastapi.responses import Response

from api.auth import check_id_space, ngsi_writer
from api.ld import LdContext
from api.ngsild_checks import narrow_enough, not_yet
from api.ngsild_http import JSON_MEDIA, location, negotiate, only_defined_parameters
from api.ngsild_linked import no_linked_q
from api.ngsild_openapi import (
    CREATE_HISTORY,
    DELETE,
    HISTORY,
    READ,
    TEMPORAL_BODY_TYPES,
    TEMPORAL_ENTITY,
    operation,
    request_body,
)
from api.ngsild_query_body import geo_as_stored, ordering_as_stored
from api.routers.ngsild import _tenant
from api.state import HubState, hub_state
from api.temporal_read import (
    Accept,
    AggrMethods,
    AggrPeriod,
    Count,
    DatasetId,
    Format,
    LastN,
    Limit,
    Offset,
    Omit,
    Options,
    Pick,
    Tenant,
    TimeProperty,
    aggregation_period,
    build_query,
    kinds,
    picked_attributes,
    project,
    render_history,
    representation,
    requested_shape,
    respond,
    split,
    wants_sys_attrs,
)
from api.temporal_write import json_object, merge_current, same_kinds, split_instances, temporal_entity
from hub.auth import Principal
from hub.errors import (
    BadRequestData,
    ResourceNotFound,
)
from ngsi import store
from ngsi import temporal as history
from ngsi.geo import parse_geo_query
from ngsi.ordering import parse_ordering
from ngsi.q import parse_q
from ngsi.query import EntityQuery, Selector
from schemas.ngsild import is_absolute_uri

router = APIRouter(
    prefix="/ngsi-ld/v1/temporal", tags=["NGSI-LD temporal"], dependencies=[Depends(only_defined_parameters)]
)
State = Annotated[HubState, Depends(hub_state)]
Writer = Annotated[Principal | None, Depends(ngsi_writer)]  # 401/403 before the body is read


@router.get(
    "/entities",
    summary="Query the history of entities (temporal values, lastN, aggregation)",
    responses={**HISTORY, **READ},
    openapi_extra=operation(),
)
def query_temporal(
    state: State,
    ld: LdContext,
    type: Annotated[
        str | None, Query(description="Entity types: A,B (any of), (A;B) or A;B (both), * (any type)")
    ] = None,
    id: Annotated[str | None, Query(description="Entity ids, comma-separated")] = None,
    attrs: Annotated[str | None, Query(description="Attributes, comma-separated")] = None,
    idPattern: Annotated[str | None, Query(description="Regular expression the entity id matches")] = None,
    q: Annotated[str | None, Query(description="q filter on the entities' current values")] = None,
    scopeQ: Annotated[str | None, Query(description="Scope query, e.g. /Nordic/NO/#")] = None,
    georel: Annotated[str | None, Query(description="Geo-query relation, e.g. near;maxDistance==500")] = None,
    geometry: Annotated[str | None, Query(description="Geo-query geometry: Point, Polygon, …")] = None,
    coordinates: Annotated[str | None, Query(description="Geo-query coordinates (JSON)")] = None,
    geoproperty: Annotated[str | None, Query(description="GeoProperty the geo-query reads (location)")] = None,
    local: Annotated[
        bool, Query(description="true: only the hub's own entities (all of them: it federates no context sources)")
    ] = False,
    pick: Pick = None,
    omit: Omit = None,
    timerel: Annotated[str | None, Query(description="before, after or between")] = None,
    timeAt: Annotated[str | None, Query(description="RFC 3339 instant")] = None,
    endTimeAt: Annotated[str | None, Query(description="RFC 3339 instant (between)")] = None,
    timeproperty: TimeProperty = None,
    datasetId: DatasetId = None,
    lastN: LastN = None,
    format: Format = None,
    options: Options = None,
    aggrMethods: AggrMethods = None,
    aggrPeriodDuration: AggrPeriod = None,
    limit: Limit = 20,
    offset: Offset = 0,
    count: Count = False,
    orderBy: Annotated[
        str | None,
        Query(
            description="Order of the entities, on their current state, as GET /entities orders them: comma list of "
            "id, type, scope, createdAt, modifiedAt or attribute paths (a, a.sub, a[key], a.createdAt), each with "
            ";asc (default) or ;desc, or a GeoProperty with ;dist-asc / ;dist-desc (from orderFrom); id breaks ties"
        ),
    ] = None,
    collation: Annotated[
        str | None, Query(description="How orderBy compares strings: none = codepoint order; und = Unicode root")
    ] = None,
    orderFrom: Annotated[
        str | None, Query(description="With orderBy …;dist-asc|dist-desc: the point distances are measured from")
    ] = None,
    orderGeometry: Annotated[str | None, Query(description="The type of orderFrom's geometry: Point")] = None,
    csf: Annotated[str | None, Query(description="Context source filter: checked, no context sources here")] = None,
    accept: Accept = None,
    ngsild_tenant: Tenant = None,
) -> Response:
    """Every matching entity with the instances (or aggregates) of its attributes in the window; ``idPattern``,
    ``q``, ``scopeQ`` and a geo-query select the entities on their current state, as ``GET /entities`` does."""
    ids, types, expression = split(id), split(type), None
    if type is not None and any(c in type for c in "*;()|"):
        # A type expression beyond a comma list of names: ``*`` is any type, ``(A;B)`` / ``A;B`` an entity of both
        # types, read from the entities' current state as GET /entities reads it (plain lists also select entities
        # deleted through the API by their recorded type).
        types, expression = [], None if type.strip() == "*" else ld.type_expression(type)
    geo = parse_geo_query(georel, geometry, coordinates, geoproperty)
    # 5.7.4.4 as 5.7.2.4: ids or an idPattern alone are too wide (ETSI 021_24); a malformed q is refused here
    parsed = parse_q(q) if q else None
    narrow_enough(types=type, attrs=split(attrs), q=parsed, scope_q=scopeQ, geo=geo is not None, local=local)
    if any(not is_absolute_uri(i) for i in ids):
        raise BadRequestData("every id must be an absolute URI")
    no_linked_q(q)
    not_yet({"csf": csf} if csf is not None else {})  # malformed: 400 (ETSI 5741_01_05); well formed: 422
    selection = None
    if idPattern or q or scopeQ or geo or expression:
        selector = Selector(types=expression, id_pattern=idPattern)
        selection = EntityQuery((selector,), (), ld.q(q), scopeQ, geo_as_stored(geo, ld))
    shape = requested_shape(attrs, pick, omit)
    media = negotiate(accept, JSON_MEDIA)
    mode, methods = representation(format, options, aggrMethods)
    params = {
        "ids": ids,
        "types": ld.names(types),
        "attrs": ld.names(split(attrs) or picked_attributes(shape)),
        "timerel": timerel,
        "timeAt": timeAt,
        "endTimeAt": endTimeAt,
        "timeproperty": timeproperty,
        "datasetId": datasetId,
        "lastN": lastN,
        "limit": limit,
        "offset": offset,
        "ordering": ordering_as_stored(parse_ordering(orderBy, collation, orderFrom, orderGeometry), ld),
    }
    query = replace(build_query(state, ngsild_tenant, params), with_history=True)
    period = aggregation_period(aggrPeriodDuration)
    # Entities without an instance in the window are not part of a query's answer (ETSI 021_13).
    rendered = render_history(state, query, mode, methods, period, selection, sys_attrs=wants_sys_attrs(options))
    extra = {"NGSILD-Results-Count": str(rendered.total)} if count else {}
    return respond(rendered.entities, media, query.tenant, ld, extra, shape, content_range=rendered.content_range)


@router.get(
    "/entities/{entity_id:path}",
    summary="The history of one entity",
    responses={**HISTORY, **READ},
    openapi_extra=operation(),
)
def retrieve_temporal(
    state: State,
    ld: LdContext,
    entity_id: str,
    attrs: Annotated[str | None, Query()] = None,
    pick: Pick = None,
    omit: Omit = None,
    timerel: Annotated[str | None, Query()] = None,
    timeAt: Annotated[str | None, Query()] = None,
    endTimeAt: Annotated[str | None, Query()] = None,
    timeproperty: TimeProperty = None,
    datasetId: DatasetId = None,
    lastN: LastN = None,
    format: Format = None,
    options: Options = None,
    aggrMethods: AggrMethods = None,
    aggrPeriodDuration: AggrPeriod = None,
    accept: Accept = None,
    ngsild_tenant: Tenant = None,
) -> Response:
    if not is_absolute_uri(entity_id):
        raise BadRequestData(f"entity id {entity_id!r} is not an absolute URI")
    shape = requested_shape(attrs, pick, omit)
    media = negotiate(accept, JSON_MEDIA)
    mode, methods = representation(format, options, aggrMethods)
    params = {
        "ids": [entity_id],
        "types": [],
        "attrs": ld.names(split(attrs)),
        "timerel": timerel,
        "timeAt": timeAt,
        "endTimeAt": endTimeAt,
        "timeproperty": timeproperty,
        "datasetId": datasetId,
        "lastN": lastN,
        "limit": 1,
        "offset": 0,
    }
    q = build_query(state, ngsild_tenant, params)
    _require_requested_attributes(state, q, entity_id)
    period = aggregation_period(aggrPeriodDuration)
    rendered = render_history(state, q, mode, methods, period, sys_attrs=wants_sys_attrs(options))
    body = rendered.entities
    if not body:
        raise ResourceNotFound(f"entity {entity_id!r} not found")
    if (shape.pick or shape.omit) and not project(ld.translation.entity_out(body[0]), shape):
        raise ResourceNotFound(f"entity {entity_id!r}: nothing is left after pick/omit (ETSI 020_23)")
    return respond(body[0], media, q.tenant, ld, shape=shape, content_range=rendered.content_range)


def _require_requested_attributes(state: HubState, q: history.TemporalQuery, entity_id: str) -> None:
    """5.7.3: asking only for attributes the entity does not have is ResourceNotFound, not an empty history.

    An attribute the entity has but with no instance in the time window is not an error; an unknown entity is
    left to the not-found answer of the retrieval itself.
    """
    if not q.attrs or q.deleted:  # a deleted attribute is no longer in the entity, but its deletion is history
        return
    with state.db.connect() as conn:
        stored = store.get_entity(conn, tenant=q.tenant, entity_id=entity_id)
    if stored is not None and not any(attr in kinds(stored) for attr in q.attrs):
        raise ResourceNotFound(f"entity {entity_id!r} has none of the attributes {', '.join(q.attrs)}")


@router.post(
    "/entities",
    status_code=201,
    summary="Create or extend the history of an entity",
    response_class=Response,
    responses={
        201: {"description": "Created; Location names its history"},
        204: {"description": "The history of an existing entity extended"},
        **CREATE_HISTORY,
    },
    openapi_extra=operation(request_body(TEMPORAL_ENTITY, TEMPORAL_BODY_TYPES)),
)
async def create_temporal(
    request: Request,
    state: State,
    writer: Writer,
    ld: LdContext,
    ngsild_tenant: Annotated[str | None, Header(alias="NGSILD-Tenant")] = None,
) -> Response:
    """201 when the entity is new, 204 when instances were added to an existing one."""
    body = temporal_entity(ld.entity_in(await json_object(request, "a temporal entity")))
    attrs, rows, kinds_sent = split_instances(body)
    current = {"id": body["id"], "type": body["type"], **attrs}
    check_id_space(writer, body["id"], state.registry)
    tenant = ngsild_tenant or ""
    now = datetime.now(UTC)
    with state.db.begin() as conn:
        stored = store.get_entity(conn, tenant=tenant, entity_id=body["id"])
        existed = stored is not None
        if stored is not None:  # instances are added: the attributes the body does not name stay
            same_kinds(stored, kinds_sent)
            current = orjson.loads(stored)
            for name, value in attrs.items():
                current[name] = value if name == "scope" else merge_current(current.get(name), value)
        store.upsert_entities(conn, [store.EntityWrite(tenant, current, track=True)], now=now)
        for dataset, found in rows.items():
            history.add_instances(conn, tenant, body["id"], found, dataset_id=dataset, created=now.timestamp())
    headers = {"Location": location("/ngsi-ld/v1/temporal/entities/", body["id"])}
    if tenant:
        headers["NGSILD-Tenant"] = tenant
    return Response(status_code=204 if existed else 201, headers=headers)


@router.delete(
    "/entities/{entity_id:path}",
    status_code=204,
    summary="Delete an entity and its history",
    responses={204: {"description": "Done"}, **DELETE},
    openapi_extra=operation(),
)
def delete_temporal(
    state: State,
    writer: Writer,
    entity_id: str,
    ngsild_tenant: Annotated[str | None, Header(alias="NGSILD-Tenant")] = None,
) -> Response:
    if not is_absolute_uri(entity_id):
        raise BadRequestData(f"entity id {entity_id!r} is not an absolute URI")
    check_id_space(writer, entity_id, state.registry)
    tenant = _tenant(state, ngsild_tenant)
    with state.db.begin() as conn:
        deleted = store.delete_entity(conn, tenant=tenant, entity_id=entity_id)
        deleted += history.delete_history(conn, tenant, entity_id)  # an entity deleted before: only its history
    if not deleted:
        raise ResourceNotFound(f"entity {entity_id!r} not found")
    return Response(status_code=204)
