"""NGSI-LD provision: create, replace, merge, delete entities and attributes, one by one or in batches.

Harvested entities are written by the harvester through the same store functions; these endpoints are how other
systems (and the ETSI conformance suite's set-up) write. Attribute routes are declared before entity routes: entity
ids are matched with ``:path`` (URIs may hold slashes), which would otherwise swallow ``…/attrs/{attr}``.
"""

from __future__ import annotations

from datetime import UTC, datetime
from typing import Annotated, Any

import orjson
from fastapi import APIRouter, Depends, Header, Path, Query, Request
from fastapi.responses import Response
from sqlalchemy import Connection

from api.auth import check_id_space, ngsi_writer
from api.ld import LdContext, LdRequest
from api.ngsild_checks import deleted_instances
from api.ngsild_http import json_body, location, only_defined_parameters
from api.ngsild_openapi import (
    ATTRIBUTE_INSTANCE,
    ATTRS_DONE,
    BATCH_DONE,
    BATCH_OPERATIONS,
    CREATE,
    CREATED,
    DELETE,
    DONE,
    ENTITY,
    ENTITY_FRAGMENT,
    WRITE,
    batch_array,
    operation,
    request_body,
)
from api.state import HubState, hub_state
from hub.auth import Principal
from hub.errors import (
    AlreadyExists,
    BadRequestData,
    Forbidden,
    NgsiLdError,
    ResourceNotFound,
)
from ngsi import provision, store
from ngsi import temporal_deletions as deletions
from schemas.ngsild import is_absolute_uri


async def _remember_context(request: Request, ld: LdContext) -> None:
    request.state.ld = ld  # every route's body and attribute names are translated with the request's @context


# Each route declares its own answers (api.ngsild_openapi), so that clients (and the fuzz test) hold the
# responses to them: 201 (Location) or 204 without a body, 207 with an UpdateResult, batch 201/207 with JSON.
router = APIRouter(
    prefix="/ngsi-ld/v1",
    tags=["NGSI-LD provision"],
    default_response_class=Response,
    dependencies=[Depends(_remember_context), Depends(only_defined_parameters)],
)
State = Annotated[HubState, Depends(hub_state)]
Tenant = Annotated[str | None, Header(alias="NGSILD-Tenant", max_length=64)]  # ngsi_entities.tenant
# Every write names its writer: the dependency refuses missing or foreign keys (401/403) before any lookup.
Writer = Annotated[Principal | None, Depends(ngsi_writer)]
MAX_BATCH = 1000


async def _body(request: Request) -> Any:
    return _ld(request).entity_in(await json_body(request))


def _ld(request: Request) -> LdRequest:
    ld: LdRequest = request.state.ld
    return ld


async def _object(request: Request) -> dict[str, Any]:
    body = await _body(request)
    if not isinstance(body, dict):
        raise BadRequestData("the body must be a JSON object")
    return body


def _id(entity_id: str) -> str:
    if not is_absolute_uri(entity_id):
        raise BadRequestData(f"entity id {entity_id!r} is not an absolute URI")
    return entity_id


def _own(state: HubState, writer: Principal | None, entity_id: str) -> str:
    """The entity id, once it is known to be absolute and not in another city's id space."""
    check_id_space(writer, _id(entity_id), state.registry)
    return entity_id


def _load(conn: Connection, tenant: str, entity_id: str) -> dict[str, Any]:
    stored = store.get_entity(conn, tenant=tenant, entity_id=entity_id)
    if stored is None:
        raise ResourceNotFound(f"entity {entity_id!r} not found")
    entity: dict[str, Any] = orjson.loads(stored)
    return entity


def _save(conn: Connection, tenant: str, entity: dict[str, Any], before: dict[str, Any] | None = None) -> None:
    """Store the entity; the attribute instances of ``before`` (the stored entity) it no longer holds are kept in
    its history as deleted (timeproperty=deletedAt), whichever write dropped them."""
    now = datetime.now(UTC)
    write = store.EntityWrite(tenant, provision.checked(entity), track=True)
    store.upsert_entities(conn, [write], now=now)
    if before is not None:
        deletions.record_deletions(conn, tenant, entity["id"], deletions.removed_instances(before, entity), at=now)


def _headers(tenant: str) -> dict[str, str]:
    return {"NGSILD-Tenant": tenant} if tenant else {}


def _partial(request: Request, updated: list[str], not_updated: list[str], reason: str, tenant: str) -> Response:
    if not not_updated:
        return Response(status_code=204, headers=_headers(tenant))
    name = _ld(request).translation.to_client  # the attribute names as the client wrote them
    updated, not_updated = [name(n) for n in updated], [name(n) for n in not_updated]
    body = {"updated": updated, "notUpdated": [{"attributeName": n, "reason": reason} for n in not_updated]}
    return Response(orjson.dumps(body), status_code=207, media_type="application/json", headers=_headers(tenant))


