"""Payloads for clients of an earlier NGSI-LD version (GS CIM 009 clause 4.3.6.8, backwards compatibility).

A client may say it only understands responses of a given version (HTTP: ``Prefer: ngsi-ld=1.5``, RFC 7240); the
broker then "endeavours to amend its payload": an attribute type introduced after that version is reformatted as
the type the client knows (Table 4.3.6.8-1). Pure functions over parsed entities.
"""

from __future__ import annotations

import re
from typing import Any

from hub.errors import BadRequestData

_PREFER = re.compile(r"(?:^|[,;])\s*ngsi-ld\s*=\s*\"?([^\s,;\"]*)\"?", re.IGNORECASE)
_VERSION = re.compile(r"([0-9]+)\.([0-9]+)")
# attribute type → (the version that introduced it, the type it falls back to, its value member → the fallback's)
_FALLBACKS: dict[str, tuple[tuple[int, int], str, str, str]] = {
    "LanguageProperty": ((1, 4), "Property", "languageMap", "value"),
    "VocabProperty": ((1, 8), "Property", "vocab", "value"),
    "JsonProperty": ((1, 8), "Property", "json", "value"),
    "ListProperty": ((1, 8), "Property", "valueList", "value"),
    "ListRelationship": ((1, 8), "Relationship", "objectList", "object"),
}


def preferred_version(prefer: str | None) -> str | None:
    """The ``ngsi-ld=<major.minor>`` preference of a Prefer header, or None; 400 for a malformed version."""
    match = _PREFER.search(prefer or "")
    if match is None:
        return None
    if not _VERSION.fullmatch(match.group(1)):
        raise BadRequestData(f"Prefer: ngsi-ld={match.group(1)!r} is not a version such as 1.5")
    return match.group(1)


def _amend_attr(attr: Any, version: tuple[int, int]) -> tuple[Any, bool]:
    if isinstance(attr, list):
        pairs = [_amend_attr(a, version) for a in attr]
        return [a for a, _ in pairs], any(changed for _, changed in pairs)
    if not isinstance(attr, dict) or attr.get("type") not in _FALLBACKS:
        return attr, False
    since, fallback, member, into = _FALLBACKS[attr["type"]]
    if version >= since or member not in attr:
        return attr, False
    rest = {k: v for k, v in attr.items() if k not in ("type", member)}
    return {"type": fallback, into: attr[member], **rest}, True


def amend(entity: dict[str, Any], version: str) -> tuple[dict[str, Any], bool]:
    """The entity as a client of ``version`` reads it, and whether anything had to change (then HTTP 203)."""
    match = _VERSION.fullmatch(version)
    if match is None:
        raise BadRequestData(f"NGSI-LD version {version!r} is not major.minor")
    wanted = (int(match.group(1)), int(match.group(2)))
    out: dict[str, Any] = {}
    changed = False
    for name, value in entity.items():
        out[name], touched = _amend_attr(value, wanted)
        changed = changed or touched
    return out, changed
