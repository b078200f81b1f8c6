"""The GeoJSON representation (ngsi/geojson.py, clause 4.5.16)."""

from __future__ import annotations

import orjson
import pytest

from ngsi.geojson import feature, render_collection
from ngsi.representation import Format

GPS = {"type": "Point", "coordinates": [9.0, 9.0]}
HOME = {"type": "Point", "coordinates": [1.0, 2.0]}
VEHICLE = {
    "id": "urn:ngsi-ld:Vehicle:1",
    "type": "Vehicle",
    "location": [
        {"type": "GeoProperty", "value": GPS, "datasetId": "urn:ngsi-ld:Dataset:gps"},
        {"type": "GeoProperty", "value": HOME},
    ],
    "speed": {"type": "Property", "value": 5},
}


def test_the_default_instance_is_the_geometry() -> None:
    """4.5.16.1: of several instances, the one without datasetId; properties hold the type, never the id
    (ETSI 4516_01_01)."""
    body = feature(orjson.dumps(VEHICLE).decode(), Format.NORMALIZED, geometry_property="location")
    assert (body["id"], body["type"], body["geometry"]) == (VEHICLE["id"], "Feature", HOME)
    assert body["properties"]["type"] == "Vehicle"
    assert "id" not in body["properties"]
    assert body["properties"]["speed"] == {"type": "Property", "value": 5}


def test_simplified_feature_keeps_the_dataset_map() -> None:
    """4.5.17: keyValues properties, multi-instance attributes as a dataset map (ETSI 4517_01)."""
    body = feature(orjson.dumps(VEHICLE).decode(), Format.KEY_VALUES, geometry_property="location")
    assert body["geometry"] == HOME
    assert body["properties"]["speed"] == 5
    assert body["properties"]["location"] == {"dataset": {"urn:ngsi-ld:Dataset:gps": GPS, "@none": HOME}}


@pytest.mark.parametrize(
    ("entity", "geometry_property"),
    [
        ({**VEHICLE, "location": [VEHICLE["location"][0]]}, "location"),  # no default instance  # type: ignore[index]
        (VEHICLE, "speed"),  # not a GeoProperty
        ({"id": "urn:ngsi-ld:Vehicle:2", "type": "Vehicle"}, "location"),  # none at all
    ],
)
def test_no_geometry_is_null(entity: dict[str, object], geometry_property: str) -> None:
    """4.5.16.1: no such GeoProperty, or no valid geometry in it: geometry null (ETSI 4516_01_02)."""
    body = feature(orjson.dumps(entity).decode(), Format.NORMALIZED, geometry_property=geometry_property)
    assert body["geometry"] is None


def test_feature_collection_has_one_context() -> None:
    """4.5.16.3: features carry no @context of their own (ETSI 4516_01_03)."""
    body = orjson.loads(
        render_collection(
            [orjson.dumps(VEHICLE).decode()], Format.NORMALIZED, geometry_property="location", context="urn:ctx"
        )
    )
    assert (body["type"], body["@context"]) == ("FeatureCollection", "urn:ctx")
    assert "@context" not in body["features"][0]
