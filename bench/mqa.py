"""MQA of 10,000 generated datasets without the URL checks. Goal: <= 5 s.

Three figures: scoring alone (``score_dataset`` with the structural compliance check, then ``aggregate``), the same
from the stored JSON (decoding and rebuilding each dataset first), and what ``GET /api/v1/quality`` does on an
embedded SQLite catalogue: page through ``catalog.store.list_datasets``, decode, score, aggregate.
"""

from __future__ import annotations

import random
import tempfile
import time
from collections.abc import Callable
from datetime import UTC, datetime
from pathlib import Path

import orjson

from catalog.model import Agent, Dataset, Distribution
from catalog.mqa import aggregate, load_mqa_vocabularies, mandatory_fields_present, score_dataset
from catalog.store import dataset_from_dict, dataset_to_json, list_datasets, upsert_datasets
from hub.db import Database

SHARED = Path(__file__).resolve().parents[2] / "shared" / "data"
COUNT = 10_000
GOAL = 5.0
EU = "http://publications.europa.eu/resource/authority/"
FORMATS = ("CSV", "GeoJSON", "XLSX", "PDF", EU + "file-type/JSON", "text/csv", None)
LICENCES = ("cc-by", "http://data.norge.no/nlod/no/2.0", "cc-zero", "odc-odbl", "other-open", None)


def _distribution(rng: random.Random, n: int, k: int) -> Distribution:
    return Distribution(
        access_url=f"https://city{n % 50}.example/data/{n}/{k}",
        download_url=f"https://city{n % 50}.example/files/{n}-{k}.csv" if rng.random() < 0.7 else None,
        format=rng.choice(FORMATS),
        media_type=rng.choice(("text/csv", "application/json", None)),
        licence=rng.choice(LICENCES) if rng.random() < 0.5 else None,
        byte_size=rng.randrange(1, 10**7) if rng.random() < 0.6 else None,
        rights="Attribution required" if rng.random() < 0.2 else None,
    )


def dataset(rng: random.Random, n: int) -> Dataset:
    """One generated dataset; about half of each optional property is filled."""

    def some(p: float = 0.5) -> bool:
        return rng.random() < p

    return Dataset(
        uri=f"https://city{n % 50}.example/datasets/{n}",
        title={"nb": f"Datasett {n}", "en": f"Dataset {n}"},
        description={"nb": f"Beskrivelse av datasett {n}."},
        keywords={"nb": ["trafikk", "miljø"]} if some(0.8) else {},
        themes=[EU + "data-theme/TRAN"] if some() else [],
        spatial=["https://data.geonorge.no/administrativeEnheter/kommune/id/0301"] if some() else [],
        temporal=("2020-01-01", None) if some(0.3) else None,
        publisher=Agent(name={"nb": f"Kommune {n % 50}"}) if some(0.9) else None,
        contact_point={"email": "post@city.example"} if some(0.7) else {},
        licence=rng.choice(LICENCES),
        access_rights=EU + "access-right/PUBLIC" if some(0.4) else None,
        issued="2021-01-01" if some(0.8) else None,
        modified="2025-01-01T00:00:00Z" if some(0.8) else None,
        distributions=[_distribution(rng, n, k) for k in range(rng.randrange(0, 4))],
    )


def _score_all(datasets: list[Dataset], vocab_dir: Path) -> float:
    vocab = load_mqa_vocabularies(vocab_dir)
    scores = [
        score_dataset(ds, link_status=None, compliant=mandatory_fields_present(ds), vocab=vocab) for ds in datasets
    ]
    return aggregate(scores).points


def _from_database(db: Database, vocab_dir: Path) -> float:
    vocab = load_mqa_vocabularies(vocab_dir)
    scores = []
    with db.connect() as conn:
        offset = 0
        while rows := list_datasets(conn, limit=1000, offset=offset):
            for row in rows:
                ds = dataset_from_dict(row["dataset"])
                scores.append(score_dataset(ds, link_status=None, compliant=mandatory_fields_present(ds), vocab=vocab))
            offset += 1000
    return aggregate(scores).points


def _timed(label: str, run: Callable[[], float]) -> None:
    started = time.perf_counter()
    points = run()
    seconds = time.perf_counter() - started
    verdict = "meets" if seconds <= GOAL else "MISSES"
    print(f"  {label:<44} {seconds:6.2f} s  (catalogue {points:.1f}/405; {verdict} the {GOAL:.0f} s goal)")


def main() -> None:
    rng = random.Random(6)
    datasets = [dataset(rng, n) for n in range(COUNT)]
    vocab_dir = SHARED / "mqa" / "vocabs"
    stored = [dataset_to_json(ds) for ds in datasets]
    print(f"[mqa] {COUNT:,} generated datasets, no URL checks:")
    _timed("scoring + aggregation", lambda: _score_all(datasets, vocab_dir))
    _timed(
        "from stored JSON (decode, rebuild, score)",
        lambda: _score_all([dataset_from_dict(orjson.loads(s)) for s in stored], vocab_dir),
    )
    with tempfile.TemporaryDirectory() as tmp:
        db = Database(f"sqlite:///{Path(tmp) / 'mqa.db'}")
        db.upgrade()
        with db.begin() as conn:
            upsert_datasets(conn, source_id="bench", city_id="oslo", datasets=datasets, now=datetime.now(UTC))
        _timed("as GET /api/v1/quality does (SQLite)", lambda: _from_database(db, vocab_dir))
        db.dispose()


if __name__ == "__main__":
    main()
