"""NGSI-LD temporal API: ``/ngsi-ld/v1/temporal/entities`` — history, lastN, and aggregation in the database."""

from __future__ import annotations

import re
from dataclasses import dataclass, replace
from datetime import UTC, datetime
from typing import Annotated, Any

import orjson
from fastapi import APIRouter, Depends, Header, Query, Request
from fastapi.responses import Response

from api.auth import check_id_space, ngsi_writer
from api.ld import LdContext, LdRequest
from api.limits import MAX_INTEGER
from api.ngsild_http import JSON, LD_JSON, negotiate
from api.routers.ngsild import _tenant
from api.state import HubState, hub_state
from hub.auth import Principal
from hub.errors import (
    BadRequestData,
    InvalidRequest,
    OperationNotSupported,
    ResourceNotFound,
    UnsupportedMediaType,
)
from ngsi import store
from ngsi import temporal as history
from ngsi.query import EntityQuery
from ngsi.query import conditions as query_conditions
from ngsi.shaping import Shape, parse_projection
from schemas.findings import Severity
from schemas.ngsild import check_geometry, is_absolute_uri

router = APIRouter(prefix="/ngsi-ld/v1/temporal", tags=["NGSI-LD temporal"])
State = Annotated[HubState, Depends(hub_state)]
Writer = Annotated[Principal | None, Depends(ngsi_writer)]  # 401/403 before the body is read
_DURATION = re.compile(
    r"^P(?:(?P<w>\d+)W)?(?:(?P<d>\d+)D)?(?:T(?:(?P<h>\d+)H)?(?:(?P<m>\d+)M)?(?:(?P<s>\d+(?:\.\d+)?)S)?)?$"
)
MAX_LIMIT = 1000


def parse_duration(text: str) -> float:
    """Seconds of an ISO 8601 duration in weeks, days, hours, minutes, seconds (years and months vary in length)."""
    match = _DURATION.match(text)
    if not match or text in ("P", "PT"):
        raise BadRequestData(
            f"aggrPeriodDuration {text!r} is not an ISO 8601 duration such as PT1H or P1D "
            "(years and months are not supported: their length varies)"
        )
    parts = {k: float(v) for k, v in match.groupdict().items() if v}
    seconds = parts.get("w", 0) * 604800 + parts.get("d", 0) * 86400 + parts.get("h", 0) * 3600
    seconds += parts.get("m", 0) * 60 + parts.get("s", 0)
    if seconds <= 0:
        raise BadRequestData(f"aggrPeriodDuration {text!r} must be longer than zero")
    return seconds


def _instant(name: str, value: str | None) -> float | None:
    if value is None:
        return None
    try:
        moment = datetime.fromisoformat(value.replace("Z", "+00:00"))
    except ValueError:
        raise BadRequestData(f"{name} {value!r} is not an RFC 3339 date-time") from None
    if moment.tzinfo is None:
        raise BadRequestData(f"{name} {value!r} has no time zone")
    return moment.timestamp()


def _query(state: HubState, tenant: str | None, params: dict[str, Any]) -> history.TemporalQuery:
    timerel = params["timerel"]
    if timerel is not None:
        try:
            rel = history.TimeRel(timerel)
        except ValueError:
            raise BadRequestData(f"timerel {timerel!r}: use before, after or between") from None
        if params["timeAt"] is None:
            raise BadRequestData("timerel needs timeAt")
        if rel is history.TimeRel.BETWEEN and params["endTimeAt"] is None:
            raise BadRequestData("timerel=between needs endTimeAt")
    else:
        rel = None
    if params["timeproperty"] not in (None, "observedAt", "deletedAt"):
        raise OperationNotSupported("this hub's history keeps timeproperty=observedAt and deletedAt only")
    if not 1 <= params["limit"] <= MAX_LIMIT:
        raise BadRequestData(f"limit must be 1..{MAX_LIMIT}")
    if params["lastN"] is not None and params["lastN"] < 1:
        raise BadRequestData("lastN must be a positive integer")
    return history.TemporalQuery(
        tenant=_tenant(state, tenant),
        entity_ids=params["ids"],
        types=params["types"],
        attrs=params["attrs"],
        timerel=rel,
        time_at=_instant("timeAt", params["timeAt"]),
        end_time_at=_instant("endTimeAt", params["endTimeAt"]),
        last_n=params["lastN"],
        limit=params["limit"],
        offset=params["offset"],
        max_instances=state.settings.temporal_max_instances,
        deleted=params["timeproperty"] == "deletedAt",
    )


