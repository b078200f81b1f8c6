"""The fast path of RecordValidator gives exactly the findings of the detailed walk, only sooner."""

from __future__ import annotations

import copy
from pathlib import Path
from typing import Any

import orjson
import pytest

from bench.harvest_pipeline import BBOX, SYSTEM, feeds
from harvester.sources.gbfs_transform import station_records
from schemas.findings import Severity
from schemas.ngsild import check_entity
from schemas.records import RecordValidator
from schemas.sdm import SdmValidator
from schemas.store import SchemaStore


@pytest.fixture(scope="module")
def validator(tmp_path_factory: pytest.TempPathFactory, shared_data: Path) -> RecordValidator:
    store = SchemaStore(tmp_path_factory.mktemp("store") / "schemas")
    store.sync_from_dir(shared_data)
    return RecordValidator(SdmValidator(store))


def _stations(n: int = 50) -> list[dict[str, Any]]:
    info, status = feeds(n, seed=5, moment=1_763_900_000)
    return [r.entity for r in station_records(orjson.loads(info), orjson.loads(status), SYSTEM) if r.entity]


MUTATIONS = {
    "id not a uri": lambda e: e.update(id="station 1"),
    "bad attribute name": lambda e: e.update({"bad name": {"type": "Property", "value": 1}}),
    "name ending in a newline": lambda e: e.update({"bad\n": {"type": "Property", "value": 1}}),
    "property without value": lambda e: e["availableBikeNumber"].pop("value"),
    "naive observedAt": lambda e: e["availableBikeNumber"].update(observedAt="2024-01-01T10:00:00"),
    "negative count": lambda e: e["availableBikeNumber"].update(value=-3),
    "string count": lambda e: e["totalSlotNumber"].update(value="twenty"),
    "status casing": lambda e: e["status"].update(value="Working"),
    "lat lon swapped": lambda e: e["location"]["value"].update(coordinates=[59.9, 10.7]),
    "outside the city": lambda e: e["location"]["value"].update(coordinates=[5.3, 60.4]),
    "latitude out of range": lambda e: e["location"]["value"].update(coordinates=[10.7, 99.0]),
    "unknown attribute type": lambda e: e["status"].update(type="Propperty"),
    "relationship to nowhere": lambda e: e.update(refX={"type": "Relationship", "object": "not a uri"}),
    "undeclared attribute": lambda e: e.update(colour={"type": "Property", "value": "red"}),
    "sub-attribute": lambda e: e["availableBikeNumber"].update(reliability={"type": "Property", "value": 0.9}),
}


def test_valid_entities_take_the_fast_path_with_no_findings(validator: RecordValidator) -> None:
    for entity in _stations():
        assert validator._fast(entity, BBOX) == []
        assert validator.check(entity, BBOX) == []


@pytest.mark.parametrize("mutation", sorted(MUTATIONS))
def test_fast_and_detailed_paths_agree(validator: RecordValidator, mutation: str) -> None:
    entity = copy.deepcopy(_stations(1)[0])
    MUTATIONS[mutation](entity)
    detailed = check_entity(entity, BBOX) + validator.sdm.check(entity)
    assert validator.check(entity, BBOX) == detailed
    if mutation == "sub-attribute":  # valid, but a shape only the detailed walk looks at
        assert validator._fast(entity, BBOX) is None
        assert detailed == []
    elif mutation == "undeclared attribute":
        assert [f.rule for f in detailed] == ["sdm.undeclared-attribute"]
    else:
        assert any(f.severity is not Severity.INFO for f in detailed), f"{mutation} should be found"


def test_without_a_store_only_structure_is_checked() -> None:
    validator = RecordValidator(SdmValidator(None))
    entity = _stations(1)[0]
    assert validator.structural_only
    assert validator.check(entity, BBOX) == []
    entity["id"] = "nope"
    assert [f.rule for f in validator.check(entity, BBOX)] == ["ngsild.id"]
