"""Test doubles shared by several test modules: a controllable GBFS producer and a registry pointing at it."""

from __future__ import annotations

import asyncio
from collections.abc import Callable
from typing import Any

import httpx
import orjson

from harvester.http import HttpClient
from harvester.run import Harvester
from hub.cities import Registry, Source
from hub.db import Database
from hub.settings import Settings

HOST = "feeds.test"
BASE = f"http://{HOST}/gbfs"
SOURCE = "oslo-fake-gbfs"
Handler = Callable[[httpx.Request], Any]


def station(i: int, **extra: Any) -> dict[str, Any]:
    return {
        "station_id": str(i),
        "name": f"Stasjon {i}",
        "lat": 59.91 + i / 1000,
        "lon": 10.75,
        "capacity": 20,
        **extra,
    }


class FakeGbfs:
    """A GBFS producer whose stations, status and failures a test controls; answers ETags like a CDN."""

    def __init__(self, n: int = 10) -> None:
        self.stations = [station(i) for i in range(n)]
        self.bikes = 5
        self.fault: Handler | None = None
        self.requests: list[httpx.Request] = []

    def docs(self) -> dict[str, bytes]:
        feeds = [{"name": n, "url": f"{BASE}/{n}.json"} for n in ("station_information", "station_status")]
        status = [
            {
                "station_id": s["station_id"],
                "is_installed": True,
                "is_renting": True,
                "is_returning": True,
                "last_reported": 1_700_000_000,
                "num_bikes_available": self.bikes,
                "num_docks_available": 20 - self.bikes,
            }
            for s in self.stations
        ]
        wrap = lambda data: orjson.dumps({"last_updated": 1_700_000_000, "ttl": 60, "data": data})  # noqa: E731
        return {
            "gbfs.json": wrap({"en": {"feeds": feeds}}),
            "station_information.json": wrap({"stations": self.stations}),
            "station_status.json": wrap({"stations": status}),
        }

    async def __call__(self, request: httpx.Request) -> httpx.Response:
        self.requests.append(request)
        if self.fault is not None:
            answer = self.fault(request)
            if asyncio.iscoroutine(answer):
                answer = await answer
            if answer is not None:
                return answer  # type: ignore[no-any-return]
        body = self.docs().get(request.url.path.rsplit("/", 1)[-1])
        if body is None:
            return httpx.Response(404)
        etag = f'"{hash(body)}"'
        if request.headers.get("if-none-match") == etag:
            return httpx.Response(304, headers={"ETag": etag})
        return httpx.Response(200, content=body, headers={"Content-Type": "application/json", "ETag": etag})


def registry_with_fake_source(registry: Registry) -> Registry:
    """The member cities with one source only: the fake GBFS producer, for Oslo."""
    source = Source.model_validate({"id": SOURCE, "kind": "gbfs", "url": f"{BASE}/gbfs.json", "schedule": "every 60s"})
    return Registry(
        cities=[c.model_copy(update={"sources": [source] if c.id == "oslo" else []}) for c in registry.cities]
    )


def make_harvester(db: Database, registry: Registry, settings: Settings, handler: Any, **kw: Any) -> Harvester:
    client = HttpClient(settings, transport=httpx.MockTransport(handler), allow_hosts=[HOST], backoff_base=0)
    return Harvester(db, registry, client, **kw)
