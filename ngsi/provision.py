"""Entity provision (create, replace, merge, append, update, delete — one by one or in batches) over ``ngsi.store``.

Pure rules live here; SQL stays in ``ngsi.store``. Bodies may be normalized or concise; they are stored normalized.
The special value ``urn:ngsi-ld:null`` in a merge deletes the attribute (GS CIM 009 clause 5.6.17).
"""

from __future__ import annotations

from typing import Any

import orjson

from hub.errors import BadRequestData
from schemas.findings import Severity
from schemas.ngsild import ATTRIBUTE_VALUE_MEMBER, check_entity

NULL = "urn:ngsi-ld:null"
ENTITY_MEMBERS = frozenset({"id", "type", "scope", "expiresAt", "@context"})
SYSTEM_MEMBERS = frozenset({"createdAt", "modifiedAt", "deletedAt"})  # the broker's to set: ignored on input
GEOMETRIES = frozenset({"Point", "MultiPoint", "LineString", "MultiLineString", "Polygon", "MultiPolygon"})


def _is_geometry(value: Any) -> bool:
    return isinstance(value, dict) and value.get("type") in GEOMETRIES and "coordinates" in value


def normalize_attribute(value: Any) -> Any:
    """A concise or normalized attribute (or a list of instances) in normalized form."""
    if isinstance(value, list) and value and all(isinstance(v, dict) and _is_attribute(v) for v in value):
        return [normalize_attribute(v) for v in value]
    if isinstance(value, dict) and value.get("type") in ATTRIBUTE_VALUE_MEMBER:
        return value
    if isinstance(value, dict) and _is_attribute(value):
        kind = _concise_kind(value)
        return {"type": kind, **value}
    return {"type": "GeoProperty" if _is_geometry(value) else "Property", "value": value}


def _is_attribute(value: dict[str, Any]) -> bool:
    return any(member in value for member in ATTRIBUTE_VALUE_MEMBER.values())


MAX_ID_LENGTH = 512  # ngsi_entities.id
MAX_TYPE_LENGTH = 256  # ngsi_entities.type


def _concise_kind(value: dict[str, Any]) -> str:
    if "value" in value:
        return "GeoProperty" if _is_geometry(value["value"]) else "Property"
    return next(kind for kind, member in ATTRIBUTE_VALUE_MEMBER.items() if member in value and kind != "GeoProperty")


def normalize_entity(body: dict[str, Any]) -> dict[str, Any]:
    """An entity body as stored: normalized attributes, no @context (terms are kept as sent)."""
    if not isinstance(body.get("id"), str) or not body.get("type"):
        raise BadRequestData("an entity needs an id (absolute URI) and a type")
    entity: dict[str, Any] = {"id": body["id"], "type": body["type"]}
    for member in ("scope", "expiresAt"):  # expiresAt: a system temporal member the client sets (6.3.11)
        if member in body:
            entity[member] = body[member]
    for name, value in body.items():
        if name not in ENTITY_MEMBERS and name not in SYSTEM_MEMBERS:
            entity[name] = normalize_attribute(value)
    return entity


def checked(entity: dict[str, Any]) -> dict[str, Any]:
    """The entity, or BadRequestData naming the first structural error (with its JSON pointer)."""
    for member, most in (("id", MAX_ID_LENGTH), ("type", MAX_TYPE_LENGTH)):
        if isinstance(entity.get(member), str) and len(entity[member]) > most:
            # the columns' lengths: PostgreSQL would refuse the row with an error (SQLite would store it)
            raise BadRequestData(f"/{member}: longer than {most} characters (the limit)")
    errors = [f for f in check_entity(entity) if f.severity is Severity.ERROR]
    if errors:
        first = errors[0]
        more = f" (and {len(errors) - 1} more)" if len(errors) > 1 else ""
        raise BadRequestData(f"{first.pointer or '/'}: {first.message}{more}")
    return entity


