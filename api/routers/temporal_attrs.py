"""The attributes of a temporal entity (GS CIM 009 clauses 5.6.12 to 5.6.15):
``POST /ngsi-ld/v1/temporal/entities/{id}/attrs`` adds instances, ``DELETE …/attrs/{attrId}`` forgets those of one
datasetId (the default instance without one) or, with ``deleteAll=true``, every one; ``PATCH`` and ``DELETE
…/attrs/{attrId}/{instanceId}`` modify or forget one instance.

Included before ``api.routers.temporal``: its ``/entities/{entity_id:path}`` would take ``…/attrs/…`` for an id.
"""

from __future__ import annotations

from datetime import UTC, datetime
from typing import Annotated, Any

import orjson
from fastapi import APIRouter, Depends, Header, Query, Request
from fastapi.responses import Response
from sqlalchemy import Connection

from api.auth import check_id_space, ngsi_writer
from api.ld import LdContext
from api.ngsild_checks import deleted_instances
from api.ngsild_http import only_defined_parameters
from api.ngsild_openapi import (
    DELETE,
    DONE,
    INSTANCE_FRAGMENT,
    TEMPORAL_BODY_TYPES,
    TEMPORAL_FRAGMENT,
    WRITE,
    operation,
    request_body,
)
from api.state import HubState, hub_state
from api.temporal_read import kinds
from api.temporal_write import instance_fragment, json_object, merge_current, same_kinds, split_instances
from hub.auth import Principal
from hub.errors import BadRequestData, ResourceNotFound
from ngsi import store, temporal_edits
from ngsi import temporal as history
from schemas.ngsild import is_absolute_uri

router = APIRouter(
    prefix="/ngsi-ld/v1/temporal", tags=["NGSI-LD temporal"], dependencies=[Depends(only_defined_parameters)]
)
State = Annotated[HubState, Depends(hub_state)]
Writer = Annotated[Principal | None, Depends(ngsi_writer)]  # 401/403 before the body is read
Tenant = Annotated[str | None, Header(alias="NGSILD-Tenant")]


def _entity_id(entity_id: str) -> str:
    if not is_absolute_uri(entity_id):
        raise BadRequestData(f"entity id {entity_id!r} is not an absolute URI")
    return entity_id


@router.post(
    "/entities/{entity_id:path}/attrs",
    status_code=204,
    summary="Add attribute instances to the history of an entity",
    response_class=Response,
    responses={**DONE, **WRITE},
    openapi_extra=operation(request_body(TEMPORAL_FRAGMENT, TEMPORAL_BODY_TYPES)),
)
async def add_temporal_attrs(
    request: Request,
    state: State,
    writer: Writer,
    ld: LdContext,
    entity_id: str,
    ngsild_tenant: Tenant = None,
) -> Response:
    """The body is a fragment of a temporal entity: attributes, each one instance or an array of instances (each
    with its observedAt and datasetId). They join the history; the entity's current state takes, per datasetId,
    the added instance when it is not older than the stored one."""
    check_id_space(writer, _entity_id(entity_id), state.registry)
    attrs, rows, kinds_sent = split_instances(ld.entity_in(await json_object(request, "a temporal entity fragment")))
    if not attrs:
        raise BadRequestData("the fragment holds no attribute: nothing to add")
    tenant = ngsild_tenant or ""
    now = datetime.now(UTC)
    with state.db.begin() as conn:
        stored = store.get_entity(conn, tenant=tenant, entity_id=entity_id)
        if stored is None:
            raise ResourceNotFound(f"entity {entity_id!r} not found")
        same_kinds(stored, kinds_sent)
        entity: dict[str, Any] = orjson.loads(stored)
        for name, current in attrs.items():
            entity[name] = current if name == "scope" else merge_current(entity.get(name), current)
        store.upsert_entities(conn, [store.EntityWrite(tenant, entity, track=True)], now=now)
        for dataset, found in rows.items():
            history.add_instances(conn, tenant, entity_id, found, dataset_id=dataset, created=now.timestamp())
    return Response(status_code=204, headers={"NGSILD-Tenant": tenant} if tenant else {})


