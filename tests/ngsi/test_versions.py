"""Payloads amended for clients of an earlier NGSI-LD version (ngsi/versions.py, clause 4.3.6.8)."""

from __future__ import annotations

import pytest

from hub.errors import BadRequestData
from ngsi.versions import amend, preferred_version

ENTITY = {
    "id": "urn:ngsi-ld:Building:1",
    "type": "Building",
    "category": {"type": "VocabProperty", "vocab": "commercial", "observedAt": "2026-01-01T00:00:00Z"},
    "doc": {"type": "JsonProperty", "json": {"a": 1}},
    "depths": [{"type": "ListProperty", "valueList": [1, 2], "datasetId": "urn:a"}],
    "roads": {"type": "ListRelationship", "objectList": ["urn:r:1"]},
    "name": {"type": "LanguageProperty", "languageMap": {"en": "Hall"}},
    "size": {"type": "Property", "value": 3},
}


@pytest.mark.parametrize(
    ("prefer", "version"),
    [("ngsi-ld=1.5", "1.5"), ('return=minimal, ngsi-ld="1.9"', "1.9"), ("respond-async", None), (None, None)],
)
def test_preferred_version(prefer: str | None, version: str | None) -> None:
    assert preferred_version(prefer) == version


def test_a_malformed_version_is_refused() -> None:
    with pytest.raises(BadRequestData):
        preferred_version("ngsi-ld=latest")


def test_types_of_later_versions_fall_back() -> None:
    """Table 4.3.6.8-1: VocabProperty, JsonProperty, ListProperty (1.8) become Properties, ListRelationship a
    Relationship; LanguageProperty (1.4) a Property holding the map (ETSI 436_08_01)."""
    amended, changed = amend(ENTITY, "1.3")
    assert changed
    assert amended["category"] == {"type": "Property", "value": "commercial", "observedAt": "2026-01-01T00:00:00Z"}
    assert amended["doc"] == {"type": "Property", "value": {"a": 1}}
    assert amended["depths"] == [{"type": "Property", "value": [1, 2], "datasetId": "urn:a"}]
    assert amended["roads"] == {"type": "Relationship", "object": ["urn:r:1"]}
    assert amended["name"] == {"type": "Property", "value": {"en": "Hall"}}
    assert amended["size"] == ENTITY["size"]
    five, _ = amend(ENTITY, "1.5")
    assert five["name"] == ENTITY["name"]  # a LanguageProperty is understood since 1.4


def test_the_current_version_changes_nothing() -> None:
    """4.3.6.8: a payload that already conforms is returned unaltered (ETSI 436_08_02)."""
    assert amend(ENTITY, "1.9") == (ENTITY, False)
    assert amend(ENTITY, "1.8") == (ENTITY, False)