TEMPORAL_FORMATS = ("normalized", "temporalValues", "aggregatedValues")
TEMPORAL_OPTIONS = (*TEMPORAL_FORMATS, "sysAttrs")


def _mode(fmt: str | None, options: str | None, methods: str | None) -> tuple[str, list[str]]:
    """The representation asked for: ``format`` wins over ``options`` (6.3.12); an unknown value is InvalidRequest."""
    listed = {o.strip() for o in (options or "").split(",") if o.strip()}
    unknown = sorted(listed - set(TEMPORAL_OPTIONS)) + ([fmt] if fmt and fmt not in TEMPORAL_FORMATS else [])
    if unknown:
        raise InvalidRequest(f"unknown format or options {unknown}: use {', '.join(TEMPORAL_OPTIONS)}")
    wanted = {fmt} if fmt else listed
    if "aggregatedValues" in wanted:
        chosen = [m.strip() for m in (methods or "").split(",") if m.strip()]
        if not chosen:
            raise BadRequestData("format=aggregatedValues needs aggrMethods, e.g. aggrMethods=avg,max")
        unknown = [m for m in chosen if m not in history.AGGREGATES]
        if unknown:
            raise BadRequestData(f"unknown aggrMethods {unknown}: use {', '.join(history.AGGREGATES)}")
        return "aggregatedValues", chosen
    if "temporalValues" in wanted:
        return "temporalValues", []
    return "normalized", []


def _kinds(stored: str) -> dict[str, str]:
    entity = orjson.loads(stored)
    return {k: v.get("type", "Property") for k, v in entity.items() if isinstance(v, dict)}


@dataclass(frozen=True, slots=True)
class Rendered:
    """A page of temporal entities, their total, and the Content-Range when instances were cut (206)."""

    entities: list[dict[str, Any]]
    total: int
    content_range: str | None = None


def _render(
    state: HubState,
    q: history.TemporalQuery,
    mode: str,
    methods: list[str],
    period: float | None,
    selection: EntityQuery | None = None,
) -> Rendered:
    """A page of entities with their history; ``selection`` (a Query body) picks them as POST /entityOperations/query
    does, on their current state."""
    kinds: dict[tuple[str, str, str], str] = {}
    content_range = None
    with state.db.connect() as conn:
        if selection is not None:
            q = replace(q, where=tuple(query_conditions(conn, selection, tenant=q.tenant)))
        found, total = history.matching_entities(conn, q)
        keys = [(tenant, entity_id) for tenant, entity_id, _t, _d in found]
        if mode == "aggregatedValues":
            aggregated = history.aggregate(conn, q, keys, period=period, methods=methods)
            series: dict[tuple[str, str], dict[str, Any]] = {
                key: {attr: {"values": values} for attr, values in attrs.items()} for key, attrs in aggregated.items()
            }
        else:
            found_instances, kinds = history.instances(conn, q, keys)
            page = history.paginate(found_instances, q)
            content_range = page.content_range
            series = {
                key: {attr: {"instances": values} for attr, values in attrs.items()}
                for key, attrs in page.series.items()
            }
    time_member = "deletedAt" if q.deleted else "observedAt"
    out = []
    for tenant, entity_id, kind, stored in found:
        current = _kinds(stored)
        entity: dict[str, Any] = {"id": entity_id, "type": kind}
        for attr, held in series.get((tenant, entity_id), {}).items():
            attr_type = kinds.get((tenant, entity_id, attr)) or current.get(attr, "Property")
            entity[attr] = _attribute(mode, attr_type, held, time_member)
        out.append(entity)
    return Rendered(out, total, content_range)


def _attribute(mode: str, attr_type: str, held: dict[str, Any], time_member: str = "observedAt") -> Any:
    """One attribute's history in the requested temporal representation."""
    if mode == "aggregatedValues":
        return {"type": attr_type, **held["values"]}
    instances: list[tuple[Any, float]] = held["instances"]
    member, pairs = VALUE_MEMBERS.get(attr_type, VALUE_MEMBERS["Property"])
    if mode == "temporalValues":
        # Values of the newer attribute types travel wrapped in their member: [{"json": {…}}, time] (4.5.9).
        wrap = attr_type not in ("Property", "GeoProperty", "Relationship")
        return {
            "type": attr_type,
            pairs: [[{member: value} if wrap else value, history.iso(ts)] for value, ts in instances],
        }
    return [{"type": attr_type, member: value, time_member: history.iso(ts)} for value, ts in instances]


