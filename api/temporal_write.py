"""The write side of the NGSI-LD temporal API, shared by ``POST /temporal/entities`` and
``POST /temporal/entities/{id}/attrs``: a temporal body split into the entity's current state (the newest instance
of each attribute and datasetId) and the instances of its history, grouped per datasetId.
"""

from __future__ import annotations

from typing import Any, NamedTuple

from fastapi import Request

from api.ngsild_http import JSON, LD_JSON, json_body
from api.temporal_read import VALUE_MEMBERS, instant, kinds
from hub.errors import BadRequestData
from schemas.findings import Severity
from schemas.ngsild import check_geometry, is_absolute_uri

# datasetId (None: the default instance) → [(attribute, ts, value)] of the instances to record.
Rows = dict[str | None, list[tuple[str, float, Any]]]
_MEMBER_NAMES = tuple(dict.fromkeys(member for member, _key in VALUE_MEMBERS.values()))
# The type an untyped instance has by the member carrying its value (``value``: a Property).
_KIND_OF_MEMBER = {member: kind for kind, (member, _key) in reversed(VALUE_MEMBERS.items())}
# Most attribute instances one temporal body may carry (POST /temporal/entities, POST …/attrs). The instances are
# checked and their current state computed in memory before one transaction writes them: 10,000 is a day of
# 10-second readings of one sensor, and about 1 MB of JSON; a longer history goes in several requests.
MAX_BODY_INSTANCES = 10_000


class Split(NamedTuple):
    """A temporal body split: the attributes' current state, the instances to record, and each attribute's type."""

    current: dict[str, Any]
    rows: Rows
    kinds: dict[str, str]


async def json_object(request: Request, what: str) -> dict[str, Any]:
    """The request's JSON object body (415 for another media type, 400 for bad JSON or anything but an object)."""
    body = await json_body(request, (JSON, LD_JSON))
    if not isinstance(body, dict):
        raise BadRequestData(f"{what} is a JSON object")
    return body


def temporal_entity(body: dict[str, Any]) -> dict[str, Any]:
    """A temporal entity body: it needs an absolute URI id and a type (a name, or several as an array, 4.16)."""
    kind = body.get("type")
    names = [kind] if isinstance(kind, str) else kind if isinstance(kind, list) and kind else None
    if not is_absolute_uri(body.get("id")) or names is None or not all(isinstance(n, str) and n for n in names):
        raise BadRequestData("a temporal entity needs an absolute URI id and a type (a name or an array of names)")
    return body


def value_member(instance: Any) -> str | None:
    """The member that carries this instance's value (the one its type names, else the first one present)."""
    if not isinstance(instance, dict):
        return None
    named = VALUE_MEMBERS.get(instance.get("type", ""), ("", ""))[0]
    if named in instance:
        return named
    return next((member for member in _MEMBER_NAMES if member in instance), None)


