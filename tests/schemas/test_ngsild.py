"""Hand-written NGSI-LD structure checks: attributes of every kind, GeoJSON, time stamps, datasetIds, @context."""

from __future__ import annotations

import json
from datetime import timedelta, timezone
from pathlib import Path
from typing import Any

import pytest
from hypothesis import given, settings
from hypothesis import strategies as st

from schemas.findings import Finding, Severity
from schemas.ngsild import (
    Form,
    check_entity,
    check_geometry,
    check_point,
    detect_form,
    is_rfc3339,
    normalize_datetime,
)

OSLO_BBOX = (10.48, 59.80, 10.95, 60.14)
ID = "urn:ngsi-ld:BikeHireDockingStation:oslo:oslobysykkel:2351"
Row = tuple[str, str, str]  # rule, severity, pointer


def entity(**attrs: Any) -> dict[str, Any]:
    return {"id": ID, "type": "BikeHireDockingStation", **attrs}


def rows(findings: list[Finding]) -> list[Row]:
    return [(f.rule, f.severity.value, f.pointer) for f in findings]


def point(lon: float, lat: float) -> dict[str, Any]:
    return {"type": "GeoProperty", "value": {"type": "Point", "coordinates": [lon, lat]}}


def test_a_complete_normalized_entity_is_clean() -> None:
    good = entity(
        name={"type": "LanguageProperty", "languageMap": {"nb": "Sogn Studentby", "en": "Sogn student village"}},
        location=point(10.7278, 59.9521),
        availableBikeNumber={
            "type": "Property",
            "value": 4,
            "observedAt": "2025-04-01T00:12:06Z",
            "unitCode": "C62",
            "reliability": {"type": "Property", "value": 0.9},
        },
        refOperator={"type": "Relationship", "object": "urn:ngsi-ld:Organization:uip"},
        category={"type": "VocabProperty", "vocab": ["bikeSharing", "docked"]},
        raw={"type": "JsonProperty", "json": {"any": ["json"]}},
        history={"type": "ListProperty", "valueList": [1, 2, 3]},
        neighbours={"type": "ListRelationship", "objectList": [{"object": "urn:ngsi-ld:X:1"}]},
        modifiedAt="2025-04-01T00:12:06.123+02:00",
    )
    good["@context"] = ["https://example.org/ctx.jsonld", {"sdm": "https://smartdatamodels.org/"}]
    assert check_entity(good, OSLO_BBOX) == []


@pytest.mark.parametrize(
    ("changes", "expected"),
    [
        ({"id": "2351"}, [("ngsild.id", "error", "/id")]),
        ({"type": ""}, [("ngsild.type", "error", "/type")]),
        ({"type": []}, [("ngsild.type", "error", "/type")]),
        ({"status": "working"}, [("ngsild.attribute", "error", "/status")]),
        ({"status": {"type": "Value", "value": 1}}, [("ngsild.attribute-type", "error", "/status/type")]),
        ({"status": {"type": "Property"}}, [("ngsild.attribute-value", "error", "/status")]),
        ({"status": {"type": "Property", "value": None}}, [("ngsild.null-value", "error", "/status/value")]),
        ({"bad name": {"type": "Property", "value": 1}}, [("ngsild.attribute-name", "error", "/bad name")]),
        (
            {"ref": {"type": "Relationship", "object": "Organization 1"}},
            [("ngsild.relationship-object", "error", "/ref/object")],
        ),
        (
            {"ref": {"type": "Relationship", "object": ["urn:a:1", 7]}},
            [("ngsild.relationship-object", "error", "/ref/object")],
        ),
        (
            {"refs": {"type": "ListRelationship", "objectList": [{"object": "urn:a:1"}, {"object": "x"}]}},
            [("ngsild.relationship-object", "error", "/refs/objectList/1")],
        ),
        (
            {"refs": {"type": "ListRelationship", "objectList": "urn:a:1"}},
            [("ngsild.list", "error", "/refs/objectList")],
        ),
        ({"v": {"type": "ListProperty", "valueList": 3}}, [("ngsild.list", "error", "/v/valueList")]),
        ({"v": {"type": "VocabProperty", "vocab": 3}}, [("ngsild.vocab", "error", "/v/vocab")]),
        ({"n": {"type": "LanguageProperty", "languageMap": {}}}, [("ngsild.language-map", "error", "/n/languageMap")]),
        (
            {"n": {"type": "LanguageProperty", "languageMap": {"nb": "a", "not a tag": "b"}}},
            [("ngsild.language-map", "error", "/n/languageMap/not a tag")],
        ),
        (
            {"n": {"type": "LanguageProperty", "languageMap": {"nb": ["a", 2]}}},
            [("ngsild.language-map", "error", "/n/languageMap/nb")],
        ),
        ({"@context": 42}, [("ngsild.context", "error", "/@context")]),
        ({"@context": ["https://example.org/c.jsonld", "ctx.jsonld"]}, [("ngsild.context", "error", "/@context/1")]),
        (
            {"p": {"type": "Property", "value": 1, "unitCode": ""}},
            [("ngsild.unit-code", "error", "/p/unitCode")],
        ),
        (
            {"p": {"type": "Property", "value": 1, "datasetId": "ebike"}},
            [("ngsild.dataset-id", "error", "/p/datasetId")],
        ),
        (
            {"p": {"type": "Property", "value": 1, "observedAt": "yesterday"}},
            [("ngsild.datetime", "error", "/p/observedAt")],
        ),
        (
            {"p": {"type": "Property", "value": 1, "sub": {"type": "Property", "value": 2, "observedAt": "nope"}}},
            [("ngsild.datetime", "error", "/p/sub/observedAt")],
        ),
        ({"p": {"type": "Property", "value": 1, "sub": 2}}, [("ngsild.attribute", "error", "/p/sub")]),
        ({"createdAt": "2025-13-01T00:00:00Z"}, [("ngsild.datetime", "error", "/createdAt")]),
    ],
)
def test_one_defect_one_finding(changes: dict[str, Any], expected: list[Row]) -> None:
    assert rows(check_entity({**entity(), **changes})) == expected


