"""Smart Data Model validation on the official examples, their known defects, and the flattening of NGSI-LD forms."""

from __future__ import annotations

import copy
import json
from datetime import timedelta, timezone
from pathlib import Path
from typing import Any

import pytest
from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st

from harvester.sources.gbfs_transform import GbfsSystem, station_records
from schemas.findings import Finding, Severity
from schemas.sdm import SdmValidator, short_type, to_key_values
from schemas.store import SDM, SchemaStore

Row = tuple[str, str, str, Any]  # rule, severity, pointer, normalized
AQO = "dataModel.Environment/AirQualityObserved"
VEHICLE = "dataModel.Transportation/Vehicle"
BHDS = "dataModel.Transportation/BikeHireDockingStation"
UNDECLARED = "sdm.undeclared-attribute"

# Key-values examples: what each model's own schema reports (everything else: nothing).
KEY_VALUES_EXPECTED: dict[str, list[Row]] = {
    AQO: [
        ("sdm.naive-datetime", "warning", "/dateObserved", "2016-03-15T11:00:00Z"),
        ("sdm.type", "error", "/tsp", None),
        (UNDECLARED, "info", "/typeOfLocation", None),  # the schema spells it typeofLocation
    ],
    BHDS: [(UNDECLARED, "info", "/observationDate", None)],
    "dataModel.DCAT-AP/Dataset": [(UNDECLARED, "info", "/version", None)],
    "dataModel.DCAT-AP/Distribution": [
        (UNDECLARED, "info", "/compressionFormat", None),
        (UNDECLARED, "info", "/packagingFormat", None),
    ],
}
# Normalized examples: the documented defects, and two more the schemas find (windDirection 186 > 180 in the
# normalized AirQualityObserved, whose key-values twin says 176; vehicleAltitude a number where a string is wanted).
NORMALIZED_EXPECTED: dict[str, list[Row]] = {
    AQO: [
        ("sdm.naive-datetime", "warning", "/dateObserved/value", "2016-03-15T11:00:00Z"),
        ("sdm.maximum", "error", "/windDirection/value", None),
        ("sdm.type", "error", "/tsp/value", None),
        (UNDECLARED, "info", "/typeOfLocation", None),
    ],
    VEHICLE: [
        ("sdm.enum-case", "warning", "/deviceBatteryStatus/value", "connected"),
        ("sdm.type", "error", "/vehicleAltitude/value", None),
    ],
    BHDS: [(UNDECLARED, "info", "/observationDate", None)],
    "dataModel.DCAT-AP/Catalogue": [("sdm.type", "error", "/spatial/value", None)],
    "dataModel.DCAT-AP/DataService": [("sdm.type", "error", "/description/value", None)],
    "dataModel.DCAT-AP/Distribution": [
        ("sdm.type", "error", "/temporalResolution/value", None),
        (UNDECLARED, "info", "/dataProvider", None),
        (UNDECLARED, "info", "/documentation", None),
        (UNDECLARED, "info", "/packagingFormat", None),
    ],
}
DCAT_DATASET_NORMALIZED_ERRORS = {
    ("sdm.type", "/spatial/value"),
    ("sdm.type", "/creator/value"),
    ("sdm.type", "/source/value"),
    ("sdm.type", "/spatialResolutionInMeters/value"),
    *(
        ("sdm.format", f"/{name}/value/{i}")
        for name in ("page", "hasVersion", "identifier", "otherIdentifier")
        for i in (0, 1)
    ),
    ("sdm.format", "/qualifiedRelation/value/0"),
}
MODELS = [
    *(f"dataModel.DCAT-AP/{m}" for m in ("Catalogue", "DataService", "Dataset", "Distribution")),
    *(f"dataModel.Environment/{m}" for m in ("AirQualityObserved", "NoiseLevelObserved")),
    *(f"dataModel.GBFS/{m}" for m in ("station_information", "station_status")),
    *(f"dataModel.Parking/{m}" for m in ("OffStreetParking", "OnStreetParking", "ParkingSpot")),
    "dataModel.PointOfInterest/PointOfInterest",
    *(f"dataModel.Transportation/{m}" for m in ("BikeHireDockingStation", "EVChargingStation", "RoadSegment")),
    *(f"dataModel.Transportation/{m}" for m in ("TrafficFlowObserved", "Vehicle", "VehicleModel")),
    *(f"dataModel.Weather/{m}" for m in ("WeatherForecast", "WeatherObserved")),
]