def same_entity(body: dict[str, Any], entity_id: str) -> None:
    """BadRequestData when a body's ``id`` names another entity than the path does, or its ``id`` or ``type`` is
    null (a merge-patch's null deletes; an entity's id and type cannot be deleted). An ``id`` equal to the path's
    is allowed (clients often send the whole entity)."""
    for member in ("id", "type"):
        if member in body and body[member] in (None, NULL):
            raise BadRequestData(f"/{member}: {_json(body[member])}: an entity's {member} cannot be deleted")
    if "id" in body and body["id"] != entity_id:
        raise BadRequestData(f"/id: {body['id']!r} differs from the entity in the path ({entity_id!r})")


def _json(value: Any) -> str:
    """A value as the client wrote it (JSON, not a Python repr), for a detail."""
    return orjson.dumps(value).decode()


def _types(value: Any) -> list[str]:
    return value if isinstance(value, list) else [value]


def with_types(stored: dict[str, Any], body: dict[str, Any]) -> dict[str, Any]:
    """``stored`` with the types of ``body`` it lacks added (clause 4.16: append, update and merge add types; only
    a replace removes one). No ``type`` in the body: ``stored`` as is."""
    if "type" not in body:
        return stored
    sent = _types(body["type"])
    if not sent or not all(isinstance(t, str) and t.strip() for t in sent):
        raise BadRequestData(f"/type: {_json(body['type'])} is not a type name or an array of them")
    types = _types(stored["type"])
    added = [t for n, t in enumerate(sent) if t not in types and t not in sent[:n]]
    if not added:
        return stored
    merged = types + added
    return {**stored, "type": merged[0] if len(merged) == 1 else merged}


def merge(stored: dict[str, Any], patch: dict[str, Any]) -> dict[str, Any]:
    """Merge-patch: attributes in ``patch`` replace or add; ``urn:ngsi-ld:null`` values delete; its types join the
    entity's."""
    merged = dict(with_types(stored, patch))
    for name, value in patch.items():
        if name in ("id", "type", "@context") or name in SYSTEM_MEMBERS:
            continue
        if name == "expiresAt":  # an entity member, not an attribute (6.3.11); null removes it
            if value == NULL:
                merged.pop(name, None)
            else:
                merged[name] = value
            continue
        if is_null(value):  # deletes the instance of that datasetId (none: the default one)
            kept = [i for i in _items(merged.get(name)) if _dataset(i) != _dataset(value)]
            if kept:
                merged[name] = _combined(kept)
            else:
                merged.pop(name, None)
        elif name in merged:
            merged[name], _done = _placed(merged[name], normalize_attribute(value), replace=True, add=True)
        else:
            merged[name] = normalize_attribute(value)
    return merged


_NULL_MEMBERS = ("value", "object", "vocab", "json", "valueList", "objectList")


def is_null(attribute: Any) -> bool:
    """An attribute (instance) whose value is NGSI-LD Null (4.5.0): ``urn:ngsi-ld:null`` in its value member (a
    LanguageProperty's ``{"@none": "urn:ngsi-ld:null"}``), or as a concise value. Such a write deletes it."""
    if not isinstance(attribute, dict):
        return bool(attribute == NULL)
    if any(attribute.get(member) == NULL for member in _NULL_MEMBERS):
        return True
    languages = attribute.get("languageMap")
    return bool(languages == NULL or languages == {"@none": NULL})


def _items(attr: Any) -> list[Any]:
    """The instances of an attribute as stored or sent: one object, or an array of them (none for None)."""
    if attr is None:
        return []
    return attr if isinstance(attr, list) else [attr]


def _dataset(instance: Any) -> Any:
    return instance.get("datasetId") if isinstance(instance, dict) else None


def _combined(instances: list[Any]) -> Any:
    """Instances as an entity holds them: one object, or an array with the default instance first."""
    ordered = sorted(instances, key=lambda instance: _dataset(instance) is not None)
    return ordered[0] if len(ordered) == 1 else ordered


