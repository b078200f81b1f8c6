"""Rules of the NGSI-LD consumption operations that span several parameters (GS CIM 009 clauses 5.7.1.4, 5.7.2.4).

Each parameter is parsed on its own elsewhere (``api.ngsild_params``, ``ngsi.q``, ``ngsi.geo``, ``ngsi.shaping``);
what only the combination can tell — a query too wide to answer, a Linked Entity selection without ``join``, a
GeoJSON parameter on a JSON answer — is decided here, before any SQL runs. Every refusal is 400 BadRequestData.
"""

from __future__ import annotations

from collections.abc import Iterator, Mapping, Sequence
from typing import Any

from hub.errors import BadRequestData, OperationNotSupported
from ngsi.geojson import GEO_JSON
from ngsi.q import And, AttrPath, Node, Or, parse_q
from schemas.ngsild import is_absolute_uri

# System attributes (6.3.11): a query naming only these selects nothing narrower than "every entity".
SYSTEM_NAMES = frozenset({"createdAt", "modifiedAt", "deletedAt", "expiresAt", "observedAt"})


def _paths(node: Node) -> Iterator[AttrPath]:
    if isinstance(node, And | Or):
        for term in node.terms:
            yield from _paths(term)
    else:
        yield node.path


def narrow_enough(
    *, types: str | None, attrs: Sequence[str], q: Node | None, scope_q: str | None, geo: bool, local: bool
) -> None:
    """5.7.2.4: a query needs an entity type, an attribute (attrs or q naming a non-system one), a scopeQ, a
    geo-query or ``local=true``; ids or an idPattern alone are too wide (ETSI 019_03_05, 5722_01_01/02)."""
    named = [p.name for p in _paths(q)] if q is not None else []
    attributes = [a for a in [*attrs, *named] if a not in SYSTEM_NAMES]
    if not (types or attributes or scope_q or geo or local):
        raise BadRequestData(
            "the query is too wide: it needs at least one of type, attrs or q naming a non-system attribute, "
            "scopeQ, a geo-query or local=true (id and idPattern only narrow these)"
        )


def projection_hops(text: str | None, param: str, *, join: bool, join_level: int) -> None:
    """4.21 / 5.7.2.4: each ``{…}`` of a pick/omit selects in a Linked Entity one hop further; it needs ``join``
    and no more hops than ``joinLevel`` (ETSI 019_33, 5711_01_03). The syntax itself is checked by the parser."""
    depth = deepest = 0
    for char in text or "":
        depth += (char == "{") - (char == "}")
        deepest = max(deepest, depth)
    _hops_allowed(param, deepest, join=join, join_level=join_level)


def _hops_allowed(param: str, hops: int, *, join: bool, join_level: int) -> None:
    if hops and not join:
        raise BadRequestData(f"{param} selects in Linked Entities ({{…}}): that needs join=inline or join=flat")
    if hops > join_level:
        raise BadRequestData(f"{param} goes {hops} Linked Entity hops deep, more than joinLevel={join_level}")


def geometry_property(given: bool, media: str) -> None:
    """5.7.1.4 / 5.7.2.4: ``geometryProperty`` belongs to GeoJSON answers (ETSI 019_27_01, 5711_01_02)."""
    if given and media != GEO_JSON:
        raise BadRequestData(f"geometryProperty is only for Accept: {GEO_JSON} (this answer is {media})")


def wildcard_type(types: str | None, *, local_false: bool) -> None:
    """6.4.3.2: ``type=*`` sets local to true implicitly; ``local=false`` with it is contradictory (ETSI 019_26_02)."""
    if types is not None and types.strip() == "*" and local_false:
        raise BadRequestData("type=* implies local=true: it cannot be combined with local=false")


# Query parameters of the standard this hub does not evaluate yet: refused (422 OperationNotSupported), never ignored.
PARAMETERS_NOT_YET = ("csf", "entityMap", "containedBy", "expandValues")


def not_yet(given: Mapping[str, str]) -> None:
    """Parameters of the standard the hub does not evaluate are refused (a malformed csf is still a 400)."""
    context_source_filter(given.get("csf"))
    unsupported = [name for name in PARAMETERS_NOT_YET if name in given]
    if unsupported:
        raise OperationNotSupported(f"query parameter(s) {', '.join(unsupported)} not supported by this hub yet")


def context_source_filter(csf: str | None) -> None:
    """``csf`` must at least parse (5.7.2.4: a syntactically invalid one is BadRequestData, ETSI 5722_01_05);
    the hub holds no registrations to filter yet, so a valid one is still refused by the route."""
    if csf is not None:
        try:
            parse_q(csf)
        except BadRequestData as exc:
            raise BadRequestData(f"csf: {exc.detail}") from None


