"""Entity representations: normalized (as stored), concise and keyValues (GS CIM 009, clause 4.5)."""

from __future__ import annotations

from enum import StrEnum
from typing import Any

import orjson

from ngsi.context import CORE_CONTEXT

VALUE_MEMBERS = ("value", "object", "languageMap", "vocab", "json", "valueList", "objectList")
# 4.5.4: in keyValues these stay wrapped in a one-member object ({"languageMap": {…}}), so that a client can tell
# a language map, a JSON value or a vocabulary term from a Property whose value is an object or a string.
WRAPPED_MEMBERS = frozenset({"languageMap", "vocab", "json"})
ENTITY_MEMBERS = frozenset({"id", "type", "scope", "createdAt", "modifiedAt", "expiresAt", "@context"})
EXPIRES_AT = "expiresAt"  # 6.3.11: a system temporal attribute, shown (entity and attribute level) with sysAttrs only
NONE_DATASET = "@none"


class Format(StrEnum):
    NORMALIZED = "normalized"
    CONCISE = "concise"
    KEY_VALUES = "keyValues"


def _key_value(attr: Any) -> Any:
    """4.5.4: the value (object, valueList, objectList) of an attribute; a languageMap, json or vocab wrapped in a
    one-member object; several instances as ``{"dataset": {<datasetId> | "@none": value}}``."""
    if isinstance(attr, list):
        if not all(isinstance(a, dict) for a in attr):
            return attr
        return {"dataset": {str(a.get("datasetId", NONE_DATASET)): _key_value(a) for a in attr}}
    if not isinstance(attr, dict):
        return attr
    for member in VALUE_MEMBERS:
        if member in attr:
            return {member: attr[member]} if member in WRAPPED_MEMBERS else attr[member]
    return attr


def _concise(attr: Any) -> Any:
    if isinstance(attr, list):
        return [_concise(a) for a in attr]
    if not isinstance(attr, dict):
        return attr
    kind = attr.get("type")
    bare = set(attr) == {"type", "value"}
    if bare and (kind == "GeoProperty" or (kind == "Property" and not isinstance(attr["value"], dict))):
        return attr["value"]  # a GeoJSON value identifies itself; an object value stays wrapped
    return {k: _concise(v) if isinstance(v, dict) else v for k, v in attr.items() if k != "type"}


def render(stored: str, fmt: Format, *, with_context: bool, context: Any = CORE_CONTEXT) -> bytes:
    """One stored entity in the requested format, with ``context`` (the core @context) in the body when asked."""
    if fmt is Format.NORMALIZED:
        if not with_context:
            return stored.encode()
        # Splice the @context in without a parse/serialise round trip: stored JSON always starts with "{".
        return b'{"@context":' + orjson.dumps(context) + b"," + stored[1:].encode()
    return render_entity(orjson.loads(stored), fmt, with_context=with_context, context=context)


def render_entity(entity: dict[str, Any], fmt: Format, *, with_context: bool, context: Any = CORE_CONTEXT) -> bytes:
    """One entity already parsed (and perhaps shaped: pick, lang…) in the requested format."""
    out: dict[str, Any] = {"@context": context} if with_context else {}
    if fmt is Format.NORMALIZED:
        out.update(entity)
        return orjson.dumps(out)
    shaper = _key_value if fmt is Format.KEY_VALUES else _concise
    out.update({k: v if k in ENTITY_MEMBERS else shaper(v) for k, v in entity.items()})
    return orjson.dumps(out)


def render_list(rows: list[str], fmt: Format, *, with_context: bool, context: Any = CORE_CONTEXT) -> bytes:
    return b"[" + b",".join(render(row, fmt, with_context=with_context, context=context) for row in rows) + b"]"