def split_instances(body: dict[str, Any]) -> Split:
    """The attributes' current state (the newest instance of each datasetId), every timed instance, and the type
    of each attribute.

    ``id``, ``type`` and ``@context`` are not attributes and are left out; ``scope`` is an Entity member, not an
    attribute: it is kept as the entity's scope and has no history here. An attribute of several datasetIds is
    an array of their newest instances in its current state, the default instance first. Instances of one
    attribute of different types, and two instances of one attribute and datasetId at one instant (the history
    keeps one instance per instant: the second would be dropped), are a 400 naming both positions."""
    attributes = {k: v for k, v in body.items() if k not in ("id", "type", "@context")}
    count = sum(len(v) if isinstance(v, list) else 1 for k, v in attributes.items() if k != "scope")
    if count > MAX_BODY_INSTANCES:
        raise BadRequestData(
            f"the body carries {count} attribute instances, more than the limit of {MAX_BODY_INSTANCES} "
            "per request: send the history in several requests"
        )
    current: dict[str, Any] = {}
    rows: Rows = {}
    types: dict[str, str] = {}
    for name, value in attributes.items():
        if name == "scope":
            current[name] = value
            continue
        items = value if isinstance(value, list) else [value]
        members = [value_member(i) for i in items]
        if not items or None in members:
            raise BadRequestData(
                f"attribute {name!r}: each instance needs one of {', '.join(_MEMBER_NAMES)} (as its type says)"
            )
        types[name] = attribute_kind(name, items, [m for m in members if m is not None])
        check_geometries(name, items)
        newest: dict[str | None, tuple[float | None, dict[str, Any]]] = {}
        seen: dict[tuple[str | None, float], int] = {}  # (datasetId, instant) → the position of its instance
        for index, (instance, member) in enumerate(zip(items, members, strict=True)):
            dataset = _dataset_of(name, instance)
            ts = instant(f"{name}.observedAt", instance.get("observedAt"))
            if ts is not None and member is not None:
                _one_per_instant(name, seen, (dataset, ts), index, instance["observedAt"])
                rows.setdefault(dataset, []).append((name, ts, instance[member]))
            held = newest.get(dataset)
            if held is None or (ts or 0.0) > (held[0] or 0.0):  # the first of the newest, as max() picks
                newest[dataset] = (ts, instance)
        # an untyped instance is stored with the type it was read as: the history is rendered with that type
        current[name] = combine([{"type": types[name], **instance} for _ts, instance in newest.values()])
    return Split(current, rows, types)


def _one_per_instant(
    name: str, seen: dict[tuple[str | None, float], int], key: tuple[str | None, float], index: int, at: str
) -> None:
    first = seen.setdefault(key, index)
    if first != index:
        dataset = f"datasetId {key[0]}" if key[0] is not None else "no datasetId (the default instance)"
        raise BadRequestData(
            f"attribute {name!r}: instances {first} and {index} (/{name}/{first}, /{name}/{index}) have the same "
            f"observedAt {at} and {dataset}: the history holds one instance per instant"
        )


def attribute_kind(name: str, items: list[dict[str, Any]], members: list[str]) -> str:
    """The type of an attribute's instances: one for all of them (the first typed one's; untyped ones have the
    type of the member carrying their value), each carrying its value in its type's member, else a 400."""
    typed = [(index, i["type"]) for index, i in enumerate(items) if isinstance(i.get("type"), str)]
    first, kind = typed[0] if typed else (0, _KIND_OF_MEMBER[members[0]])
    for index, (instance, member) in enumerate(zip(items, members, strict=True)):
        own = instance.get("type")
        if isinstance(own, str) and own != kind:
            raise BadRequestData(
                f"attribute {name!r}: instance {index} (/{name}/{index}) is a {own}, instance {first} is a "
                f"{kind}: the instances of one attribute share its type"
            )
        expected = VALUE_MEMBERS.get(kind, (member, ""))[0]
        if member != expected:
            raise BadRequestData(
                f"attribute {name!r}: instance {index} (/{name}/{index}) of a {kind} carries its value in "
                f"{member!r}, a {kind}'s goes in {expected!r}"
            )
    return kind


def same_kinds(stored: str, added: dict[str, str]) -> None:
    """The instances added to a stored entity have the types its attributes have: the history of an attribute
    is rendered with its current type, so instances of another one would change what they mean."""
    held = kinds(stored)
    for name, kind in added.items():
        if name in held and held[name] != kind:
            raise BadRequestData(
                f"attribute {name!r}: the instances sent are {kind} instances, the entity's {name!r} is a "
                f"{held[name]}: the history of one attribute has one type"
            )


def _dataset_of(name: str, instance: dict[str, Any]) -> str | None:
    dataset = instance.get("datasetId")
    if dataset is not None and not is_absolute_uri(dataset):
        raise BadRequestData(f"attribute {name!r}: datasetId {dataset!r} is not an absolute URI")
    return dataset if isinstance(dataset, str) else None


def combine(instances: list[dict[str, Any]]) -> Any:
    """An attribute's instances as an entity holds them: one object, or an array with the default one first."""
    ordered = sorted(instances, key=lambda instance: instance.get("datasetId") is not None)
    return ordered[0] if len(ordered) == 1 else ordered


