"""``POST /ngsi-ld/v1/temporal/entityOperations/query``: a Query body (clause 5.2.23) answered like
``GET /temporal/entities``.

The body selects entities as ``POST /entityOperations/query`` does (``entities``, ``attrs``, ``q``, ``scopeQ``,
``geoQ``, evaluated on the entities' current state), projects them with ``pick`` / ``omit`` and keeps the
instances of its ``datasetId`` (as ``GET /temporal/entities`` does with those parameters); its ``temporalQ``
(``timerel``, ``timeAt``, ``endTimeAt``, ``timeproperty``, and ``lastN``, also accepted in the query string) picks
the instances of their history.
Aggregation (``aggrMethods``, ``aggrPeriodDuration``) may come in the query string, as on GET, or in the body, at
its top level or in an ``aggrParams`` object; a body that asks for it implies ``format=aggregatedValues``.
"""

from __future__ import annotations

import copy
from dataclasses import replace
from typing import Annotated, Any

from fastapi import APIRouter, Depends, Request
from fastapi.responses import Response

from api.ld import LdContext
from api.limits import MAX_INTEGER
from api.ngsild_http import JSON_MEDIA, json_body, negotiate, only_defined_parameters
from api.ngsild_linked import body_projection, no_linked_q
from api.ngsild_openapi import HISTORY, QUERY, operation
from api.ngsild_query_body import QUERY_BODY, body_dataset_ids, query_from_body
from api.state import HubState, hub_state
from api.temporal_read import (
    Accept,
    AggrMethods,
    AggrPeriod,
    Count,
    Format,
    LastN,
    Limit,
    Offset,
    Options,
    Tenant,
    aggregation_period,
    build_query,
    picked_attributes,
    render_history,
    representation,
    requested_shape,
    respond,
    wants_sys_attrs,
)
from hub.errors import BadRequestData
from ngsi import temporal as history

router = APIRouter(
    prefix="/ngsi-ld/v1/temporal", tags=["NGSI-LD temporal"], dependencies=[Depends(only_defined_parameters)]
)
_TEMPORAL_Q = {
    "type": "object",
    "properties": {
        "timerel": {"type": "string", "enum": ["before", "after", "between"]},
        "timeAt": {"type": "string", "format": "date-time"},
        "endTimeAt": {"type": "string", "format": "date-time"},
        "timeproperty": {"type": "string", "enum": ["observedAt", "createdAt", "modifiedAt", "deletedAt"]},
        "lastN": {"type": "integer", "minimum": 1},
        "aggrMethods": {"description": "As the body's aggrMethods (TemporalQuery, 1.9 Table 5.2.21-1)"},
        "aggrPeriodDuration": {"type": "string", "description": "As the body's aggrPeriodDuration"},
    },
}


_AGGR_METHODS = {
    "description": "Aggregation methods (an array, or one comma-separated string): " + ", ".join(history.AGGREGATES),
    "oneOf": [{"type": "array", "items": {"type": "string", "enum": list(history.AGGREGATES)}}, {"type": "string"}],
}
_AGGR_PERIOD = {"type": "string", "description": "ISO 8601 duration, e.g. PT1H; PT0S or absent: the whole range"}
_AGGR_MEMBERS = ("aggrMethods", "aggrPeriodDuration")


def _temporal_body() -> dict[str, Any]:
    """The Query body of POST /entityOperations/query with temporalQ described (there it is refused), less the
    members this operation does not read (lang is accepted and ignored), and with selectors whose type is optional
    (``query_from_body(temporal=True)``)."""
    body: dict[str, Any] = copy.deepcopy(QUERY_BODY)
    aggregation = {"aggrMethods": _AGGR_METHODS, "aggrPeriodDuration": _AGGR_PERIOD}
    for content in body["requestBody"]["content"].values():
        properties = content["schema"]["properties"]
        properties["temporalQ"] = _TEMPORAL_Q
        for entity_only in ("lang", "join", "joinLevel", "geometryProperty"):
            properties.pop(entity_only, None)  # JSON and JSON-LD share one schema
        selector = properties["entities"]["items"]
        selector.pop("required", None)
        selector["description"] = "type, id, idPattern: type is optional here (ids alone select)"
        properties.update(copy.deepcopy(aggregation))
        properties["aggrParams"] = {
            "type": "object",
            "properties": copy.deepcopy(aggregation),
            "additionalProperties": False,
        }
    return body


def _methods_text(where: str, value: Any) -> str:
    """aggrMethods of the body as the query string spells it (``avg,max``)."""
    if isinstance(value, str) and value.strip():
        return value
    if isinstance(value, list) and value and all(isinstance(m, str) and m for m in value):
        return ",".join(value)
    raise BadRequestData(f"{where} must be a non-empty array of method names or a comma-separated string")


