"""A ~50 MB DCAT catalogue in Hydra pages, harvested end to end (fetch → parse → map → store): time and peak RSS.

Goal: peak RSS under 500 MB. Pages are generated on request by an in-process transport (nothing is kept but what
the harvest itself keeps); the harvest runs in a child process so its peak RSS is its own.
"""

from __future__ import annotations

import asyncio
import random
import resource
import subprocess
import sys
import tempfile
import time
from pathlib import Path

import httpx

from bench.dcat_parse import PREFIXES, _dataset
from harvester.http import HttpClient
from harvester.run import Harvester
from hub.cities import Registry, Source, load_cities
from hub.db import Database
from hub.settings import Settings

ROOT = Path(__file__).resolve().parents[1]
HOST = "catalogue.bench.example"
PAGES = 50
PER_PAGE = 560  # about 1 MB of Turtle a page: ~50 MB in all


def page(number: int) -> bytes:
    rng = random.Random(number)
    body = [PREFIXES]
    body += [_dataset(number * PER_PAGE + i, rng) for i in range(PER_PAGE)]
    view = f"<https://{HOST}/catalog.ttl?page={number}>"
    nxt = f" ;\n    <http://www.w3.org/ns/hydra/core#next> <https://{HOST}/catalog.ttl?page={number + 1}>"
    body.append(
        f"{view} a <http://www.w3.org/ns/hydra/core#PartialCollectionView>{nxt if number + 1 < PAGES else ''} ."
    )
    return "\n".join(body).encode()


def handler(request: httpx.Request) -> httpx.Response:
    number = int(request.url.params.get("page", "0"))
    return httpx.Response(200, content=page(number), headers={"Content-Type": "text/turtle"})


async def harvest(db_url: str) -> tuple[float, dict[str, int], int]:
    db = Database(db_url)
    db.upgrade()
    source = Source.model_validate(
        {"id": "bench-dcat", "kind": "dcat", "url": f"https://{HOST}/catalog.ttl?page=0", "schedule": "17 3 * * *"}
    )
    base = load_cities(ROOT / "cities.toml")
    registry = Registry(
        cities=[c.model_copy(update={"sources": [source] if c.id == "oslo" else []}) for c in base.cities]
    )
    settings = Settings(database_url=db_url, http_max_bytes=200 * 1024 * 1024)
    async with HttpClient(settings, transport=httpx.MockTransport(handler), allow_hosts=[HOST]) as client:
        harvester = Harvester(db, registry, client, run_timeout=1800)
        started = time.perf_counter()
        report = await harvester.run("bench-dcat")
        elapsed = time.perf_counter() - started
        await harvester.aclose()
    db.dispose()
    assert report.ok, report.error
    return elapsed, report.counts, report.bytes


def child(db_url: str) -> None:
    elapsed, counts, size = asyncio.run(harvest(db_url))
    peak_mb = resource.getrusage(resource.RUSAGE_SELF).ru_maxrss / 1024
    print(
        f"[dcat-large] {size / 1e6:.1f} MB in {PAGES} Hydra pages, {counts['created']:,} datasets created "
        f"in {elapsed:.1f} s ({counts['created'] / elapsed:,.0f} datasets/s); peak RSS {peak_mb:,.0f} MB "
        f"(goal < 500 MB)"
    )


def main() -> None:
    with tempfile.TemporaryDirectory() as tmp:
        url = f"sqlite:///{Path(tmp) / 'dcat.db'}"
        subprocess.run(
            [sys.executable, "-c", f"from bench import dcat_large; dcat_large.child({url!r})"], check=True, cwd=ROOT
        )