def test_a_naive_time_stamp_is_a_warning_with_the_normalised_value() -> None:
    found = check_entity(entity(p={"type": "Property", "value": 1, "observedAt": "2025-04-01T02:12:06"}))
    assert found == [
        Finding(
            "ngsild.naive-datetime",
            Severity.WARNING,
            "/p/observedAt",
            "observedAt '2025-04-01T02:12:06' is not RFC 3339 with a time zone; read as 2025-04-01T02:12:06Z",
            "2025-04-01T02:12:06Z",
        )
    ]
    oslo_summer = timezone(timedelta(hours=2))
    [local] = check_entity(entity(modifiedAt="2025-04-01 02:12:06"), assume_tz=oslo_summer)
    assert (local.pointer, local.normalized) == ("/modifiedAt", "2025-04-01T02:12:06+02:00")


def test_multi_attributes_need_distinct_dataset_ids() -> None:
    instances = [
        {"type": "Property", "value": 3},
        {"type": "Property", "value": 1, "datasetId": "urn:ngsi-ld:Dataset:ebike"},
        {"type": "Property", "value": 2, "datasetId": "urn:ngsi-ld:Dataset:ebike"},
        {"type": "Property", "value": 0},
    ]
    assert rows(check_entity(entity(availableBikeNumber=instances))) == [
        ("ngsild.dataset-id-duplicate", "error", "/availableBikeNumber/2/datasetId"),
        ("ngsild.dataset-id-duplicate", "error", "/availableBikeNumber/3"),
    ]


# -- GeoJSON -----------------------------------------------------------------------------------------------------------

SQUARE = [[10.7, 59.9], [10.8, 59.9], [10.8, 60.0], [10.7, 60.0], [10.7, 59.9]]
BOW_TIE = [[10.7, 59.9], [10.8, 60.0], [10.8, 59.9], [10.7, 60.0], [10.7, 59.9]]  # crosses itself at its centre
HOLE_OUTSIDE = [[10.9, 59.9], [10.95, 59.9], [10.95, 59.95], [10.9, 59.9]]


