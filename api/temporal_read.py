"""The read side of the NGSI-LD temporal API, shared by ``GET /temporal/entities`` (one or many) and
``POST /temporal/entityOperations/query``: parameters to a ``TemporalQuery``, the representation asked for, the
history rendered as instances, value pairs or aggregates, and the response (206 + Content-Range when paged).
"""

from __future__ import annotations

import re
from dataclasses import dataclass
from datetime import datetime
from typing import Annotated, Any

import orjson
from fastapi import Header, Query
from fastapi.responses import Response

from api.ld import LdRequest
from api.limits import MAX_INTEGER
from api.ngsild_checks import NONE
from api.ngsild_http import JSON, LD_JSON
from api.routers.ngsild import _tenant
from api.state import HubState
from hub.errors import BadRequestData, InvalidRequest
from ngsi import projection
from ngsi import temporal as history
from ngsi.query import EntityQuery
from ngsi.representation import ENTITY_MEMBERS
from ngsi.shaping import Shape, parse_projection
from ngsi.temporal_aggregate import aggregate
from ngsi.temporal_deletions import attribute_type
from ngsi.temporal_edits import instance_id
from ngsi.temporal_pages import paginate
from schemas.ngsild import is_absolute_uri

_DURATION = re.compile(
    r"^P(?:(?P<w>\d+)W)?(?:(?P<d>\d+)D)?(?:T(?:(?P<h>\d+)H)?(?:(?P<m>\d+)M)?(?:(?P<s>\d+(?:\.\d+)?)S)?)?$"
)
MAX_LIMIT = 1000


def parse_duration(text: str) -> float:
    """Seconds of an ISO 8601 duration in weeks, days, hours, minutes, seconds (years and months vary in length);
    zero is valid."""
    match = _DURATION.match(text)
    if not match or text in ("P", "PT"):
        raise BadRequestData(
            f"aggrPeriodDuration {text!r} is not an ISO 8601 duration such as PT1H or P1D "
            "(years and months are not supported: their length varies)"
        )
    parts = {k: float(v) for k, v in match.groupdict().items() if v}
    seconds = parts.get("w", 0) * 604800 + parts.get("d", 0) * 86400 + parts.get("h", 0) * 3600
    return seconds + parts.get("m", 0) * 60 + parts.get("s", 0)


def aggregation_period(text: str | None) -> float | None:
    """The seconds of ``aggrPeriodDuration``; None, one period for the whole range, when it is absent or a zero
    duration (``PT0S``, ``P0D``: clause 4.5.19 gives those that meaning)."""
    return (parse_duration(text) or None) if text else None


def instant(name: str, value: str | None) -> float | None:
    if value is None:
        return None
    try:
        moment = datetime.fromisoformat(value.replace("Z", "+00:00"))
    except ValueError:
        raise BadRequestData(f"{name} {value!r} is not an RFC 3339 date-time") from None
    if moment.tzinfo is None:
        raise BadRequestData(f"{name} {value!r} has no time zone")
    return moment.timestamp()


def build_query(state: HubState, tenant: str | None, params: dict[str, Any]) -> history.TemporalQuery:
    """The query of the parameters (``params["where"]``: how the request names their place, ``temporalQ.``)."""
    timerel, where = params["timerel"], params.get("where", "")
    if timerel is not None:
        try:
            rel = history.TimeRel(timerel)
        except ValueError:
            raise BadRequestData(f"{where}timerel {timerel!r}: use before, after or between") from None
        if params["timeAt"] is None:
            raise BadRequestData(f"{where}timerel needs {where}timeAt")
        if rel is history.TimeRel.BETWEEN and params["endTimeAt"] is None:
            raise BadRequestData(f"{where}timerel=between needs {where}endTimeAt")
    else:
        rel = None
    _window_parameters(params, rel, where)
    timeproperty = params["timeproperty"] or history.TimeProperty.OBSERVED_AT.value
    known = ", ".join(history.TimeProperty)
    if timeproperty not in known.split(", "):
        raise BadRequestData(f"timeproperty {timeproperty!r} is not one of {known}")
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
        time_at=instant(f"{where}timeAt", params["timeAt"]),
        end_time_at=instant(f"{where}endTimeAt", params["endTimeAt"]),
        last_n=params["lastN"],
        limit=params["limit"],
        offset=params["offset"],
        max_instances=state.settings.temporal_max_instances,
        max_periods=state.settings.temporal_max_periods,
        timeproperty=history.TimeProperty(timeproperty),
        dataset_ids=dataset_ids(params.get("datasetId")),
        ordering=params.get("ordering"),
    )