def _body_aggregation(body: dict[str, Any]) -> dict[str, tuple[str, str]]:
    """The aggregation members of the body, top level, in aggrParams or in temporalQ (where the 1.9 TemporalQuery
    data type carries them, Table 5.2.21-1): name → (where it was, its text)."""
    nested = body.get("aggrParams")
    given_q = body.get("temporalQ")
    temporal: dict[str, Any] = given_q if isinstance(given_q, dict) else {}
    if nested is not None and not isinstance(nested, dict):
        raise BadRequestData("aggrParams must be an object {aggrMethods, aggrPeriodDuration}")
    unknown = sorted(set(nested or {}) - set(_AGGR_MEMBERS))
    if unknown:
        raise BadRequestData(f"aggrParams: unknown member(s) {', '.join(unknown)}; use aggrMethods, aggrPeriodDuration")
    found: dict[str, tuple[str, str]] = {}
    for prefix, source in (("", body), ("aggrParams.", nested or {}), ("temporalQ.", temporal)):
        for name in _AGGR_MEMBERS:
            value = source.get(name)
            if value is None:
                continue
            where = prefix + name
            if name in found:
                raise BadRequestData(f"{name} is given twice in the body ({found[name][0]} and {where})")
            if name == "aggrPeriodDuration" and not isinstance(value, str):
                raise BadRequestData(f"{where} must be a string, an ISO 8601 duration such as PT1H")
            found[name] = (where, _methods_text(where, value) if name == "aggrMethods" else value)
    return found


def _aggregation(body: dict[str, Any], methods: str | None, period: str | None) -> tuple[str | None, str | None, bool]:
    """aggrMethods and aggrPeriodDuration from the query string and the body (the same value twice is fine,
    two different ones a 400 naming both), and whether the body asked for an aggregation."""
    given = {"aggrMethods": methods, "aggrPeriodDuration": period}
    found = _body_aggregation(body)
    for name, (where, value) in found.items():
        if given[name] is not None and given[name] != value:
            raise BadRequestData(f"{name} {given[name]!r} in the query string and {where} {value!r} in the body differ")
        given[name] = value
    return given["aggrMethods"], given["aggrPeriodDuration"], bool(found)


State = Annotated[HubState, Depends(hub_state)]
TEMPORAL_Q = ("timerel", "timeAt", "endTimeAt", "timeproperty", "lastN", *_AGGR_MEMBERS)


def _temporal_q(body: dict[str, Any]) -> dict[str, Any]:
    """The body's temporalQ members (absent: the whole history)."""
    member = body.get("temporalQ")
    if member is None:
        return {}
    if not isinstance(member, dict):
        raise BadRequestData("temporalQ must be an object {timerel, timeAt, endTimeAt, timeproperty}")
    unknown = sorted(set(member) - set(TEMPORAL_Q) - {"type"})
    if unknown:
        raise BadRequestData(f"unknown temporalQ members {unknown}: use {', '.join(TEMPORAL_Q)}")
    text = [name for name in TEMPORAL_Q[:4] if member.get(name) is not None and not isinstance(member[name], str)]
    if text:
        raise BadRequestData(f"temporalQ.{text[0]} must be a string")
    last_n = member.get("lastN")
    if last_n is not None and (not isinstance(last_n, int) or isinstance(last_n, bool) or last_n > MAX_INTEGER):
        raise BadRequestData("temporalQ.lastN must be a positive integer")
    return member


@router.post(
    "/entityOperations/query",
    summary="Query the history of entities with a Query body",
    responses={**HISTORY, **QUERY},
    openapi_extra=operation(_temporal_body()),
)
async def post_temporal_query(
    request: Request,
    state: State,
    ld: LdContext,
    lastN: LastN = None,
    format: Format = None,
    options: Options = None,
    aggrMethods: AggrMethods = None,
    aggrPeriodDuration: AggrPeriod = None,
    limit: Limit = 20,
    offset: Offset = 0,
    count: Count = False,
    accept: Accept = None,
    ngsild_tenant: Tenant = None,
) -> Response:
    """The entities the body selects, with the instances (or aggregates) of their attributes in its temporalQ."""
    body = await json_body(request)
    if not isinstance(body, dict):
        raise BadRequestData('the body must be a Query: a JSON object with "type": "Query"')
    temporal_q = _temporal_q(body)
    no_linked_q(body.get("q"))
    selection = query_from_body({k: v for k, v in body.items() if k != "temporalQ"}, ld, temporal=True)
    media = negotiate(accept, JSON_MEDIA)
    aggrMethods, aggrPeriodDuration, in_body = _aggregation(body, aggrMethods, aggrPeriodDuration)
    if in_body and format is None and options is None:
        format = "aggregatedValues"  # the body asks for aggregates: GET's options=aggregatedValues
    mode, methods = representation(format, options, aggrMethods)
    attrs = body.get("attrs") or []
    shape = requested_shape(",".join(attrs), body_projection(body, "pick"), body_projection(body, "omit"))
    params = {
        "ids": [],
        "types": [],
        "attrs": list(selection.attrs) or ld.names(picked_attributes(shape)),
        "timerel": temporal_q.get("timerel"),
        "timeAt": temporal_q.get("timeAt"),
        "endTimeAt": temporal_q.get("endTimeAt"),
        "timeproperty": temporal_q.get("timeproperty"),
        "datasetId": body_dataset_ids(body),
        "lastN": lastN if lastN is not None else temporal_q.get("lastN"),
        "limit": limit,
        "offset": offset,
        "ordering": selection.ordering,
        "where": "temporalQ.",
    }
    q = replace(build_query(state, ngsild_tenant, params), with_history=True)
    period = aggregation_period(aggrPeriodDuration)
    # Entities without an instance in the window are not part of a query's answer (ETSI 021_13).
    rendered = render_history(state, q, mode, methods, period, selection, sys_attrs=wants_sys_attrs(options))
    extra = {"NGSILD-Results-Count": str(rendered.total)} if count else {}
    return respond(rendered.entities, media, q.tenant, ld, extra, shape, content_range=rendered.content_range)
