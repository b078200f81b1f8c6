"""Structural + Smart Data Model validation of valid BikeHireDockingStation entities, in entities/s on one core.

Printed beside the same run's figures for the bare validators on the same key-values documents: pure-Python
``jsonschema``, ``fastjsonschema`` and ``jsonschema-rs``. Goal: >= 100,000 entities/s for ours.
"""

from __future__ import annotations

import tempfile
import time
from collections.abc import Callable
from pathlib import Path
from typing import Any

import fastjsonschema
import jsonschema
import orjson

from bench.harvest_pipeline import BBOX, SYSTEM, feeds
from harvester.sources.gbfs_transform import station_records
from schemas.ngsild import check_entity
from schemas.records import RecordValidator
from schemas.sdm import SdmValidator, to_key_values
from schemas.store import SchemaStore

SHARED = Path(__file__).resolve().parents[2] / "shared" / "data"
MODEL = "BikeHireDockingStation"


def _rate(items: list[Any], check: Callable[[Any], object], budget: float = 3.0) -> float:
    started = time.perf_counter()
    done = 0
    for item in items:
        check(item)
        done += 1
        if done % 1000 == 0 and time.perf_counter() - started > budget:
            break
    return done / (time.perf_counter() - started)


def main() -> None:
    with tempfile.TemporaryDirectory() as tmp:
        store = SchemaStore(Path(tmp) / "schemas")
        store.sync_from_dir(SHARED)
        info, status = feeds(20_000, seed=3, moment=1_763_900_000)
        entities = [r.entity for r in station_records(orjson.loads(info), orjson.loads(status), SYSTEM) if r.entity]
        validator = SdmValidator(store)
        assert all(not validator.check(e) and not check_entity(e, BBOX) for e in entities[:100]), "not all valid"
        documents = [{**to_key_values(e).values, "type": MODEL} for e in entities]
        schema = store.model_schema(MODEL)
        assert schema is not None
        registry = store.registry()
        pure = jsonschema.Draft202012Validator(schema, registry=registry)
        fetch = {"https": lambda uri: registry.contents(uri.split("#")[0])}
        fast = fastjsonschema.compile(schema, handlers=fetch)
        rust = validator.fast_validator(MODEL)
        records = RecordValidator(validator)
        ours = _rate(entities, lambda e: records.check(e, BBOX))
        detailed = _rate(entities, lambda e: (check_entity(e, BBOX), validator.check(e)))
        print(f"[validate] {len(entities):,} valid {MODEL} entities, structural + model, one core:")
        print(f"    nordhub (normalized → findings)        {ours:>10,.0f} entities/s   (goal >= 100,000)")
        print(f"    nordhub detailed walk only (no fast path) {detailed:>8,.0f} entities/s")
        print(f"    jsonschema (pure Python, key-values)   {_rate(documents, pure.is_valid, 2.0):>10,.0f} docs/s")
        print(f"    fastjsonschema (key-values)            {_rate(documents, fast):>10,.0f} docs/s")
        print(f"    jsonschema-rs (key-values)             {_rate(documents, rust.is_valid):>10,.0f} docs/s")