def _window_parameters(params: dict[str, Any], rel: history.TimeRel | None, where: str) -> None:
    """timeAt is read with a timerel only, endTimeAt with timerel=between only and after timeAt (clause 4.11): a
    window parameter that would be ignored, or an empty window, is a 400 rather than an answer to another query."""
    if rel is None and params["timeAt"] is not None:
        raise BadRequestData(f"{where}timeAt {params['timeAt']!r} needs {where}timerel (before, after or between)")
    end = params["endTimeAt"]
    if end is not None and rel is not history.TimeRel.BETWEEN:
        given = f"{where}timerel={rel.value}" if rel else f"no {where}timerel"
        raise BadRequestData(f"{where}endTimeAt {end!r} is read with {where}timerel=between only, not with {given}")
    if end is not None and params["timeAt"] is not None:
        start, stop = instant(f"{where}timeAt", params["timeAt"]), instant(f"{where}endTimeAt", end)
        if start is not None and stop is not None and stop <= start:
            raise BadRequestData(
                f"{where}endTimeAt {end!r} is not after {where}timeAt {params['timeAt']!r}: timerel=between "
                "needs a window that ends after it starts"
            )


def dataset_ids(text: str | None) -> frozenset[str | None] | None:
    """The ``datasetId`` parameter: a comma list of URIs, ``@none`` for the default instance; absent: every one."""
    if text is None:
        return None
    named = split(text)
    if not named:
        raise BadRequestData("datasetId is empty: give datasetIds (URIs) or @none, comma-separated")
    bad = [d for d in named if d != NONE and not is_absolute_uri(d)]
    if bad:
        raise BadRequestData(f"datasetId {bad[0]!r} is neither an absolute URI nor @none")
    return frozenset(None if d == NONE else d for d in named)


TEMPORAL_FORMATS = ("normalized", "temporalValues", "aggregatedValues")
TEMPORAL_OPTIONS = (*TEMPORAL_FORMATS, "sysAttrs")


def representation(fmt: str | None, options: str | None, methods: str | None) -> tuple[str, list[str]]:
    """The representation asked for: ``format`` wins over ``options`` (6.3.12); an unknown value is InvalidRequest."""
    listed = {o.strip() for o in (options or "").split(",") if o.strip()}
    unknown = sorted(listed - set(TEMPORAL_OPTIONS)) + ([fmt] if fmt and fmt not in TEMPORAL_FORMATS else [])
    if unknown:
        raise InvalidRequest(f"unknown format or options {unknown}: use {', '.join(TEMPORAL_OPTIONS)}")
    wanted = {fmt} if fmt else listed
    chosen = aggregation_methods(methods)
    if "aggregatedValues" in wanted:
        if not chosen:
            raise BadRequestData("format=aggregatedValues needs aggrMethods, e.g. aggrMethods=avg,max")
        return "aggregatedValues", chosen
    if "temporalValues" in wanted:
        return "temporalValues", []
    return "normalized", []


def aggregation_methods(text: str | None) -> list[str]:
    """The methods of ``aggrMethods``, checked whatever the representation: an unknown one, one given twice (each
    bucket would be answered twice) or an empty term is a 400 naming it."""
    if text is None:
        return []
    terms = [m.strip() for m in text.split(",")]
    if "" in terms:
        raise BadRequestData(f"aggrMethods {text!r}: term {terms.index('') + 1} is empty")
    unknown = [m for m in terms if m not in history.AGGREGATES]
    if unknown:
        raise BadRequestData(f"unknown aggrMethods {unknown}: use {', '.join(history.AGGREGATES)}")
    twice = next((m for i, m in enumerate(terms) if m in terms[:i]), None)
    if twice is not None:
        raise BadRequestData(f"aggrMethods {text!r}: {twice!r} is given twice")
    return terms


def wants_sys_attrs(options: str | None) -> bool:
    """``options=sysAttrs`` (with others or not)."""
    return "sysAttrs" in {o.strip() for o in (options or "").split(",")}


def kinds(stored: str) -> dict[str, str]:
    """attribute → type of a stored entity's attributes (one of several instances: its first one's)."""
    entity = orjson.loads(stored)
    return {
        k: attribute_type(v)
        for k, v in entity.items()
        if isinstance(v, dict) or (isinstance(v, list) and v and isinstance(v[0], dict))
    }


@dataclass(frozen=True, slots=True)
class Rendered:
    """A page of temporal entities, their total, and the Content-Range when instances were cut (206)."""

    entities: list[dict[str, Any]]
    total: int
    content_range: str | None = None