def _split(value: str | None) -> list[str]:
    return [v.strip() for v in (value or "").split(",") if v.strip()]


Pick = Annotated[str | None, Query(description="Entity members and attributes to keep (not with attrs or omit)")]
Omit = Annotated[str | None, Query(description="Entity members and attributes to leave out (not with attrs or pick)")]


def _projection(attrs: str | None, pick: str | None, omit: str | None) -> Shape:
    """pick/omit (clause 4.21) as on /entities: names in the request's terms; with each other or attrs a 400."""
    return Shape(attrs=tuple(_split(attrs)), pick=parse_projection(pick, "pick"), omit=parse_projection(omit, "omit"))


def _project(entity: dict[str, Any], shape: Shape) -> dict[str, Any]:
    if shape.pick:
        return {k: v for k, v in entity.items() if k in shape.pick}
    if shape.omit:
        return {k: v for k, v in entity.items() if k not in shape.omit}
    return entity


def _respond(
    body: Any,
    media: str,
    tenant: str | None,
    ld: LdRequest,
    extra: dict[str, str] | None = None,
    shape: Shape | None = None,
    content_range: str | None = None,
) -> Response:
    """The body in the request's terms and media type; 206 with a Content-Range when instances were cut."""
    headers = {"Link": ld.link()} if media == JSON else {}
    body = [ld.translation.entity_out(b) for b in body] if isinstance(body, list) else ld.translation.entity_out(body)
    if shape is not None:
        body = [_project(b, shape) for b in body] if isinstance(body, list) else _project(body, shape)
    if media == LD_JSON:
        if isinstance(body, list):
            body = [{"@context": ld.body_context(), **b} for b in body]
        else:
            body = {"@context": ld.body_context(), **body}
    if tenant:
        headers["NGSILD-Tenant"] = tenant
    headers.update(extra or {})
    if content_range is not None:
        headers["Content-Range"] = content_range
    status = 206 if content_range is not None else 200
    return Response(orjson.dumps(body), status_code=status, media_type=media, headers=headers)


# Instances cut by lastN or NORDHUB_TEMPORAL_MAX_INSTANCES (clause 6.3.10): declared so clients and the fuzzer know it.
PARTIAL: dict[int | str, dict[str, Any]] = {
    206: {
        "description": "Some instances were left out; the time range sent is in Content-Range",
        "headers": {
            "Content-Range": {
                "description": "date-time <start>-<end>/<lastN or *>",
                "schema": {"type": "string"},
            }
        },
    }
}


@router.get(
    "/entities", summary="Query the history of entities (temporal values, lastN, aggregation)", responses=PARTIAL
)
def query_temporal(
    state: State,
    ld: LdContext,
    type: Annotated[str | None, Query(description="Entity types, comma-separated")] = None,
    id: Annotated[str | None, Query(description="Entity ids, comma-separated")] = None,
    attrs: Annotated[str | None, Query(description="Attributes, comma-separated")] = None,
    pick: Pick = None,
    omit: Omit = None,
    timerel: Annotated[str | None, Query(description="before, after or between")] = None,
    timeAt: Annotated[str | None, Query(description="RFC 3339 instant")] = None,
    endTimeAt: Annotated[str | None, Query(description="RFC 3339 instant (between)")] = None,
    timeproperty: Annotated[str | None, Query(description="observedAt (default) or deletedAt")] = None,
    lastN: Annotated[int | None, Query(le=MAX_INTEGER, description="The newest N instances per attribute")] = None,
    format: Annotated[str | None, Query(description="temporalValues or aggregatedValues")] = None,
    options: Annotated[str | None, Query(description="temporalValues, aggregatedValues")] = None,
    aggrMethods: Annotated[str | None, Query(description=", ".join(history.AGGREGATES))] = None,
    aggrPeriodDuration: Annotated[str | None, Query(description="ISO 8601 duration, e.g. PT1H")] = None,
    limit: Annotated[int, Query(description=f"Entities per page, 1..{MAX_LIMIT}")] = 20,
    offset: Annotated[int, Query(ge=0, le=MAX_INTEGER)] = 0,
    count: Annotated[bool, Query()] = False,
    accept: Annotated[str | None, Header()] = None,
    ngsild_tenant: Annotated[str | None, Header(alias="NGSILD-Tenant")] = None,
) -> Response:
    """Every matching entity with the instances (or aggregates) of its attributes in the window."""
    ids, types = _split(id), _split(type)
    if not ids and not types:
        raise BadRequestData("a temporal query needs type or id")
    if any(not is_absolute_uri(i) for i in ids):
        raise BadRequestData("every id must be an absolute URI")
    shape = _projection(attrs, pick, omit)
    media = negotiate(accept)
    mode, methods = _mode(format, options, aggrMethods)
    params = {
        "ids": ids,
        "types": ld.names(types),
        "attrs": ld.names(_split(attrs)),
        "timerel": timerel,
        "timeAt": timeAt,
        "endTimeAt": endTimeAt,
        "timeproperty": timeproperty,
        "lastN": lastN,
        "limit": limit,
        "offset": offset,
    }
    q = _query(state, ngsild_tenant, params)
    period = parse_duration(aggrPeriodDuration) if aggrPeriodDuration else None
    rendered = _render(state, q, mode, methods, period)
    extra = {"NGSILD-Results-Count": str(rendered.total)} if count else {}
    return _respond(rendered.entities, media, q.tenant, ld, extra, shape, content_range=rendered.content_range)


