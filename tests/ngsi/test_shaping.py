"""Shaping stored entities: sysAttrs, datasetId, lang, attrs, pick, omit (ngsi/shaping.py)."""

from __future__ import annotations

from datetime import UTC, datetime

import orjson
import pytest

from hub.errors import BadRequestData
from ngsi.representation import Format
from ngsi.shaping import Projection, Shape, parse_lang, parse_members, parse_projection, render_one, shape_entity
from ngsi.store import StoredEntity

ENTITY = {
    "id": "urn:ngsi-ld:T:1",
    "type": "T",
    "name": {"type": "LanguageProperty", "languageMap": {"en": "Bridge", "nb": "Bro", "@none": "Brua"}},
    "temp": [
        {"type": "Property", "value": 1, "datasetId": "urn:a"},
        {"type": "Property", "value": 2},
    ],
    "size": {"type": "Property", "value": 3},
}
STORED = StoredEntity(
    orjson.dumps(ENTITY).decode(),
    datetime(2026, 1, 2, 3, 4, 5, tzinfo=UTC),
    datetime(2026, 2, 3, 4, 5, 6, 789000, tzinfo=UTC),
)


def test_nothing_asked_passes_the_stored_bytes_through() -> None:
    assert render_one(STORED, Shape(), with_context=False) == STORED.data.encode()


def test_sys_attrs_follow_the_entity_members() -> None:
    shaped = shape_entity(STORED, Shape(sys_attrs=True))
    assert list(shaped)[:4] == ["id", "type", "createdAt", "modifiedAt"]
    assert shaped["createdAt"] == "2026-01-02T03:04:05.000Z"
    assert shaped["modifiedAt"] == "2026-02-03T04:05:06.789Z"


def test_dataset_ids() -> None:
    assert shape_entity(STORED, Shape(dataset_ids=("urn:a",)))["temp"] == ENTITY["temp"][0]  # type: ignore[index]
    default = shape_entity(STORED, Shape(dataset_ids=("@none",)))
    assert default["temp"] == {"type": "Property", "value": 2}
    assert default["size"] == ENTITY["size"]
    both = shape_entity(STORED, Shape(dataset_ids=("@none", "urn:a")))
    assert both["temp"] == ENTITY["temp"]


@pytest.mark.parametrize(
    ("tags", "value", "lang"),
    [(("nb",), "Bro", "nb"), (("fr", "en"), "Bridge", "en"), (("fr",), "Brua", "@none")],
)
def test_lang_picks_the_best_language(tags: tuple[str, ...], value: str, lang: str) -> None:
    assert shape_entity(STORED, Shape(lang=tags))["name"] == {"type": "Property", "value": value, "lang": lang}


def test_parse_lang_orders_by_weight_and_drops_zero() -> None:
    assert parse_lang("fr;q=0.2,nb,en;q=0.9,de;q=0") == ("nb", "en", "fr")
    assert parse_lang("*") == ("*",)
    assert parse_lang(None) == ()
    with pytest.raises(BadRequestData, match="not a language tag"):
        parse_lang("en;q=2")


def test_projection() -> None:
    assert set(shape_entity(STORED, Shape(attrs=("size", "other")))) == {"id", "type", "size"}
    assert shape_entity(STORED, Shape(pick=("id", "size"))) == {"id": "urn:ngsi-ld:T:1", "size": ENTITY["size"]}
    assert set(shape_entity(STORED, Shape(omit=("name", "temp", "type")))) == {"id", "size"}
    assert set(shape_entity(STORED, Shape(sys_attrs=True, pick=("createdAt",)))) == {"createdAt"}
    with pytest.raises(BadRequestData, match="pick and omit"):
        Shape(pick=("id",), omit=("type",))
    with pytest.raises(BadRequestData, match="attrs cannot be used"):
        Shape(attrs=("size",), pick=("id",))


@pytest.mark.parametrize(
    ("text", "names"),
    [
        (None, ()),
        ("  ", ()),
        ("id", ("id",)),
        ("id, name ,size", ("id", "name", "size")),
        ("id,locatedAt{name,owner{id}},size", ("id", "locatedAt", "size")),
        ("https://example.org/ns#size,@context", ("https://example.org/ns#size", "@context")),
    ],
)
def test_parse_projection(text: str | None, names: tuple[str, ...]) -> None:
    assert parse_projection(text, "pick") == names


@pytest.mark.parametrize(
    ("text", "needle"),
    [
        ("id;name", "omit: unexpected ';' at position 2"),
        ("id,", "member name expected at position 3 of 'id,', found the end"),
        ("id,,name", "member name expected at position 3"),
        ("a{b", "not closed"),
        ("a{{b}", "member name expected at position 2"),
        ("a{,b}", "member name expected at position 2"),
        ("a{}", "found '}'"),
        ("a}", "unexpected '}'"),
        ("a{b}}", "unexpected '}' at position 4"),
        ("a b", "unexpected 'b'"),
    ],
)
def test_parse_projection_rejects(text: str, needle: str) -> None:
    with pytest.raises(BadRequestData) as raised:
        parse_projection(text, "omit")
    assert needle in str(raised.value)


@pytest.mark.parametrize(("tags", "value", "lang"), [(("*",), "Brua", "@none"), (("fr", "*"), "Brua", "@none")])
def test_lang_any_one_language(tags: tuple[str, ...], value: str, lang: str) -> None:
    assert shape_entity(STORED, Shape(lang=tags))["name"] == {"type": "Property", "value": value, "lang": lang}
    without_none = {**ENTITY, "name": {"type": "LanguageProperty", "languageMap": {"nb": "Bro", "en": "Bridge"}}}
    stored = StoredEntity(orjson.dumps(without_none).decode(), STORED.created_at, STORED.modified_at)
    assert shape_entity(stored, Shape(lang=tags))["name"] == {"type": "Property", "value": "Bro", "lang": "nb"}


