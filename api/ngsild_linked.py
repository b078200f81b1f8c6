"""Linked entities for the NGSI-LD query and retrieve routes (clause 4.5.23): ``join``/``joinLevel`` read from the
query string or a Query body, and the linked entities fetched level by level for ``ngsi.linked``."""

from __future__ import annotations

from collections.abc import Sequence
from dataclasses import replace
from typing import Any

import orjson

from api.ld import LdRequest
from api.state import HubState
from hub.errors import BadRequestData
from ngsi import linked
from ngsi.q import hops, linked_paths, parse_q, path_text
from ngsi.query import MAX_LIMIT, EntityQuery, Page, Selector, evaluate
from ngsi.shaping import Shape, shape_entity


def join_request(join: Any, level: Any, shape: Shape) -> tuple[linked.Join, int] | None:
    """``join`` and ``joinLevel`` (clause 4.5.23); joinLevel alone joins nothing (it only says how deep). A pick or
    omit reaching into linked entities (``locatedAt{name}``) needs a join (ETSI 5711_01_03)."""
    if level is not None and (not isinstance(level, int) or isinstance(level, bool) or level < 1):
        raise BadRequestData(f"joinLevel {level!r}: an integer from 1 to {linked.MAX_JOIN_LEVEL}")
    if level is not None and level > linked.MAX_JOIN_LEVEL:
        raise BadRequestData(f"joinLevel {level}: at most {linked.MAX_JOIN_LEVEL} (ask again from the last level)")
    if join is None:
        if shape.linked:
            names = ", ".join(name + "{…}" for name, _p in shape.linked)
            raise BadRequestData(f"pick/omit {names} selects members of linked entities: it needs join=inline|flat")
        return None
    if not isinstance(join, str):
        raise BadRequestData(f"join must be a string: flat or inline, not {join!r}")
    try:
        kind = linked.Join(join)
    except ValueError:
        raise BadRequestData(f"join {join!r}: use flat or inline") from None
    return kind, level or 1


def linked_q(q: Any, join: tuple[linked.Join, int] | None) -> None:
    """A q that filters on linked entities (``owner{name}=="x"``, clause 4.9) needs a join at least as deep as its
    deepest path: 400 without one (5.7.2.4: "the use of Linked Entity retrieval is not specified"; ETSI 5722_01_03)
    or with a smaller joinLevel (ETSI 5722_01_04). ``q`` as the client wrote it, so that the detail names its path."""
    depth, path = _deepest(q)
    if not depth:
        return
    if join is None:
        raise BadRequestData(f"q: {path} filters on linked entities: it needs join=inline|flat (joinLevel >= {depth})")
    if depth > join[1]:
        raise BadRequestData(f"q: {path} follows {depth} Relationships, deeper than joinLevel={join[1]}")


def no_linked_q(q: Any) -> None:
    """The temporal API retrieves no linked entities, so a q on them is a 400 (5.7.4.4; ETSI 5741_01_03) rather than
    a filter the answer could not show."""
    depth, path = _deepest(q)
    if depth:
        raise BadRequestData(f"q: {path} filters on linked entities, which temporal queries do not retrieve")


def _deepest(q: Any) -> tuple[int, str]:
    """The Relationship hops of the deepest linked path of ``q`` and that path as q spells it; (0, '') for none."""
    if not isinstance(q, str) or "{" not in q:
        return 0, ""
    paths = linked_paths(parse_q(q))
    if not paths:
        return 0, ""
    deepest = max(paths, key=hops)
    return hops(deepest), path_text(deepest)


def joined(
    state: HubState,
    entities: list[dict[str, Any]],
    shape: Shape,
    ld: LdRequest,
    tenant: str | None,
    join: tuple[linked.Join, int],
    with_context: bool,
) -> list[dict[str, Any]]:
    """The entities with their linked entities (flat or inline), in the requested format."""
    kind, level = join
    # attrs, pick and omit select the requested entities' members; a linked entity's are picked by the braces
    # of its Relationship (shape.linked), else it is answered whole.
    linked_shape = replace(shape, attrs=(), pick=(), omit=(), linked=())

    def fetch(ids: Sequence[str]) -> dict[str, dict[str, Any]]:
        found: dict[str, dict[str, Any]] = {}
        for start in range(0, len(ids), MAX_LIMIT):
            chunk = tuple(ids[start : start + MAX_LIMIT])
            query = EntityQuery((Selector(ids=chunk),))
            with state.db.read() as conn:
                rows = evaluate(conn, query, Page(limit=len(chunk)), tenant=tenant, timestamps=shape.sys_attrs).rows
            for row in rows:
                entity_id = orjson.loads(row.data)["id"]
                found.setdefault(entity_id, shape_entity(ld.entity_out(row), linked_shape))
        return found

    joined = (linked.inline if kind is linked.Join.INLINE else linked.flat)(entities, fetch, level, shape.linked)
    context = {"@context": ld.body_context()} if with_context else {}
    return [{**context, **linked.formatted(e, shape.fmt)} for e in joined]


def body_projection(body: dict[str, Any], name: str) -> str | None:
    """A Query body's ``pick`` or ``omit``: the projection as a string, or an array of its comma-separated parts."""
    value = body.get(name)
    if value is None or isinstance(value, str):
        return value
    if isinstance(value, list) and value and all(isinstance(part, str) for part in value):
        return ",".join(value)
    raise BadRequestData(f"{name} must be a string or an array of strings (entity members and attributes)")