@router.post(
    "/entities/{entity_id:path}/attrs",
    status_code=204,
    summary="Append attributes (options=noOverwrite keeps existing)",
    responses={**ATTRS_DONE, **WRITE},
    openapi_extra=operation(request_body(ENTITY_FRAGMENT)),
)
async def append_attrs(
    request: Request,
    state: State,
    writer: Writer,
    entity_id: str,
    tenant: Tenant = None,
    options: str | None = None,
) -> Response:
    attrs, key = await _object(request), tenant or ""
    provision.same_entity(attrs, entity_id)
    with state.db.begin() as conn:
        stored = _load(conn, key, _own(state, writer, entity_id))
        merged, skipped = provision.append(stored, attrs, overwrite="noOverwrite" not in (options or ""))
        _save(conn, key, merged)
    done = [n for n in attrs if n not in skipped and n not in provision.ENTITY_MEMBERS]
    return _partial(request, done, skipped, "attribute exists and options=noOverwrite", key)


@router.patch(
    "/entities/{entity_id:path}/attrs",
    status_code=204,
    summary="Update existing attributes",
    responses={**ATTRS_DONE, **WRITE},
    openapi_extra=operation(request_body(ENTITY_FRAGMENT)),
)
async def update_attrs(
    request: Request, state: State, writer: Writer, entity_id: str, tenant: Tenant = None
) -> Response:
    attrs, key = await _object(request), tenant or ""
    provision.same_entity(attrs, entity_id)
    with state.db.begin() as conn:
        merged, missing = provision.update(_load(conn, key, _own(state, writer, entity_id)), attrs)
        _save(conn, key, merged)
    done = [n for n in attrs if n not in missing and n not in provision.ENTITY_MEMBERS]
    return _partial(request, done, missing, "attribute does not exist", key)


@router.patch(
    "/entities/{entity_id:path}/attrs/{attr}",
    status_code=204,
    summary="Partially update one attribute",
    responses={**DONE, **WRITE},
    openapi_extra=operation(request_body(ATTRIBUTE_INSTANCE)),
)
async def patch_attr(
    request: Request, state: State, writer: Writer, entity_id: str, attr: str, tenant: Tenant = None
) -> Response:
    fragment, key, attr = await _object(request), tenant or "", _ld(request).translation.to_stored(attr)
    with state.db.begin() as conn:
        entity = _load(conn, key, _own(state, writer, entity_id))
        if attr not in entity:
            raise ResourceNotFound(f"entity {entity_id!r} has no attribute {attr!r}")
        if provision.is_null(fragment):  # 5.6.4: NGSI-LD Null deletes the instance (of the fragment's datasetId)
            _delete_instance(conn, key, entity, attr, fragment.get("datasetId"), entity_id)
            return Response(status_code=204, headers=_headers(key))
        attribute = provision.patched(entity[attr], fragment, attr)
        if attribute is None:
            dataset = fragment.get("datasetId")
            which = f"datasetId {dataset!r}" if dataset else "a default instance (without datasetId)"
            raise ResourceNotFound(f"attribute {attr!r} of entity {entity_id!r} has no instance of {which}")
        entity[attr] = attribute
        _save(conn, key, entity)
    return Response(status_code=204, headers=_headers(key))


@router.delete(
    "/entities/{entity_id:path}/attrs/{attr}",
    status_code=204,
    summary="Delete one attribute",
    responses={**DONE, **DELETE},
    openapi_extra=operation(),
)
def delete_attr(
    request: Request,
    state: State,
    writer: Writer,
    entity_id: str,
    attr: str,
    datasetId: Annotated[
        str | None, Query(description="The instance of this datasetId goes (absent or @none: the default instance)")
    ] = None,
    deleteAll: Annotated[str | None, Query(description="true: every instance goes (not with datasetId)")] = None,
    tenant: Tenant = None,
) -> Response:
    """Clause 6.16.3.2: one instance of the attribute goes (the default one, or that of ``datasetId``), or all of
    them with ``deleteAll=true``; its history keeps the deletion (timeproperty=deletedAt)."""
    dataset, everything = deleted_instances(datasetId, deleteAll, exclusive=True)
    key, attr = tenant or "", _ld(request).translation.to_stored(attr)
    with state.db.begin() as conn:
        entity = _load(conn, key, _own(state, writer, entity_id))
        if entity.get(attr) is None:
            raise ResourceNotFound(f"entity {entity_id!r} has no attribute {attr!r}")
        _delete_instance(conn, key, entity, attr, dataset, entity_id, everything=everything)
    return Response(status_code=204, headers=_headers(key))