def render_history(
    state: HubState,
    q: history.TemporalQuery,
    mode: str,
    methods: list[str],
    period: float | None,
    selection: EntityQuery | None = None,
    *,
    sys_attrs: bool = False,
) -> Rendered:
    """A page of entities with their history; ``selection`` (a Query body) picks them as POST /entityOperations/query
    does, on their current state; ``sys_attrs``: normalized instances carry their createdAt and modifiedAt."""
    if mode == "aggregatedValues" or (selection is not None and selection.uses_indexes):
        # the hourly aggregates hold every committed instance, the attribute and spatial indexes every write
        projection.ensure_current(state.db)
    deleted_kinds: dict[tuple[str, str, str], str] = {}  # a deleted attribute's type, kept with its deletion
    content_range = None
    with state.db.connect() as conn:
        if selection is not None:
            q = history.selected(conn, q, selection)
        found, total = history.matching_entities(conn, q)
        keys = [(tenant, entity_id) for tenant, entity_id, _t, _d in found]
        series: dict[tuple[str, str], dict[history.AttrKey, Any]]
        if mode == "aggregatedValues":
            series = aggregate(conn, q, keys, period=period, methods=methods)
        else:
            found_instances, deleted_kinds = history.instances(conn, q, keys)
            page = paginate(found_instances, q)
            content_range = page.content_range
            series = dict(page.series)
    out = []
    for tenant, entity_id, kind, stored in found:
        current = kinds(stored)
        entity: dict[str, Any] = {"id": entity_id, "type": kind}
        for attr, groups in _by_attribute(series.get((tenant, entity_id), {})).items():
            attr_type = deleted_kinds.get((tenant, entity_id, attr)) or current.get(attr, "Property")
            entity[attr] = _attribute(mode, attr_type, groups, q.timeproperty.value, sys_attrs)
        out.append(entity)
    return Rendered(out, total, content_range)


def _by_attribute(held: dict[history.AttrKey, Any]) -> dict[str, list[tuple[str | None, Any]]]:
    """attribute → [(datasetId, its instances or aggregates)], the default instance first, then by datasetId."""
    grouped: dict[str, list[tuple[str | None, Any]]] = {}
    for (attr, dataset), values in sorted(held.items(), key=lambda item: (item[0][0], item[0][1] or "")):
        grouped.setdefault(attr, []).append((dataset, values))
    return grouped


def _attribute(
    mode: str, attr_type: str, groups: list[tuple[str | None, Any]], timeproperty: str, sys_attrs: bool
) -> Any:
    """One attribute's history in the requested temporal representation (4.5.8, 4.5.9, 4.5.19).

    Normalized: one array of instances, each with its datasetId. temporalValues and aggregatedValues: one object
    per datasetId, carrying it (none for the default instance); an array of them when there are several."""
    if mode == "normalized":
        return [
            instance
            for dataset, found in groups
            for instance in _instances(attr_type, dataset, found, timeproperty, sys_attrs)
        ]
    objects = []
    for dataset, held in groups:
        shaped = _values(mode, attr_type, held)
        if dataset is not None:
            shaped["datasetId"] = dataset
        objects.append(shaped)
    return objects[0] if len(objects) == 1 else objects


def _values(mode: str, attr_type: str, held: Any) -> dict[str, Any]:
    if mode == "aggregatedValues":
        return {"type": attr_type, **held}
    member, pairs = VALUE_MEMBERS.get(attr_type, VALUE_MEMBERS["Property"])
    # Values of the newer attribute types travel wrapped in their member: [{"json": {…}}, time] (4.5.9); a list is
    # its bare array, a ListRelationship's as the bare target URIs, as "objects" gives a Relationship's.
    wrap = attr_type not in ("Property", "GeoProperty", "Relationship", *_LISTS)
    return {
        "type": attr_type,
        pairs: [[{member: i[0]} if wrap else _bare(attr_type, i[0]), history.iso(i[1])] for i in held],
    }