@pytest.fixture(scope="module")
def store(tmp_path_factory: pytest.TempPathFactory, shared_data: Path) -> SchemaStore:
    store = SchemaStore(tmp_path_factory.mktemp("var") / "schemas")
    store.sync_from_dir(shared_data / SDM)
    return store


@pytest.fixture(scope="module")
def validator(store: SchemaStore) -> SdmValidator:
    return SdmValidator(store)


def _example(shared_data: Path, model: str, name: str) -> dict[str, Any]:
    doc = json.loads((shared_data / SDM / model / name).read_bytes())
    assert isinstance(doc, dict)
    return doc


def _rows(findings: list[Finding]) -> list[Row]:
    return [(f.rule, f.severity.value, f.pointer, f.normalized) for f in findings]


def test_every_model_with_examples_is_covered(shared_data: Path) -> None:
    found = sorted(
        p.parent.relative_to(shared_data / SDM).as_posix() for p in (shared_data / SDM).rglob("example.json")
    )
    assert found == MODELS
    assert {AQO, VEHICLE, BHDS} <= set(MODELS)


@pytest.mark.parametrize("model", MODELS)
def test_key_values_examples(validator: SdmValidator, shared_data: Path, model: str) -> None:
    findings = validator.check(_example(shared_data, model, "example.json"))
    assert _rows(findings) == KEY_VALUES_EXPECTED.get(model, [])


@pytest.mark.parametrize("model", [m for m in MODELS if not m.startswith("dataModel.GBFS")])
def test_normalized_examples(validator: SdmValidator, shared_data: Path, model: str) -> None:
    findings = validator.check(_example(shared_data, model, "example-normalized.jsonld"))
    if model == "dataModel.DCAT-AP/Dataset":
        assert {(f.rule, f.pointer) for f in findings} == DCAT_DATASET_NORMALIZED_ERRORS
        assert {f.severity for f in findings} == {Severity.ERROR}
        assert len(findings) == 13
    else:
        assert _rows(findings) == NORMALIZED_EXPECTED.get(model, [])


def test_naive_date_observed_is_a_warning_with_the_normalised_value(validator: SdmValidator, shared_data: Path) -> None:
    [naive] = [
        f
        for f in validator.check(_example(shared_data, AQO, "example-normalized.jsonld"))
        if f.severity is Severity.WARNING
    ]
    assert naive == Finding(
        "sdm.naive-datetime",
        Severity.WARNING,
        "/dateObserved/value",
        "'2016-03-15T11:00:00' is not RFC 3339 with a time zone; read as 2016-03-15T11:00:00Z",
        "2016-03-15T11:00:00Z",
    )
    assert naive.to_dict()["normalized"] == "2016-03-15T11:00:00Z"


def test_naive_times_are_read_in_the_zone_given(store: SchemaStore, shared_data: Path) -> None:
    copenhagen_winter = timezone(timedelta(hours=1))
    findings = SdmValidator(store, assume_tz=copenhagen_winter).check(_example(shared_data, AQO, "example.json"))
    assert [f.normalized for f in findings if f.rule == "sdm.naive-datetime"] == ["2016-03-15T11:00:00+01:00"]


def test_a_float_where_an_integer_is_wanted_is_an_error_pointing_into_the_normalized_entity(
    validator: SdmValidator, shared_data: Path
) -> None:
    [tsp] = [
        f for f in validator.check(_example(shared_data, AQO, "example-normalized.jsonld")) if f.pointer == "/tsp/value"
    ]
    assert (tsp.rule, tsp.severity, tsp.message) == ("sdm.type", Severity.ERROR, "73.3 is not of type 'integer'")