def _delete_instance(
    conn: Connection,
    key: str,
    entity: dict[str, Any],
    attr: str,
    dataset: str | None,
    entity_id: str,
    *,
    everything: bool = False,
) -> None:
    """Delete the attribute's instance of ``dataset`` (None: the default one), or every one; 404 when there is none.
    Its history keeps the deletion."""
    rest, gone = provision.without_instances(entity[attr], dataset, everything=everything)
    if not gone:
        which = f"datasetId {dataset!r}" if dataset else "a default instance (without datasetId)"
        raise ResourceNotFound(f"attribute {attr!r} of entity {entity_id!r} has no instance of {which}")
    before = dict(entity)
    if rest is None:
        del entity[attr]
    else:
        entity[attr] = rest
    _save(conn, key, entity, before)


@router.post(
    "/entities",
    status_code=201,
    summary="Create an entity",
    responses={**CREATED, **CREATE},
    openapi_extra=operation(request_body(ENTITY)),
)
async def create_entity(request: Request, state: State, writer: Writer, tenant: Tenant = None) -> Response:
    entity, key = provision.checked(provision.normalize_entity(await _object(request))), tenant or ""
    _own(state, writer, entity["id"])
    with state.db.begin() as conn:
        if store.get_entity(conn, tenant=key, entity_id=entity["id"]) is not None:
            raise AlreadyExists(f"entity {entity['id']!r} already exists")
        _save(conn, key, entity)
    headers = {"Location": location("/ngsi-ld/v1/entities/", entity["id"]), **_headers(key)}
    return Response(status_code=201, headers=headers)


@router.put(
    "/entities/{entity_id:path}",
    status_code=204,
    summary="Replace an entity",
    responses={**DONE, **WRITE},
    openapi_extra=operation(request_body({**ENTITY_FRAGMENT, "title": "Entity", "required": ["type"]})),
)
async def replace_entity(
    request: Request, state: State, writer: Writer, entity_id: str, tenant: Tenant = None
) -> Response:
    body, key = await _object(request), tenant or ""
    provision.same_entity({m: body[m] for m in ("id",) if m in body}, entity_id)  # the type may change
    entity = provision.normalize_entity({**body, "id": _own(state, writer, entity_id), "type": body.get("type")})
    with state.db.begin() as conn:
        _save(conn, key, entity, _load(conn, key, entity_id))  # the attributes the body leaves out are deleted
    return Response(status_code=204, headers=_headers(key))


@router.patch(
    "/entities/{entity_id:path}",
    status_code=204,
    summary="Merge into an entity (merge-patch)",
    responses={**DONE, **WRITE},
    openapi_extra=operation(request_body(ENTITY_FRAGMENT)),
)
async def merge_entity(
    request: Request, state: State, writer: Writer, entity_id: str, tenant: Tenant = None
) -> Response:
    patch, key = await _object(request), tenant or ""
    provision.same_entity(patch, entity_id)
    with state.db.begin() as conn:
        stored = _load(conn, key, _own(state, writer, entity_id))
        _save(conn, key, provision.merge(stored, patch), stored)  # urn:ngsi-ld:null deletes an attribute
    return Response(status_code=204, headers=_headers(key))


@router.delete(
    "/entities/{entity_id:path}",
    status_code=204,
    summary="Delete an entity",
    responses={**DONE, **DELETE},
    openapi_extra=operation(),
)
def delete_entity(state: State, writer: Writer, entity_id: str, tenant: Tenant = None) -> Response:
    key = tenant or ""
    with state.db.begin() as conn:
        _delete(conn, key, _own(state, writer, entity_id))
    return Response(status_code=204, headers=_headers(key))


def _delete(conn: Connection, key: str, entity_id: str) -> None:
    """Delete an entity, keeping its deletion in its history (timeproperty=deletedAt)."""
    stored = store.get_entity(conn, tenant=key, entity_id=entity_id)
    if stored is None or not store.delete_entity(conn, tenant=key, entity_id=entity_id):
        raise ResourceNotFound(f"entity {entity_id!r} not found")
    deletions.record_entity_deletion(conn, key, stored, at=datetime.now(UTC))