@router.get("/entities/{entity_id:path}", summary="The history of one entity", responses=PARTIAL)
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
    timeproperty: Annotated[str | None, Query(description="observedAt (default) or deletedAt")] = None,
    lastN: Annotated[int | None, Query(le=MAX_INTEGER)] = None,
    format: Annotated[str | None, Query()] = None,
    options: Annotated[str | None, Query()] = None,
    aggrMethods: Annotated[str | None, Query()] = None,
    aggrPeriodDuration: Annotated[str | None, Query()] = None,
    accept: Annotated[str | None, Header()] = None,
    ngsild_tenant: Annotated[str | None, Header(alias="NGSILD-Tenant")] = None,
) -> Response:
    if not is_absolute_uri(entity_id):
        raise BadRequestData(f"entity id {entity_id!r} is not an absolute URI")
    shape = _projection(attrs, pick, omit)
    media = negotiate(accept)
    mode, methods = _mode(format, options, aggrMethods)
    params = {
        "ids": [entity_id],
        "types": [],
        "attrs": ld.names(_split(attrs)),
        "timerel": timerel,
        "timeAt": timeAt,
        "endTimeAt": endTimeAt,
        "timeproperty": timeproperty,
        "lastN": lastN,
        "limit": 1,
        "offset": 0,
    }
    q = _query(state, ngsild_tenant, params)
    _require_requested_attributes(state, q, entity_id)
    period = parse_duration(aggrPeriodDuration) if aggrPeriodDuration else None
    rendered = _render(state, q, mode, methods, period)
    body = rendered.entities
    if not body:
        raise ResourceNotFound(f"entity {entity_id!r} not found")
    if (shape.pick or shape.omit) and not _project(ld.translation.entity_out(body[0]), shape):
        raise ResourceNotFound(f"entity {entity_id!r}: nothing is left after pick/omit (ETSI 020_23)")
    return _respond(body[0], media, q.tenant, ld, shape=shape, content_range=rendered.content_range)


def _require_requested_attributes(state: HubState, q: history.TemporalQuery, entity_id: str) -> None:
    """5.7.3: asking only for attributes the entity does not have is ResourceNotFound, not an empty history.

    An attribute the entity has but with no instance in the time window is not an error; an unknown entity is
    left to the not-found answer of the retrieval itself.
    """
    if not q.attrs or q.deleted:  # a deleted attribute is no longer in the entity, but its deletion is history
        return
    with state.db.connect() as conn:
        stored = store.get_entity(conn, tenant=q.tenant, entity_id=entity_id)
    if stored is not None and not any(attr in _kinds(stored) for attr in q.attrs):
        raise ResourceNotFound(f"entity {entity_id!r} has none of the attributes {', '.join(q.attrs)}")


async def _json_body(request: Request) -> dict[str, Any]:
    content_type = request.headers.get("content-type", "").split(";")[0].strip().lower()
    if content_type not in (JSON, LD_JSON):
        raise UnsupportedMediaType(f"Content-Type {content_type or '(none)'!r}: send {JSON} or {LD_JSON}")
    try:
        body = orjson.loads(await request.body())
    except orjson.JSONDecodeError as exc:
        raise InvalidRequest(f"the body is not valid JSON ({exc})") from None
    if not isinstance(body, dict):
        raise BadRequestData("a temporal entity is a JSON object")
    if not is_absolute_uri(body.get("id")) or not isinstance(body.get("type"), str):
        raise BadRequestData("a temporal entity needs an absolute URI id and a type")
    return body