@pytest.mark.parametrize(
    ("geometry", "expected"),
    [
        ({"type": "Polygon", "coordinates": [SQUARE]}, []),
        ({"type": "MultiPolygon", "coordinates": [[SQUARE], [SQUARE]]}, []),
        ({"type": "LineString", "coordinates": SQUARE[:2]}, []),
        ({"type": "MultiPoint", "coordinates": SQUARE[:3]}, []),
        ({"type": "GeometryCollection", "geometries": [{"type": "Point", "coordinates": [10.7, 59.9]}]}, []),
        ({"type": "Polygon", "coordinates": [SQUARE[:4]]}, [("geojson.ring-not-closed", "error", "/g/coordinates/0")]),
        (
            {"type": "MultiPolygon", "coordinates": [[SQUARE], [[SQUARE[0], SQUARE[1], SQUARE[0]]]]},
            [("geojson.ring-too-short", "error", "/g/coordinates/1/0")],
        ),
        # Not valid Simple Features, but well-formed GeoJSON: stored as sent, with a warning.
        ({"type": "Polygon", "coordinates": [BOW_TIE]}, [("geojson.invalid-polygon", "warning", "/g/coordinates")]),
        (
            {"type": "MultiPolygon", "coordinates": [[SQUARE], [BOW_TIE]]},
            [("geojson.invalid-polygon", "warning", "/g/coordinates/1")],
        ),
        (
            {"type": "Polygon", "coordinates": [SQUARE, HOLE_OUTSIDE]},
            [("geojson.invalid-polygon", "warning", "/g/coordinates")],
        ),
        ({"type": "LineString", "coordinates": [SQUARE[0]]}, [("geojson.coordinates", "error", "/g/coordinates")]),
        ({"type": "Polygon", "coordinates": SQUARE}, [("geojson.coordinates", "error", "/g/coordinates")]),
        ({"type": "Point", "coordinates": ["10.7", 59.9]}, [("geojson.coordinates", "error", "/g/coordinates")]),
        ({"type": "Point", "coordinates": [190.0, 59.9]}, [("geojson.range", "error", "/g/coordinates")]),
        ({"type": "Circle", "coordinates": [10.7, 59.9]}, [("geojson.type", "error", "/g")]),
        ({"type": "GeometryCollection"}, [("geojson.coordinates", "error", "/g/geometries")]),
        (
            {"type": "LineString", "coordinates": [[59.9, 10.7], [60.0, 10.8]]},
            [("geojson.lonlat-order", "error", "/g/coordinates/0")],
        ),
        (
            {"type": "LineString", "coordinates": [[10.7, 59.9], [5.3, 60.4], [5.4, 60.4]]},
            [("geojson.outside-area", "warning", "/g/coordinates/1")],
        ),
    ],
)
def test_geometries(geometry: dict[str, Any], expected: list[Row]) -> None:
    assert rows(check_geometry(geometry, "/g", OSLO_BBOX)) == expected


def test_a_polygon_crossing_itself_is_named_and_place_given() -> None:
    [found] = check_geometry({"type": "Polygon", "coordinates": [BOW_TIE]}, "/location/value", OSLO_BBOX)
    assert found.message.startswith("the Polygon is not a valid Simple Feature (Self-intersection[10.75 59.95])")
    assert "stored as sent" in found.message


def test_outside_positions_are_counted_in_one_finding() -> None:
    [found] = check_geometry({"type": "MultiPoint", "coordinates": [[5.3, 60.4], [5.4, 60.4]]}, "/g", OSLO_BBOX)
    assert found.message == "[5.3, 60.4] is outside the city's bounding box (and 1 more positions)"


def test_check_point_keeps_its_contract() -> None:
    assert check_point({"type": "Point", "coordinates": [10.7278, 59.9521]}, "/location/value", OSLO_BBOX) == []
    [swapped] = check_point({"type": "Point", "coordinates": [59.9521, 10.7278]}, "/location/value", OSLO_BBOX)
    assert (swapped.rule, swapped.pointer) == ("geojson.lonlat-order", "/location/value/coordinates")
    assert check_point({"type": "Polygon", "coordinates": [[[0, 0]]]}, "/location/value", OSLO_BBOX) == []
    assert rows(check_entity(entity(location=point(59.9521, 10.7278)), OSLO_BBOX)) == [
        ("geojson.lonlat-order", "error", "/location/value/coordinates")
    ]
    assert rows(check_entity(entity(location={"type": "GeoProperty", "value": "59.9,10.7"}))) == [
        ("geojson.type", "error", "/location/value")
    ]


# -- concise and keyValues ---------------------------------------------------------------------------------------------


def test_concise_attributes() -> None:
    concise = entity(
        name={"languageMap": {"nb": "Sogn"}},
        location={"type": "Point", "coordinates": [10.7278, 59.9521]},
        availableBikeNumber={"value": 4, "observedAt": "2025-04-01T00:12:06Z"},
        status="working",
        refOperator={"object": "urn:ngsi-ld:Organization:uip"},
        area={"value": {"type": "Polygon", "coordinates": [SQUARE[:4]]}},
    )
    assert detect_form(concise) is Form.CONCISE
    assert rows(check_entity(concise, OSLO_BBOX, form=Form.CONCISE)) == [
        ("geojson.ring-not-closed", "error", "/area/value/coordinates/0")
    ]
    concise["refOperator"] = {"object": "uip"}
    concise["location"] = {"type": "Point", "coordinates": [59.9521, 10.7278]}
    assert rows(check_entity(concise, OSLO_BBOX, form=Form.CONCISE)) == [
        ("geojson.lonlat-order", "error", "/location/coordinates"),
        ("ngsild.relationship-object", "error", "/refOperator/object"),
        ("geojson.ring-not-closed", "error", "/area/value/coordinates/0"),
    ]