def _apply(conn: Connection, op: str, key: str, item: Any, options: str) -> bool:
    """One entity of a batch; returns True when it was created (False: updated or deleted)."""
    if op == "delete":
        if not isinstance(item, str):
            raise BadRequestData(f"an entity id (a string) expected, not {_json_kind(item)}")
        _delete(conn, key, _id(item))
        return False
    if not isinstance(item, dict):
        raise BadRequestData(f"each entity must be a JSON object, not {_json_kind(item)}")
    entity = provision.normalize_entity(item)
    stored = store.get_entity(conn, tenant=key, entity_id=_id(entity["id"]))
    if op == "create" and stored is not None:
        raise AlreadyExists(f"entity {entity['id']!r} already exists")
    if op in ("update", "merge") and stored is None:
        raise ResourceNotFound(f"entity {entity['id']!r} not found")
    before = None if stored is None else orjson.loads(stored)
    if before is not None and (op == "merge" or (op == "upsert" and "update" in options)):
        entity = provision.merge(before, item)
    elif before is not None and op == "update":
        entity, _missing = provision.append(before, item, overwrite="noOverwrite" not in options)
    _save(conn, key, entity, before)  # an upsert that replaces, or a merge's null, deletes attributes
    return stored is None


def _json_kind(value: Any) -> str:
    """What a JSON value is, for a detail (never a Python repr)."""
    if value is None:
        return "null"
    if isinstance(value, bool):
        return "a boolean"
    if isinstance(value, int | float):
        return "a number"
    if isinstance(value, str):
        return "a string"
    return "an array" if isinstance(value, list) else "an object"


def _error(at: int, entity: Any, exc: NgsiLdError | Forbidden) -> dict[str, Any]:
    """A 207 error entry; its detail starts with the item's position in the body (0-based, as a JSON pointer's),
    since an item without a usable id has no other name."""
    entity_id = entity if isinstance(entity, str) else entity.get("id") if isinstance(entity, dict) else None
    if not isinstance(entity_id, str):
        entity_id = None
    detail = f"item {at}: {exc.detail}"
    problem = {"type": exc.problem_type, "title": exc.title, "status": exc.status, "detail": detail}
    return {"entityId": entity_id, "error": problem}


@router.post(
    "/entityOperations/{operation}",
    status_code=201,
    summary="Batch create, upsert, update, merge or delete",
    responses={**BATCH_DONE, **WRITE},
    openapi_extra=operation(request_body(batch_array(MAX_BATCH))),
)
async def batch(
    request: Request,
    state: State,
    writer: Writer,
    operation: Annotated[
        str,
        Path(description="create, upsert, update, merge or delete", json_schema_extra={"enum": list(BATCH_OPERATIONS)}),
    ],
    tenant: Tenant = None,
    options: Annotated[str, Query(description="upsert: replace|update; update: noOverwrite")] = "",
) -> Response:
    """201/204 when every entity succeeded; 207 with ``{success, errors}`` otherwise."""
    if operation not in BATCH_OPERATIONS:
        raise ResourceNotFound(f"no batch operation {operation!r}: create, upsert, update, merge or delete")
    items, key = await _body(request), tenant or ""
    if not isinstance(items, list) or not items or len(items) > MAX_BATCH:
        sent = f"{len(items)} items" if isinstance(items, list) else _json_kind(items)
        raise BadRequestData(
            f"the body must be a JSON array of 1..{MAX_BATCH} entities (or ids, for delete); it is {sent}"
        )
    success: list[str] = []
    created: list[str] = []
    errors: list[dict[str, Any]] = []
    for at, item in enumerate(items):
        try:
            _batch_id_space(state, writer, item)
            with state.db.begin() as conn:
                was_created = _apply(conn, operation, key, item, options)
        except (NgsiLdError, Forbidden) as exc:
            errors.append(_error(at, item, exc))
            continue
        entity_id = item if isinstance(item, str) else item["id"]
        success.append(entity_id)
        if was_created:
            created.append(entity_id)
    return _batch_response(operation, success, created, errors, key)


def _batch_id_space(state: HubState, writer: Principal | None, item: Any) -> None:
    """An officer's batch entity naming another city's id space fails alone, before any lookup (207)."""
    entity_id = item if isinstance(item, str) else item.get("id") if isinstance(item, dict) else None
    if isinstance(entity_id, str):
        check_id_space(writer, entity_id, state.registry)


def _batch_response(
    op: str, success: list[str], created: list[str], errors: list[dict[str, Any]], key: str
) -> Response:
    headers = _headers(key)
    if errors:
        body = orjson.dumps({"success": success, "errors": errors})
        return Response(body, status_code=207, media_type="application/json", headers=headers)
    if op == "create" or (op == "upsert" and created):
        return Response(orjson.dumps(created), status_code=201, media_type="application/json", headers=headers)
    return Response(status_code=204, headers=headers)
