"""Every demo city source harvested end to end (HTTP on 127.0.0.1 → stored), in seconds. Goal: under 30 s."""

from __future__ import annotations

import asyncio
import tempfile
import time
from pathlib import Path

from harvester.demo_city import DemoCityServer
from hub.cities import load_cities
from hub.db import Database
from hub.demo import LOOPBACK, demo_registry, harvest_all
from hub.settings import Settings

ROOT = Path(__file__).resolve().parents[1]


def run(url: str, label: str) -> None:
    db = Database(url)
    db.downgrade("base")
    db.upgrade()
    settings = Settings(database_url=url, http_allow_hosts=[LOOPBACK], http_per_host=8)
    with DemoCityServer() as city:
        registry = demo_registry(load_cities(ROOT / "cities.toml"), city.base_url)
        started = time.perf_counter()
        reports = asyncio.run(harvest_all(db, registry, settings))
        elapsed = time.perf_counter() - started
    cities = {c.id for c in registry.cities if c.sources}
    records = sum(r.counts.get("created", 0) for r in reports)
    failed = [r.source_id for r in reports if not r.ok]
    print(
        f"[{label}] demo harvest: {len(reports)} sources of {len(cities)} cities, {records:,} records "
        f"in {elapsed:.1f} s (goal < 30 s){'  FAILED: ' + ', '.join(failed) if failed else ''}"
    )
    db.dispose()


def main(pg_url: str | None) -> None:
    with tempfile.TemporaryDirectory() as tmp:
        run(f"sqlite:///{Path(tmp) / 'demo.db'}", "sqlite")
    if pg_url:
        run(pg_url, "postgresql")