def _instances(
    attr_type: str, dataset: str | None, found: list[history.Instance], timeproperty: str, sys_attrs: bool
) -> list[dict[str, Any]]:
    """Normalized instances: their observedAt (deletedAt for a deletion), the time the query was about when that is
    another one, their instanceId (a deletion has none), and with sysAttrs their createdAt and modifiedAt."""
    member = VALUE_MEMBERS.get(attr_type, VALUE_MEMBERS["Property"])[0]
    head: dict[str, Any] = {"type": attr_type}
    if dataset is not None:
        head["datasetId"] = dataset
    out = []
    for value, at, observed, pk, created, modified in found:
        instance = {**head, member: value}
        if timeproperty == history.TimeProperty.DELETED_AT:
            instance["deletedAt"] = history.iso(at)
        else:
            if observed is not None:  # a change of an attribute without observedAt has none
                instance["observedAt"] = history.iso(observed)
            if timeproperty != history.TimeProperty.OBSERVED_AT:
                instance[timeproperty] = history.iso(at)
        if pk is not None:
            instance["instanceId"] = instance_id(pk)
        if sys_attrs and (pk is not None or created is not None):  # an instance or a change, not a deletion
            recorded = observed if created is None else created  # rows older than migration 0017: when observed
            instance["createdAt"] = history.iso(recorded)
            instance["modifiedAt"] = history.iso(recorded if modified is None else modified)
        out.append(instance)
    return out


_LISTS = ("ListProperty", "ListRelationship")


def _bare(attr_type: str, value: Any) -> Any:
    """An instance's value in temporalValues: an objectList's ``{"object": uri}`` items as their URIs."""
    if attr_type != "ListRelationship" or not isinstance(value, list):
        return value
    return [item["object"] if isinstance(item, dict) and set(item) == {"object"} else item for item in value]


def split(value: str | None) -> list[str]:
    return [v.strip() for v in (value or "").split(",") if v.strip()]


# The query-string parameters GET /temporal/entities and POST /temporal/entityOperations/query share.
# Bounds in json_schema_extra are only described: build_query checks them, with its own message.
LastN = Annotated[
    int | None,
    Query(
        le=MAX_INTEGER, description="The newest N instances per attribute (1 or more)", json_schema_extra={"minimum": 1}
    ),
]
Format = Annotated[str | None, Query(description="normalized (default), temporalValues or aggregatedValues")]
Options = Annotated[
    str | None,
    Query(description="Comma list of normalized, temporalValues, aggregatedValues (format wins) and sysAttrs"),
]
AggrMethods = Annotated[str | None, Query(description=", ".join(history.AGGREGATES))]
AggrPeriod = Annotated[str | None, Query(description="ISO 8601 duration, e.g. PT1H")]
Limit = Annotated[
    int, Query(description=f"Entities per page, 1..{MAX_LIMIT}", json_schema_extra={"minimum": 1, "maximum": MAX_LIMIT})
]
Offset = Annotated[int, Query(ge=0, le=MAX_INTEGER)]
Count = Annotated[bool, Query()]
Accept = Annotated[str | None, Header()]
Tenant = Annotated[str | None, Header(alias="NGSILD-Tenant")]
TimeProperty = Annotated[
    str | None,
    Query(description="The time timerel applies to: observedAt (default), createdAt, modifiedAt or deletedAt"),
]
DatasetId = Annotated[
    str | None,
    Query(description="Only the instances of these datasetIds (comma-separated URIs; @none: the default instance)"),
]
Pick = Annotated[str | None, Query(description="Entity members and attributes to keep (not with attrs or omit)")]
Omit = Annotated[str | None, Query(description="Entity members and attributes to leave out (not with attrs or pick)")]


def requested_shape(attrs: str | None, pick: str | None, omit: str | None) -> Shape:
    """pick/omit (clause 4.21) as on /entities: names in the request's terms; with each other or attrs a 400. A
    projection of linked entities (``owner{name}``) is a 400 too: the temporal API joins nothing (5.7.4.4), as its
    refusal of such a q says."""
    shape = Shape(attrs=tuple(split(attrs)), pick=parse_projection(pick, "pick"), omit=parse_projection(omit, "omit"))
    for name, text in (("pick", pick), ("omit", omit)):
        if text and "{" in text:
            raise BadRequestData(f"{name} {text!r} projects linked entities: the temporal API joins none (5.7.4.4)")
    return shape


def picked_attributes(shape: Shape) -> list[str]:
    """The attributes a query selects its entities on when only a pick names them (in the request's terms).

    A pick without id and type would leave an entity without history of the picked attributes empty ({}): it
    then selects as attrs does, so that such an entity is neither answered nor counted."""
    if not shape.pick or {"id", "type"} & set(shape.pick):
        return []
    return [name for name in shape.pick if name not in ENTITY_MEMBERS]


def project(entity: dict[str, Any], shape: Shape) -> dict[str, Any]:
    if shape.pick:
        return {k: v for k, v in entity.items() if k in shape.pick}
    if shape.omit:
        return {k: v for k, v in entity.items() if k not in shape.omit}
    return entity


def respond(
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
        body = [project(b, shape) for b in body] if isinstance(body, list) else project(body, shape)
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