# The member holding an instance's value, and the key of its temporalValues pairs, per attribute type (4.5, 4.5.9).
VALUE_MEMBERS = {
    "Property": ("value", "values"),
    "GeoProperty": ("value", "values"),
    "Relationship": ("object", "objects"),
    "LanguageProperty": ("languageMap", "languageMaps"),
    "JsonProperty": ("json", "jsons"),
    "VocabProperty": ("vocab", "vocabs"),
    "ListProperty": ("valueList", "valueLists"),
    "ListRelationship": ("objectList", "objectLists"),
}
_MEMBER_NAMES = tuple(dict.fromkeys(member for member, _key in VALUE_MEMBERS.values()))


def _value_member(instance: Any) -> str | None:
    """The member that carries this instance's value (the one its type names, else the first one present)."""
    if not isinstance(instance, dict):
        return None
    named = VALUE_MEMBERS.get(instance.get("type", ""), ("", ""))[0]
    if named in instance:
        return named
    return next((member for member in _MEMBER_NAMES if member in instance), None)


def _split_instances(body: dict[str, Any]) -> tuple[dict[str, Any], list[tuple[str, float, Any]]]:
    """The entity's current state (newest instance of each attribute) and every timed instance.

    ``scope`` is an Entity member, not an attribute: it is kept as the entity's scope and has no history here.
    """
    current: dict[str, Any] = {"id": body["id"], "type": body["type"]}
    rows: list[tuple[str, float, Any]] = []
    for name, value in body.items():
        if name in ("id", "type", "@context"):
            continue
        if name == "scope":
            current[name] = value
            continue
        items = value if isinstance(value, list) else [value]
        members = [_value_member(i) for i in items]
        if not items or None in members:
            raise BadRequestData(
                f"attribute {name!r}: each instance needs one of {', '.join(_MEMBER_NAMES)} (as its type says)"
            )
        _check_geometries(name, items)
        timed = [(_instant(f"{name}.observedAt", i.get("observedAt")), i) for i in items]
        for (ts, instance), member in zip(timed, members, strict=True):
            if ts is not None and member is not None:
                rows.append((name, ts, instance[member]))
        current[name] = max(timed, key=lambda pair: pair[0] or 0.0)[1]
    return current, rows


def _check_geometries(name: str, items: list[Any]) -> None:
    """Every GeoProperty instance is a valid GeoJSON geometry (a self-intersecting polygon is a 400 here too)."""
    for index, instance in enumerate(items):
        if instance.get("type") != "GeoProperty":
            continue
        findings = check_geometry(instance.get("value"), f"/{name}/{index}/value", None)
        errors = [f for f in findings if f.severity is Severity.ERROR]
        if errors:
            raise BadRequestData(f"{errors[0].pointer}: {errors[0].message}")


@router.post(
    "/entities",
    status_code=201,
    summary="Create or extend the history of an entity",
    response_class=Response,
    responses={204: {"description": "The history of an existing entity extended"}},
)
async def create_temporal(
    request: Request,
    state: State,
    writer: Writer,
    ld: LdContext,
    ngsild_tenant: Annotated[str | None, Header(alias="NGSILD-Tenant")] = None,
) -> Response:
    """201 when the entity is new, 204 when instances were added to an existing one."""
    body = ld.entity_in(await _json_body(request))
    current, rows = _split_instances(body)
    check_id_space(writer, body["id"], state.registry)
    tenant = ngsild_tenant or ""
    now = datetime.now(UTC)
    with state.db.begin() as conn:
        existed = store.get_entity(conn, tenant=tenant, entity_id=body["id"]) is not None
        store.upsert_entities(conn, [store.EntityWrite(tenant, current)], now=now)
        history.add_instances(conn, tenant, body["id"], rows)
    headers = {"Location": f"/ngsi-ld/v1/temporal/entities/{body['id']}"}
    if tenant:
        headers["NGSILD-Tenant"] = tenant
    return Response(status_code=204 if existed else 201, headers=headers)


@router.delete("/entities/{entity_id:path}", status_code=204, summary="Delete an entity and its history")
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