# The members of a Query body (5.2.23) each operation reads; any other is refused, as a misspelt one ("qq",
# "entites") would otherwise widen the answer without a word.
QUERY_MEMBERS = ("type", "entities", "attrs", "pick", "omit", "q", "geoQ", "scopeQ", "ordering", "datasetId")
ENTITY_QUERY_MEMBERS = (*QUERY_MEMBERS, "lang", "join", "joinLevel", "geometryProperty")
TEMPORAL_QUERY_MEMBERS = (*QUERY_MEMBERS, "temporalQ", "aggrMethods", "aggrPeriodDuration", "aggrParams")
# Members of the standard's Query this hub does not evaluate (no registrations, no distributed operations).
QUERY_MEMBERS_NOT_YET = ("csf", "containedBy", "entityMap")
_QUERY_STRING_ONLY = ("local", "limit", "offset", "count", "format", "options", "lastN")


def query_members(body: dict[str, Any], *, temporal: bool) -> None:
    """A Query body holds only the members its operation reads: one that belongs to the other operation, one the
    hub does not evaluate (422) or a query-string parameter put in the body is refused naming it, as is any
    unknown member."""
    own = TEMPORAL_QUERY_MEMBERS if temporal else ENTITY_QUERY_MEMBERS
    other = "POST /entityOperations/query" if temporal else "POST /temporal/entityOperations/query"
    for name in body:
        if name in own or name == "@context":
            continue
        if name in ENTITY_QUERY_MEMBERS or name in TEMPORAL_QUERY_MEMBERS:
            raise BadRequestData(f"{name} is only for {other} (5.2.23)")
        if name in QUERY_MEMBERS_NOT_YET:
            if name == "csf":
                context_source_filter(body[name] if isinstance(body[name], str) else None)
            raise OperationNotSupported(f"the Query member {name} is not supported by this hub yet")
        if name in _QUERY_STRING_ONLY:
            raise BadRequestData(f"{name} is a query-string parameter, not a member of the Query body")
        raise BadRequestData(f"unknown member {name!r} in the Query body; its members are {', '.join(own)}")


def query_body(body: Any, *, temporal: bool = False) -> None:
    """The members of a Query body (5.2.23) that the evaluation does not read itself: unknown members, arrays given
    empty, pick with omit, joinLevel, and temporalQ, which belongs to the temporal operation (ETSI 019_32)."""
    if not isinstance(body, dict) or body.get("type") != "Query":
        raise BadRequestData('the body must be a Query: a JSON object with "type": "Query"')
    query_members(body, temporal=temporal)
    for name in ("entities", "attrs", "pick", "omit"):
        if name in body and (not isinstance(body[name], list | str) or len(body[name]) == 0):
            raise BadRequestData(f"{name} must be a non-empty array (5.2.23: an empty array is not allowed)")
    if "pick" in body and "omit" in body:
        raise BadRequestData("pick and omit cannot be used together")
    level = body.get("joinLevel")
    if level is not None and (isinstance(level, bool) or not isinstance(level, int) or level < 1):
        raise BadRequestData(f"joinLevel must be a positive integer, got {level!r}")
    if body.get("join") not in (None, "flat", "inline"):
        raise BadRequestData(f"join {body['join']!r}: use flat or inline")


def selector_ids(item: dict[str, Any], *, typed: bool = True) -> tuple[str, ...]:
    """An EntitySelector's ``id`` (5.2.33: a URI or an array of URIs) as a tuple; ``typed``: its ``type`` is
    mandatory (ETSI 5233_01_03)."""
    unknown = sorted(set(item) - {"type", "id", "idPattern"})
    if unknown:
        raise BadRequestData(f"unknown member(s) {', '.join(unknown)} in an EntitySelector; use type, id, idPattern")
    kind = item.get("type")
    if (typed or kind is not None) and (not isinstance(kind, str) or not kind):
        raise BadRequestData("an EntitySelector needs a type (5.2.33); id and idPattern only narrow it")
    value = item.get("id")
    ids = [value] if isinstance(value, str) else value if isinstance(value, list) else [] if value is None else None
    if ids is None or not all(isinstance(i, str) for i in ids):
        raise BadRequestData("an EntitySelector's id is a URI or an array of URIs")
    return tuple(ids)


NONE = "@none"  # the default instance where a datasetId is expected (4.5.5)


def deleted_instances(dataset_id: str | None, delete_all: str | None, *, exclusive: bool) -> tuple[str | None, bool]:
    """The ``datasetId`` and ``deleteAll`` of a DELETE of an attribute (clauses 6.16.3.2, 6.22.3.2): the datasetId
    whose instance goes (None: the default instance; ``@none`` names it too) and whether every instance goes.
    ``exclusive``: both given together are a 400 (else deleteAll wins)."""
    if delete_all not in (None, "true", "false"):
        raise BadRequestData(f"deleteAll {delete_all!r}: use true or false")
    if dataset_id is not None and dataset_id != NONE and not is_absolute_uri(dataset_id):
        raise BadRequestData(f"datasetId {dataset_id!r} is neither an absolute URI nor {NONE}")
    if exclusive and dataset_id is not None and delete_all == "true":
        raise BadRequestData("datasetId and deleteAll=true cannot be used together: deleteAll deletes every datasetId")
    return (None if dataset_id in (None, NONE) else dataset_id), delete_all == "true"
