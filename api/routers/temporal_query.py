"""``POST /ngsi-ld/v1/temporal/entityOperations/query``: a Query body (clause 5.2.23) answered like
``GET /temporal/entities``.

The body selects entities as ``POST /entityOperations/query`` does (``entities``, ``attrs``, ``q``, ``scopeQ``,
``geoQ``, evaluated on the entities' current state); its ``temporalQ`` (``timerel``, ``timeAt``, ``endTimeAt``,
``timeproperty``, and ``lastN``, also accepted in the query string) picks the instances of their history.
"""

from __future__ import annotations

import copy
from dataclasses import replace
from typing import Annotated, Any

from fastapi import APIRouter, Depends, Request
from fastapi.responses import Response

from api.ld import LdContext
from api.limits import MAX_INTEGER
from api.ngsild_http import json_body, negotiate
from api.ngsild_linked import no_linked_q
from api.ngsild_query_body import QUERY_BODY, query_from_body
from api.state import HubState, hub_state
from api.temporal_read import (
    PARTIAL,
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
    build_query,
    parse_duration,
    render_history,
    representation,
    respond,
)
from hub.errors import BadRequestData
from ngsi.ordering import id_descending

router = APIRouter(prefix="/ngsi-ld/v1/temporal", tags=["NGSI-LD temporal"])
_TEMPORAL_Q = {
    "type": "object",
    "properties": {
        "timerel": {"type": "string", "enum": ["before", "after", "between"]},
        "timeAt": {"type": "string", "format": "date-time"},
        "endTimeAt": {"type": "string", "format": "date-time"},
        "timeproperty": {"type": "string", "enum": ["observedAt", "createdAt", "modifiedAt", "deletedAt"]},
        "lastN": {"type": "integer", "minimum": 1},
    },
}


def _temporal_body() -> dict[str, Any]:
    """The Query body of POST /entityOperations/query with temporalQ described (there it is refused)."""
    body: dict[str, Any] = copy.deepcopy(QUERY_BODY)
    for content in body["requestBody"]["content"].values():
        content["schema"]["properties"]["temporalQ"] = _TEMPORAL_Q
    return body


State = Annotated[HubState, Depends(hub_state)]
TEMPORAL_Q = ("timerel", "timeAt", "endTimeAt", "timeproperty", "lastN")


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
    responses=PARTIAL,
    openapi_extra=_temporal_body(),
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
    selection = query_from_body({k: v for k, v in body.items() if k != "temporalQ"}, ld, typed=False)
    media = negotiate(accept)
    mode, methods = representation(format, options, aggrMethods)
    params = {
        "ids": [],
        "types": [],
        "attrs": list(selection.attrs),
        "timerel": temporal_q.get("timerel"),
        "timeAt": temporal_q.get("timeAt"),
        "endTimeAt": temporal_q.get("endTimeAt"),
        "timeproperty": temporal_q.get("timeproperty"),
        "lastN": lastN if lastN is not None else temporal_q.get("lastN"),
        "limit": limit,
        "offset": offset,
        "descending": id_descending(selection.ordering, "ordering.orderBy"),
    }
    q = replace(build_query(state, ngsild_tenant, params), with_history=True)
    period = parse_duration(aggrPeriodDuration) if aggrPeriodDuration else None
    # Entities without an instance in the window are not part of a query's answer (ETSI 021_13).
    rendered = render_history(state, q, mode, methods, period, selection)
    extra = {"NGSILD-Results-Count": str(rendered.total)} if count else {}
    return respond(rendered.entities, media, q.tenant, ld, extra, content_range=rendered.content_range)
