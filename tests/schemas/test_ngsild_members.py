"""An attribute carries only its own type's value member: a foreign one is an error with its JSON pointer, in the
detailed walk and through the harvest validator (whose fast path must not let it through)."""

from __future__ import annotations

from typing import Any

import pytest

from schemas.findings import Severity
from schemas.ngsild import ATTRIBUTE_VALUE_MEMBER, Form, check_entity
from schemas.records import RecordValidator
from schemas.sdm import SdmValidator

SAMPLE = {
    "Property": 1,
    "GeoProperty": {"type": "Point", "coordinates": [10.7, 59.9]},
    "Relationship": "urn:ngsi-ld:Person:1",
    "LanguageProperty": {"en": "x"},
    "VocabProperty": "term",
    "JsonProperty": {"a": 1},
    "ListProperty": [1, 2],
    "ListRelationship": [{"object": "urn:ngsi-ld:Person:1"}],
}


def _entity(**attrs: Any) -> dict[str, Any]:
    return {"id": "urn:ngsi-ld:T:1", "type": "T", **attrs}


def _errors(entity: dict[str, Any], form: Form = Form.NORMALIZED) -> list[tuple[str, str]]:
    return [(f.pointer, f.message) for f in check_entity(entity, form=form) if f.severity is Severity.ERROR]


@pytest.mark.parametrize("kind", sorted(ATTRIBUTE_VALUE_MEMBER))
def test_each_type_refuses_every_other_value_member(kind: str) -> None:
    own = ATTRIBUTE_VALUE_MEMBER[kind]
    for other_kind, other in ATTRIBUTE_VALUE_MEMBER.items():
        if other == own:
            continue
        attr = {"type": kind, own: SAMPLE[kind], other: SAMPLE[other_kind]}
        errors = _errors(_entity(p=attr))
        assert [p for p, _m in errors] == [f"/p/{other}"], (kind, other, errors)
        assert f"a {kind} has no '{other}'" in errors[0][1]
    assert _errors(_entity(p={"type": kind, own: SAMPLE[kind]})) == []


def test_the_message_names_whose_member_it_is() -> None:
    attr = {"type": "Property", "value": 1, "object": "urn:x:1"}
    assert _errors(_entity(p=attr)) == [("/p/object", "a Property has no 'object' (a Relationship's member)")]
    attr = {"type": "Relationship", "object": "urn:x:1", "value": 2}
    assert _errors(_entity(r=attr)) == [
        ("/r/value", "a Relationship has no 'value' (a Property's or GeoProperty's member)")
    ]


def test_instances_sub_attributes_and_concise_attributes_are_checked_too() -> None:
    instances = [
        {"type": "Property", "value": 1},
        {"type": "Property", "value": 2, "vocab": "x", "datasetId": "urn:d:1"},
    ]
    assert [p for p, _m in _errors(_entity(p=instances))] == ["/p/1/vocab"]
    sub = {"type": "Property", "value": 1, "q": {"type": "Relationship", "object": "urn:x:1", "json": {}}}
    assert [p for p, _m in _errors(_entity(p=sub))] == ["/p/q/json"]
    assert [p for p, _m in _errors(_entity(p={"value": 1, "object": "urn:x:1"}), Form.CONCISE)] == ["/p/object"]


def test_a_harvested_record_with_a_foreign_member_is_an_error_not_a_crash() -> None:
    validator = RecordValidator(SdmValidator(None))
    entity = _entity(speed={"type": "Property", "value": 3, "languageMap": {"en": "x"}})
    findings = validator.check(entity)
    assert [(f.rule, f.severity, f.pointer) for f in findings] == [
        ("ngsild.foreign-member", Severity.ERROR, "/speed/languageMap")
    ]