def test_key_values() -> None:
    flat = entity(status="working", location={"type": "Point", "coordinates": [59.9521, 10.7278]}, count=3)
    assert detect_form(flat) is Form.KEY_VALUES
    assert rows(check_entity(flat, OSLO_BBOX, form=Form.KEY_VALUES)) == [
        ("geojson.lonlat-order", "error", "/location/coordinates")
    ]
    assert rows(check_entity(flat, OSLO_BBOX)) == [  # read as normalized, the same entity is wrong throughout
        ("ngsild.attribute", "error", "/status"),
        ("ngsild.attribute-type", "error", "/location/type"),
        ("ngsild.attribute", "error", "/count"),
    ]


def test_detect_form() -> None:
    assert (
        detect_form(entity(p={"type": "Property", "value": 1}, q=[{"type": "Property", "value": 2}])) is Form.NORMALIZED
    )
    assert detect_form(entity(p={"type": "Property", "value": 1}, q=2)) is Form.CONCISE
    assert detect_form(entity()) is Form.KEY_VALUES


# -- the official Smart Data Models examples ---------------------------------------------------------------------------


EXAMPLE_DEFECTS: dict[str, list[Row]] = {
    # a Relationship carrying "value" instead of "object" (twice), and a creator that is a name, not a URI
    "dataModel.DCAT-AP/Catalogue": [
        ("ngsild.attribute-value", "error", "/catalog"),
        ("ngsild.relationship-object", "error", "/creator/object"),
        ("ngsild.attribute-value", "error", "/record"),
    ],
    "dataModel.Weather/WeatherForecast": [("ngsild.id", "error", "/id")],  # "Spain-WeatherForecast-46005_…" is no URI
}


def test_the_normalized_examples_are_structurally_sound(shared_data: Path) -> None:
    found: dict[str, list[Row]] = {}
    files = sorted((shared_data / "smart-data-models").glob("dataModel.*/*/example-normalized.jsonld"))
    assert len(files) == 18
    for path in files:
        example = json.loads(path.read_bytes())
        assert detect_form(example) is Form.NORMALIZED, path
        model = path.parent.relative_to(shared_data / "smart-data-models").as_posix()
        if findings := rows(check_entity(example)):
            found[model] = findings
    assert found == EXAMPLE_DEFECTS


@pytest.mark.parametrize(
    ("value", "valid"),
    [
        ("2025-04-01T00:12:06Z", True),
        ("2025-04-01t00:12:06.5z", True),
        ("2025-04-01T00:12:06+02:00", True),
        ("2025-04-01T00:12:06", False),
        ("2025-04-01 00:12:06Z", False),
        ("2025-04-31T00:12:06Z", False),
        (1743466326, False),
    ],
)
def test_is_rfc3339(value: object, valid: bool) -> None:
    assert is_rfc3339(value) is valid


def test_normalize_datetime() -> None:
    assert normalize_datetime("2016-03-15T11:00:00") == "2016-03-15T11:00:00Z"
    assert normalize_datetime("2016-03-15 11:00:00+0100") == "2016-03-15T11:00:00+01:00"
    assert normalize_datetime("2016-03-15T11:00:00Z") is None  # already RFC 3339
    assert normalize_datetime("2016-03-15") is None  # a date is not a date-time
    assert normalize_datetime("soon") is None


JSON = st.recursive(
    st.none() | st.booleans() | st.integers() | st.floats() | st.text(max_size=5),
    lambda inner: st.lists(inner, max_size=4) | st.dictionaries(st.text(max_size=8), inner, max_size=4),
    max_leaves=25,
)
MEMBERS = ["type", "value", "object", "languageMap", "vocab", "json", "valueList", "objectList", "observedAt"]
ATTRIBUTE = st.dictionaries(
    st.sampled_from([*MEMBERS, "datasetId", "unitCode", "sub"]),
    st.sampled_from(["Property", "GeoProperty", "Relationship", "LanguageProperty", "ListRelationship", "Point"])
    | JSON,
    max_size=4,
)


@settings(max_examples=150, deadline=None)
@given(
    attrs=st.dictionaries(st.text(max_size=6), ATTRIBUTE | st.lists(ATTRIBUTE, max_size=3) | JSON, max_size=5),
    form=st.sampled_from(list(Form)),
)
def test_any_json_gives_findings_never_an_exception(attrs: dict[str, Any], form: Form) -> None:
    found = check_entity({**attrs, "id": ID, "type": "T"}, OSLO_BBOX, form=form)
    assert all(f.pointer == "" or f.pointer.startswith("/") for f in found)
    assert detect_form({**attrs, "id": ID}) in set(Form)