def test_shaped_entity_in_key_values_with_context() -> None:
    body = orjson.loads(render_one(STORED, Shape(Format.KEY_VALUES, pick=("id", "size")), with_context=True))
    assert body == {"@context": body["@context"], "id": "urn:ngsi-ld:T:1", "size": 3}


def test_parse_members_keeps_the_linked_projections() -> None:
    picked = parse_members("id, locatedAt{name, isIn{id}} ,size", "pick")
    assert picked == Projection(
        ("id", "locatedAt", "size"),
        linked=(("locatedAt", Projection(("name", "isIn"), linked=(("isIn", Projection(("id",))),))),),
    )
    assert parse_members(" ", "pick") is None


def test_an_omit_with_braces_keeps_the_relationship() -> None:
    """``omit=type,locatedAt{name}`` leaves type out, keeps locatedAt, and leaves name out of the linked entity."""
    omitted = parse_members("type,locatedAt{name}", "omit")
    assert omitted is not None
    assert omitted.names == ("type",)
    assert omitted.linked == (("locatedAt", Projection(("name",), omit=True)),)
    assert parse_projection("type,locatedAt{name}", "omit") == ("type",)
    assert omitted.apply({"id": "x", "type": "T", "locatedAt": {}}) == {"id": "x", "locatedAt": {}}
    assert omitted.linked[0][1].apply({"id": "y", "name": 1, "size": 2}) == {"id": "y", "size": 2}


@pytest.mark.parametrize(
    ("languages", "tags", "value", "lang"),
    [
        ({"fr": "Grand Place", "nl": "Grote Markt"}, ("nl", "fr"), "Grote Markt", "nl"),  # weights sorted already
        ({"fr": "Grand Place", "nl": "Grote Markt"}, ("FR",), "Grand Place", "fr"),  # case-insensitive
        ({"fr": "Grand Place", "nl": "Grote Markt"}, ("nl-BE",), "Grote Markt", "nl"),  # truncated
        ({"de": "Marktplatz", "en-US": "Main Square"}, ("en",), "Main Square", "en-US"),  # a prefix of a longer tag
        ({"de": "Marktplatz", "en-US": "Main Square"}, ("pt", "EN"), "Main Square", "en-US"),
        ({"fr": "Grand Place", "nl": "Grote Markt"}, ("pt",), "Grand Place", "fr"),  # none: any one, named in lang
    ],
)
def test_lang_matches_ranges_as_rfc_4647(
    languages: dict[str, str], tags: tuple[str, ...], value: str, lang: str
) -> None:
    """4.15: language tags compare case-insensitively, a range finds longer tags and truncates onto shorter ones,
    and without any match some language is returned with its tag (ETSI 415_01)."""
    entity = {**ENTITY, "name": {"type": "LanguageProperty", "languageMap": languages}}
    stored = StoredEntity(orjson.dumps(entity).decode(), STORED.created_at, STORED.modified_at)
    assert shape_entity(stored, Shape(lang=tags))["name"] == {"type": "Property", "value": value, "lang": lang}


def test_key_values_per_attribute_type() -> None:
    """4.5.4: bare value, object, valueList, objectList; languageMap, json and vocab wrapped in a one-member object;
    several instances as a dataset map keyed by datasetId, @none for the default instance (ETSI 454_01)."""
    entity = {
        "id": "urn:ngsi-ld:Vehicle:1",
        "type": "Vehicle",
        "speed": [{"type": "Property", "value": 55}, {"type": "Property", "value": 11, "datasetId": "urn:gps"}],
        "brandName": {"type": "LanguageProperty", "languageMap": {"en": "hi"}},
        "street": {"type": "JsonProperty", "json": {"a": 1}},
        "category": {"type": "VocabProperty", "vocab": "non-commercial"},
        "depths": {"type": "ListProperty", "valueList": [1.2, 3.4]},
        "isParked": {"type": "Relationship", "object": "urn:ngsi-ld:OffStreetParking:1"},
        "route": {"type": "ListRelationship", "objectList": ["urn:ngsi-ld:Road:1", "urn:ngsi-ld:Road:2"]},
        "size": {"type": "Property", "value": {"width": 2}},
    }
    stored = StoredEntity(orjson.dumps(entity).decode(), STORED.created_at, STORED.modified_at)
    assert orjson.loads(render_one(stored, Shape(Format.KEY_VALUES), with_context=False)) == {
        "id": "urn:ngsi-ld:Vehicle:1",
        "type": "Vehicle",
        "speed": {"dataset": {"@none": 55, "urn:gps": 11}},
        "brandName": {"languageMap": {"en": "hi"}},
        "street": {"json": {"a": 1}},
        "category": {"vocab": "non-commercial"},
        "depths": [1.2, 3.4],
        "isParked": "urn:ngsi-ld:OffStreetParking:1",
        "route": ["urn:ngsi-ld:Road:1", "urn:ngsi-ld:Road:2"],
        "size": {"width": 2},
    }
    in_english = orjson.loads(render_one(stored, Shape(Format.KEY_VALUES, lang=("en",)), with_context=False))
    assert in_english["brandName"] == "hi"  # with lang a LanguageProperty is a Property: its value is the string