def _placed(stored: Any, added: Any, *, replace: bool, add: bool) -> tuple[Any, bool]:
    """``stored`` (an attribute) with the instances of ``added`` put in by datasetId (5.6.2, 5.6.3): an instance
    of a datasetId the attribute holds replaces that one when ``replace``, one of another datasetId joins it when
    ``add``. True when every instance was put in."""
    instances, done = list(_items(stored)), True
    for new in _items(added):
        at = next((n for n, old in enumerate(instances) if _dataset(old) == _dataset(new)), None)
        if at is None and add:
            instances.append(new)
        elif at is not None and replace:
            instances[at] = new
        else:
            done = False
    return _combined(instances), done


def append(stored: dict[str, Any], attrs: dict[str, Any], *, overwrite: bool) -> tuple[dict[str, Any], list[str]]:
    """Add attributes, instance by datasetId: an instance replaces the attribute's instance of the same datasetId
    (none: the default one), or joins the attribute; with ``overwrite=False`` existing instances are kept, and an
    attribute with one of them is reported as not updated. The body's types join the entity's."""
    merged, skipped = dict(with_types(stored, attrs)), []
    for name, value in attrs.items():
        if name in ENTITY_MEMBERS or name in SYSTEM_MEMBERS:
            continue
        if name not in merged:
            merged[name] = normalize_attribute(value)
            continue
        merged[name], done = _placed(merged[name], normalize_attribute(value), replace=overwrite, add=True)
        if not done:
            skipped.append(name)
    return merged, skipped


def update(stored: dict[str, Any], attrs: dict[str, Any]) -> tuple[dict[str, Any], list[str]]:
    """Replace existing attribute instances only (by datasetId; none: the default instance); an attribute the
    entity lacks, or an instance of a datasetId it does not hold, is reported as not updated. The body's types join
    the entity's."""
    merged, missing = dict(with_types(stored, attrs)), []
    for name, value in attrs.items():
        if name in ENTITY_MEMBERS or name in SYSTEM_MEMBERS:
            continue
        if name not in merged:
            missing.append(name)
            continue
        merged[name], done = _placed(merged[name], normalize_attribute(value), replace=True, add=False)
        if not done:
            missing.append(name)
    return merged, missing


def patched(attribute: Any, fragment: dict[str, Any], name: str) -> Any:
    """The attribute ``name`` with ``fragment`` merged into its instance of the fragment's datasetId (none: the
    default instance), as a partial attribute update does (5.6.4); None when it has no such instance.

    A fragment whose ``type`` differs from the instance's is a BadRequestData: merged member by member, the old
    type's value member would stay beside the new one (the ETSI suite, 012_02_03, expects the 400; a client that
    means to change the type replaces the attribute). An empty fragment is one too (012_02_04)."""
    if not fragment:
        raise BadRequestData(f"the fragment for attribute {name!r} is empty: nothing to update")
    instances = list(_items(attribute))
    at = next((n for n, old in enumerate(instances) if _dataset(old) == fragment.get("datasetId")), None)
    if at is None:
        return None
    current = instances[at] if isinstance(instances[at], dict) else {}
    kind = fragment.get("type")
    if kind is not None and kind != current.get("type"):
        raise BadRequestData(
            f"/type: attribute {name!r} is a {current.get('type')}; a partial update cannot make it a {kind} "
            "(replace the attribute to change its type)"
        )
    instances[at] = {**current, **fragment}
    return _combined(instances)


def without_instances(attribute: Any, dataset_id: str | None, *, everything: bool) -> tuple[Any, int]:
    """What is left of an attribute once its instance of ``dataset_id`` (None: the default instance, the one
    without a datasetId) or, with ``everything``, all of them are deleted (None: nothing), and how many went.

    An attribute that is not an array of instances (one instance, or a value such as the scope) is one instance."""
    several = isinstance(attribute, list) and bool(attribute) and all(isinstance(i, dict) for i in attribute)
    items: list[Any] = attribute if several else [attribute]
    if everything:
        return None, len(items)
    kept = [i for i in items if (i.get("datasetId") if isinstance(i, dict) else None) != dataset_id]
    gone = len(items) - len(kept)
    if not kept:
        return None, gone
    return (kept[0] if len(kept) == 1 else kept), gone