@router.delete(
    "/entities/{entity_id:path}/attrs/{attr}",
    status_code=204,
    summary="Delete the instances of an attribute from the history of an entity",
    response_class=Response,
    responses={**DONE, **DELETE},
    openapi_extra=operation(),
)
def delete_temporal_attr(
    state: State,
    writer: Writer,
    ld: LdContext,
    entity_id: str,
    attr: str,
    datasetId: Annotated[
        str | None, Query(description="The datasetId whose instances go (a URI, or @none: the default instance)")
    ] = None,
    deleteAll: Annotated[
        str | None, Query(description="true: the instances of every datasetId go (datasetId is then ignored)")
    ] = None,
    ngsild_tenant: Tenant = None,
) -> Response:
    """Only the history changes: the entity's current state is changed by ``DELETE /entities/{id}/attrs/{attr}``.
    404 when no instance matched (an unknown entity, attribute or datasetId)."""
    check_id_space(writer, _entity_id(entity_id), state.registry)
    dataset, everything = deleted_instances(datasetId, deleteAll, exclusive=False)
    name, tenant = ld.translation.to_stored(attr), ngsild_tenant or ""
    with state.db.begin() as conn:
        deleted = history.delete_attribute_history(
            conn, tenant, entity_id, name, dataset_id=dataset, everything=everything
        )
    if not deleted:
        which = "every datasetId" if everything else f"datasetId {dataset}" if dataset else "no datasetId"
        raise ResourceNotFound(f"entity {entity_id!r} has no history of attribute {attr!r} with {which}")
    return Response(status_code=204, headers={"NGSILD-Tenant": tenant} if tenant else {})


def _instance(
    conn: Connection, tenant: str, entity_id: str, names: tuple[str, str], instance: str
) -> temporal_edits.StoredInstance:
    """The stored instance ``instance`` names, of that attribute of that entity; else ResourceNotFound."""
    if not is_absolute_uri(instance):
        raise BadRequestData(f"instanceId {instance!r} is not an absolute URI")
    pk = temporal_edits.instance_pk(instance)
    found = None if pk is None else temporal_edits.find_instance(conn, tenant, entity_id, names[1], pk)
    if found is None:
        raise ResourceNotFound(f"entity {entity_id!r} has no instance {instance!r} of attribute {names[0]!r}")
    return found


@router.patch(
    "/entities/{entity_id:path}/attrs/{attr}/{instance_id}",
    status_code=204,
    summary="Modify one instance of an attribute in the history of an entity",
    response_class=Response,
    responses={**DONE, **WRITE},
    openapi_extra=operation(request_body(INSTANCE_FRAGMENT, TEMPORAL_BODY_TYPES)),
)
async def modify_temporal_instance(
    request: Request,
    state: State,
    writer: Writer,
    ld: LdContext,
    entity_id: str,
    attr: str,
    instance_id: str,
    ngsild_tenant: Tenant = None,
) -> Response:
    """Clause 5.6.14: the body (the instance, or ``{attrId: instance}``) replaces the instance's value, and its
    observedAt when it gives one; only the history changes. A datasetId, if given, must be the instance's."""
    check_id_space(writer, _entity_id(entity_id), state.registry)
    body = await json_object(request, "an attribute instance fragment")
    names, tenant = (attr, ld.translation.to_stored(attr)), ngsild_tenant or ""
    fragment = instance_fragment(body, names)
    with state.db.begin() as conn:
        found = _instance(conn, tenant, entity_id, names, instance_id)
        if fragment.dataset is not None and fragment.dataset != found.dataset_id:
            raise BadRequestData(
                f"datasetId {fragment.dataset!r} is not the instance's: an instance keeps its datasetId"
            )
        # the history is rendered with the attribute's current type (Property once it is gone), as read here
        stored = store.get_entity(conn, tenant=tenant, entity_id=entity_id)
        fragment.check_kind(attr, kinds(stored).get(names[1], "Property") if stored else "Property")
        temporal_edits.modify_instance(conn, found, fragment.value, fragment.observed)
    return Response(status_code=204, headers={"NGSILD-Tenant": tenant} if tenant else {})


@router.delete(
    "/entities/{entity_id:path}/attrs/{attr}/{instance_id}",
    status_code=204,
    summary="Delete one instance of an attribute from the history of an entity",
    response_class=Response,
    responses={**DONE, **DELETE},
    openapi_extra=operation(),
)
def delete_temporal_instance(
    state: State,
    writer: Writer,
    ld: LdContext,
    entity_id: str,
    attr: str,
    instance_id: str,
    ngsild_tenant: Tenant = None,
) -> Response:
    """Clause 5.6.15: the instance goes from the history (the entity's current state does not change)."""
    check_id_space(writer, _entity_id(entity_id), state.registry)
    names, tenant = (attr, ld.translation.to_stored(attr)), ngsild_tenant or ""
    with state.db.begin() as conn:
        temporal_edits.delete_instance(conn, _instance(conn, tenant, entity_id, names, instance_id))
    return Response(status_code=204, headers={"NGSILD-Tenant": tenant} if tenant else {})