def merge_current(stored: Any, newer: Any) -> Any:
    """The current state of an attribute once instances were added: per datasetId, the newer of the stored
    instance and the added one (by observedAt; an added instance without one replaces the stored one)."""
    if stored is None:
        return newer
    kept: dict[str | None, dict[str, Any]] = {}
    for instance in stored if isinstance(stored, list) else [stored]:
        if isinstance(instance, dict):
            kept[instance.get("datasetId")] = instance
    for instance in newer if isinstance(newer, list) else [newer]:
        old = kept.get(instance.get("datasetId"))
        if old is None or _newer(instance, old):
            kept[instance.get("datasetId")] = instance
    return combine(list(kept.values()))


def _newer(added: dict[str, Any], stored: dict[str, Any]) -> bool:
    """Whether an added instance replaces the stored one of its datasetId: not observed before it."""
    at, before = added.get("observedAt"), stored.get("observedAt")
    if not isinstance(at, str) or not isinstance(before, str):
        return True
    return (instant("observedAt", at) or 0.0) >= (instant("observedAt", before) or 0.0)


def check_geometries(name: str, items: list[Any]) -> None:
    """Every GeoProperty instance of the history is well-formed GeoJSON, as an entity's current one must be (a
    polygon that is merely not a valid Simple Feature passes, as it does there)."""
    for index, instance in enumerate(items):
        if instance.get("type") != "GeoProperty":
            continue
        findings = check_geometry(instance.get("value"), f"/{name}/{index}/value", None)
        errors = [f for f in findings if f.severity is Severity.ERROR]
        if errors:
            raise BadRequestData(f"{errors[0].pointer}: {errors[0].message}")


class Fragment(NamedTuple):
    """The body of an instance PATCH: the value, the member carrying it, the type named (None: not given), the
    observedAt (None: unchanged) and the datasetId (None: not given)."""

    value: Any
    member: str
    kind: str | None
    observed: float | None
    dataset: str | None

    def check_kind(self, attr: str, kind: str) -> None:
        """The fragment fits an instance of an attribute of type ``kind`` (a PATCH keeps the instance's type)."""
        if self.kind is not None and self.kind != kind:
            raise BadRequestData(
                f"the body is a {self.kind}, attribute {attr!r} is a {kind}: an instance keeps its attribute's type"
            )
        expected = VALUE_MEMBERS.get(kind, (self.member, ""))[0]
        if self.member != expected:
            raise BadRequestData(
                f"attribute {attr!r} is a {kind}: the instance's value goes in {expected!r}, not {self.member!r}"
            )


def instance_fragment(body: dict[str, Any], names: tuple[str, str]) -> Fragment:
    """The body of ``PATCH …/attrs/{attrId}/{instanceId}`` (clause 5.6.14): an instance fragment, or the attribute
    ``names`` (as sent, as stored) holding it (one instance, or an array of one)."""
    held = next((body[name] for name in names if name in body), None)
    if isinstance(held, list):
        if len(held) != 1:
            raise BadRequestData(f"attribute {names[0]!r}: the body modifies one instance, not {len(held)}")
        held = held[0]
    instance = {k: v for k, v in body.items() if k != "@context"} if held is None else held
    member = value_member(instance)
    if member is None:
        raise BadRequestData(f"the instance needs one of {', '.join(_MEMBER_NAMES)} (as its type says)")
    kind = instance.get("type")
    if kind is not None and kind not in VALUE_MEMBERS:
        raise BadRequestData(f"type {kind!r} is not an attribute type: use {', '.join(VALUE_MEMBERS)}")
    check_geometries(names[0], [instance])
    observed, dataset = instance.get("observedAt"), instance.get("datasetId")
    if observed is not None and not isinstance(observed, str):
        raise BadRequestData("observedAt must be an RFC 3339 date-time string")
    if dataset is not None and not isinstance(dataset, str):
        raise BadRequestData("datasetId must be a URI")
    return Fragment(instance[member], member, kind, instant("observedAt", observed), dataset)