def test_vehicle_battery_status_in_the_wrong_case_is_a_warning(validator: SdmValidator, shared_data: Path) -> None:
    entity = _example(shared_data, VEHICLE, "example-normalized.jsonld")
    assert entity["deviceBatteryStatus"]["value"] == "Connected"
    [case] = [f for f in validator.check(entity) if f.rule == "sdm.enum-case"]
    assert (case.severity, case.pointer, case.normalized) == (
        Severity.WARNING,
        "/deviceBatteryStatus/value",
        "connected",
    )
    entity["deviceBatteryStatus"]["value"] = "plugged"  # not a casing slip: an error
    [wrong] = [f for f in validator.check(entity) if f.pointer == "/deviceBatteryStatus/value"]
    assert (wrong.rule, wrong.severity) == ("sdm.enum", Severity.ERROR)


def test_bike_hire_observation_date_is_not_an_error_the_schema_is_open(
    validator: SdmValidator, shared_data: Path
) -> None:
    # The schema declares observationDateTime but does not forbid other members: the example's observationDate
    # passes it. The hub says so as info, so the misnamed attribute is visible in reports.
    entity = _example(shared_data, BHDS, "example-normalized.jsonld")
    assert "observationDate" in entity
    assert "observationDateTime" not in entity
    findings = validator.check(entity)
    assert _rows(findings) == [(UNDECLARED, "info", "/observationDate", None)]
    assert findings[0].message == "observationDate is not an attribute of the BikeHireDockingStation model"
    entity["observationDateTime"] = {"type": "Property", "value": "yesterday"}
    assert _rows(validator.check(entity))[0] == ("sdm.format", "error", "/observationDateTime/value", None)


def test_concise_input_gives_the_findings_of_its_normalized_form(validator: SdmValidator, shared_data: Path) -> None:
    normalized = _example(shared_data, AQO, "example-normalized.jsonld")
    concise = {
        k: ({m: x for m, x in v.items() if m != "type"} if isinstance(v, dict) and v.get("type") == "Property" else v)
        for k, v in normalized.items()
    }
    assert concise["tsp"] == {"value": 73.3}
    assert _rows(validator.check(concise)) == _rows(validator.check(normalized))


def test_pointers_follow_multi_attributes_language_maps_and_typed_values(validator: SdmValidator) -> None:
    entity = {
        "id": "urn:ngsi-ld:BikeHireDockingStation:oslo:1",
        "type": "https://smartdatamodels.org/dataModel.Transportation/BikeHireDockingStation",
        "availableBikeNumber": [
            {"type": "Property", "value": 3, "datasetId": "urn:ngsi-ld:Dataset:ebike"},
            {"type": "Property", "value": -1},
        ],
        "name": {"type": "LanguageProperty", "languageMap": {"nb": "Sogn", "en": 7}},
        "observationDateTime": {"type": "Property", "value": {"@type": "DateTime", "@value": "2025-04-01T02:12:06"}},
        "@context": ["https://example.org/context.jsonld"],
    }
    assert _rows(validator.check(entity)) == [
        ("sdm.type", "error", "/name/languageMap/en", None),
        ("sdm.minimum", "error", "/availableBikeNumber/1/value", None),
        ("sdm.naive-datetime", "warning", "/observationDateTime/value/@value", "2025-04-01T02:12:06Z"),
    ]


def test_flattening_keeps_key_values_unchanged(shared_data: Path) -> None:
    entity = _example(shared_data, BHDS, "example.json")
    flat = to_key_values(entity)
    assert flat.values == entity
    assert flat.pointer(["location", "coordinates", 0]) == "/location/coordinates/0"
    assert to_key_values({"a/b": {"type": "Property", "value": 1}}).pointer(["a/b"]) == "/a~1b/value"


def test_relationships_flatten_to_their_objects() -> None:
    flat = to_key_values(
        {
            "refDevice": {"type": "Relationship", "object": "urn:ngsi-ld:Device:1"},
            "refs": {"type": "ListRelationship", "objectList": [{"object": "urn:a:1"}, {"object": "urn:a:2"}]},
        }
    )
    assert flat.values == {"refDevice": "urn:ngsi-ld:Device:1", "refs": ["urn:a:1", "urn:a:2"]}
    assert flat.origins == {"refDevice": "/refDevice/object", "refs": "/refs/objectList"}


