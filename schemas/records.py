"""Validation of every harvested entity: NGSI-LD structure, then its Smart Data Model — fast for valid records.

Most records a harvest sees are valid. For them a compiled Rust validator (jsonschema-rs) answers two yes/no
questions — is the entity a plain, well-formed normalized entity (a generic schema below), and do its key-values
satisfy its model — in a few microseconds. Only a record that fails either takes the detailed Python walk of
``schemas.ngsild`` and ``schemas.sdm``, which gives every finding with its exact JSON pointer. The fast schema only
accepts shapes the detailed walk has nothing to say about, so both paths give the same findings.
"""

from __future__ import annotations

import re
from typing import Any

import jsonschema_rs

from schemas.findings import Finding
from schemas.ngsild import check_entity
from schemas.sdm import SdmValidator, short_type

BBox = tuple[float, float, float, float]
_URI = {"type": "string", "format": "uri"}
_POINT = {
    "type": "object",
    "required": ["type", "coordinates"],
    "additionalProperties": False,
    "properties": {
        "type": {"const": "Point"},
        "coordinates": {
            "type": "array",
            "minItems": 2,
            "maxItems": 3,
            "prefixItems": [
                {"type": "number", "minimum": -180, "maximum": 180},
                {"type": "number", "minimum": -90, "maximum": 90},
            ],
        },
    },
}
_META = {"observedAt": {"type": "string", "format": "date-time"}, "unitCode": {"type": "string", "minLength": 1}}


def _kind(name: str, member: str, schema: dict[str, Any]) -> dict[str, Any]:
    return {
        "required": [member],
        "properties": {"type": {"const": name}, member: schema, **_META},
        "propertyNames": {"enum": ["type", member, *_META]},
    }


PLAIN_NORMALIZED_ENTITY: dict[str, Any] = {
    "$schema": "https://json-schema.org/draft/2020-12/schema",
    "type": "object",
    "required": ["id", "type"],
    # Attribute names are checked by RecordValidator._names (the same pattern): jsonschema-rs's regex made up
    # three quarters of this schema's time (12 → 3 µs per GBFS station without it).
    "properties": {"id": _URI, "type": {"type": "string", "minLength": 1}, "@context": True, "scope": True},
    "additionalProperties": {
        "type": "object",
        "anyOf": [
            _kind("Property", "value", {"not": {"type": "null"}}),
            _kind("GeoProperty", "value", _POINT),
            _kind("Relationship", "object", {"anyOf": [_URI, {"type": "array", "minItems": 1, "items": _URI}]}),
            _kind(
                "LanguageProperty",
                "languageMap",
                {"type": "object", "minProperties": 1, "additionalProperties": {"type": "string"}},
            ),
        ],
    },
}


class RecordValidator:
    """Structure + model findings of normalized entities, with a fast path for the valid ones."""

    def __init__(self, sdm: SdmValidator) -> None:
        self.sdm = sdm
        self._plain = jsonschema_rs.validator_for(PLAIN_NORMALIZED_ENTITY, validate_formats=True)

    @property
    def structural_only(self) -> bool:
        return self.sdm.structural_only

    def check(self, entity: dict[str, Any], bbox: BBox | None = None) -> list[Finding]:
        """Every finding of one normalized entity (structure, location against ``bbox``, its model)."""
        fast = self._fast(entity, bbox)
        if fast is not None:
            return fast
        return check_entity(entity, bbox) + self.sdm.check(entity)

    def _fast(self, entity: dict[str, Any], bbox: BBox | None) -> list[Finding] | None:
        """The findings of a plain valid entity (only undeclared-attribute notes), or None: take the slow path."""
        if not _names_ok(entity) or not self._plain.is_valid(entity) or not _inside(entity, bbox):
            return None
        kind = entity["type"]
        if self.sdm.structural_only:
            return []
        model = short_type(kind)
        validator = self.sdm.fast_validator(model)
        if validator is None:
            return None
        values = _values(entity)
        values["type"] = model
        if not validator.is_valid(values):
            return None
        return self.sdm.undeclared(model, values)


_NAME = re.compile("[^\\s<>\"'=;()]+")  # used with fullmatch: "$" would let a trailing newline through
_GOOD_NAMES: set[str] = set()  # names seen to match _NAME: a harvest repeats the same dozen
GOOD_NAMES_KEPT = 10_000


def _names_ok(entity: dict[str, Any]) -> bool:
    """Every member name is a plain attribute name (no spaces or characters NGSI-LD forbids in names)."""
    for name in entity:
        if name in _GOOD_NAMES:
            continue
        if not _NAME.fullmatch(name):
            return False
        if len(_GOOD_NAMES) >= GOOD_NAMES_KEPT:
            _GOOD_NAMES.clear()
        _GOOD_NAMES.add(name)
    return True


def _values(entity: dict[str, Any]) -> dict[str, Any]:
    """The entity's members with each attribute flattened to its value (object, language map), as the Smart Data
    Model's schema describes them. One loop without a call per attribute: a comprehension calling a helper for
    each of a station's dozen attributes took 2.2 µs, a quarter of the validation (bench/harvest_pipeline.py)."""
    values: dict[str, Any] = {}
    for name, attr in entity.items():
        if type(attr) is not dict:
            values[name] = attr
        elif "value" in attr:
            values[name] = attr["value"]
        elif "object" in attr:
            values[name] = attr["object"]
        else:  # rare: a language map is kept whole for the slow path to flatten properly
            values[name] = None if attr.get("languageMap") is None else attr
    values.pop("@context", None)  # not a member the model describes
    return values


def _inside(entity: dict[str, Any], bbox: BBox | None) -> bool:
    if bbox is None or "location" not in entity:
        return True
    lon, lat = entity["location"]["value"]["coordinates"][:2]
    return bool(bbox[0] <= lon <= bbox[2] and bbox[1] <= lat <= bbox[3])