@pytest.mark.parametrize(
    ("given", "model"),
    [
        ("Vehicle", "Vehicle"),
        ("sdm:Vehicle", "Vehicle"),
        ("https://smartdatamodels.org/dataModel.Transportation/Vehicle", "Vehicle"),
    ],
)
def test_short_type(given: str, model: str) -> None:
    assert short_type(given) == model


def test_an_unknown_model_is_info(validator: SdmValidator) -> None:
    findings = validator.check({"id": "urn:ngsi-ld:Thing:1", "type": "Thing"})
    assert _rows(findings) == [("sdm.unknown-model", "info", "/type", None)]


def test_without_a_store_only_structural_checks_run(tmp_path: Path, shared_data: Path) -> None:
    entity = _example(shared_data, AQO, "example.json")
    none = SdmValidator(None)
    assert (none.structural_only, none.check(entity), none.validator("AirQualityObserved")) == (True, [], None)
    empty = SdmValidator(SchemaStore(tmp_path / "schemas"))
    assert (empty.structural_only, empty.check(entity)) == (True, [])
    gbfs_only = SchemaStore(tmp_path / "gbfs-only")
    gbfs_only.sync_from_dir(shared_data / "gbfs")
    assert SdmValidator(gbfs_only).structural_only is True


def test_validators_are_compiled_once_per_type(store: SchemaStore, validator: SdmValidator) -> None:
    compiled = validator.validator("BikeHireDockingStation")
    assert compiled is not None
    assert validator.validator("BikeHireDockingStation") is compiled
    assert SdmValidator(store).validator("BikeHireDockingStation") is compiled  # shared through the store
    assert validator.validator("Vehicle") is not compiled


def test_the_hubs_own_station_entities_conform(validator: SdmValidator, shared_data: Path) -> None:
    oslo = shared_data / "real" / "oslo-bysykkel"
    info = json.loads((oslo / "station_information_2022-10-23_v2.2.json").read_bytes())
    status = json.loads((oslo / "station_status_2025-04-01_v2.3.json").read_bytes())
    system = GbfsSystem(city_id="oslo", system_id="oslobysykkel", name="Oslo Bysykkel", operator="UIP Oslo Bysykkel AS")
    entities = [r.entity for r in station_records(info, status, system) if r.entity is not None]
    assert len(entities) >= 241
    bad = [(e["id"], f) for e in entities for f in validator.check(copy.deepcopy(e)) if f.severity is not Severity.INFO]
    assert bad == []


JSON = st.recursive(
    st.none() | st.booleans() | st.integers() | st.floats() | st.text(max_size=5),
    lambda inner: st.lists(inner, max_size=4) | st.dictionaries(st.text(max_size=8), inner, max_size=4),
    max_leaves=20,
)
WRAPPED = st.fixed_dictionaries(
    {"type": st.sampled_from(["Property", "Relationship", "LanguageProperty", "ListRelationship"])},
    optional={"value": JSON, "object": JSON, "languageMap": JSON, "objectList": JSON, "datasetId": JSON},
)


@settings(max_examples=100, deadline=None, suppress_health_check=[HealthCheck.function_scoped_fixture])
@given(
    model=st.sampled_from(["BikeHireDockingStation", "AirQualityObserved", "Vehicle", "OffStreetParking", "Nope"]),
    attrs=st.dictionaries(
        st.sampled_from(["name", "location", "status", "availableBikeNumber", "dateObserved", "address", "x"]),
        WRAPPED | st.lists(WRAPPED, max_size=3) | JSON,
        max_size=5,
    ),
)
def test_any_entity_gives_findings_never_an_exception(
    validator: SdmValidator, model: str, attrs: dict[str, Any]
) -> None:
    found = validator.check({"id": "urn:ngsi-ld:X:1", "type": model, **attrs})
    assert all(f.rule.startswith("sdm.") for f in found)
    assert (model == "Nope") == any(f.rule == "sdm.unknown-model" for f in found)
