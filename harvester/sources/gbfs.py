"""The ``gbfs`` source kind: discovery (``gbfs.json``, or a 3.x ``manifest.json`` of several systems), then docked
stations → BikeHireDockingStation entities and free-floating vehicles → counts per form factor and area.

The adapter fetches and transforms; the feeds it read travel with the batch (``HarvestBatch.documents``) so the run
checks them against the official schemas and the cross-file rules, and their ``ttl`` lets the scheduler poll at the
pace the producer announces.
"""

from __future__ import annotations

import os
from typing import Any, ClassVar

import orjson

from harvester.http import FetchResult, HttpClient
from harvester.sources.base import HarvestBatch, Record
from harvester.sources.gbfs_transform import GbfsSystem, discover_feeds, station_records
from harvester.sources.gbfs_vehicles import fleet_records
from hub.cities import City, Source, SourceKind
from hub.collector import collection_paused
from hub.errors import PayloadInvalid, SourceHTTPError

FEEDS = (
    "system_information",
    "station_information",
    "station_status",
    "vehicle_types",
    "free_bike_status",
    "vehicle_status",
)
SUPPORTED_MAJOR = ("1", "2", "3")


def parse_json(result: FetchResult) -> dict[str, Any]:
    """The body of a fetch as a JSON object, or PayloadInvalid naming the URL and the position."""
    try:
        doc = orjson.loads(result.content)
    except orjson.JSONDecodeError as exc:
        raise PayloadInvalid(f"GET {result.url}: invalid JSON ({exc})") from exc
    if not isinstance(doc, dict):
        raise PayloadInvalid(f"GET {result.url}: expected a JSON object, got {type(doc).__name__}")
    return doc


def manifest_systems(doc: dict[str, Any]) -> list[tuple[str, str]]:
    """(system_id, discovery URL of its newest supported version) of every dataset in a 3.x manifest.json."""
    data = doc.get("data")
    datasets = data.get("datasets") if isinstance(data, dict) else None
    found = []
    for dataset in datasets if isinstance(datasets, list) else []:
        versions = [v for v in dataset.get("versions", []) if isinstance(v, dict) and "url" in v]
        usable = [v for v in versions if str(v.get("version", "")).split(".")[0] in SUPPORTED_MAJOR]
        if usable:
            newest = max(usable, key=lambda v: tuple(int(p) for p in str(v["version"]).split(".") if p.isdigit()))
            found.append((str(dataset.get("system_id")), str(newest["url"])))
    return found


class GbfsAdapter:
    """Harvests one GBFS system, or every system a manifest lists."""

    kind: ClassVar[SourceKind] = SourceKind.GBFS

    async def harvest(self, client: HttpClient, city: City, source: Source) -> HarvestBatch:
        headers = source.header_values(os.environ)
        result, doc = await self._fetch_doc(client, source.url, headers)
        systems = manifest_systems(doc)
        if not systems:
            return await self._system(client, city, source, headers, result, doc)
        batch = HarvestBatch(records=[], bytes=len(result.content))
        for _system_id, url in systems:
            discovery, discovered = await self._fetch_doc(client, url, headers)
            one = await self._system(client, city, source, headers, discovery, discovered)
            batch.records += one.records
            batch.bytes += one.bytes
            batch.documents.update({f"{_system_id}/{k}": v for k, v in one.documents.items()})
            batch.ttl = min(filter(None, (batch.ttl, one.ttl)), default=None)
        return batch

    async def _fetch_doc(
        self, client: HttpClient, url: str, headers: dict[str, str]
    ) -> tuple[FetchResult, dict[str, Any]]:
        """A discovery document: ``url`` itself, or ``<url>/gbfs.json`` when ``url`` is not one (as the spec says)."""
        candidates = [url] if url.rstrip("/").endswith(".json") else [url, url.rstrip("/") + "/gbfs.json"]
        last_error: Exception | None = None
        for candidate in candidates:
            try:
                result = await client.get(candidate, headers)
                doc = parse_json(result)
            except (PayloadInvalid, SourceHTTPError) as exc:
                last_error = exc
                continue
            if discover_feeds(doc) or manifest_systems(doc):
                return result, doc
            last_error = PayloadInvalid(f"GET {candidate}: neither a gbfs.json nor a manifest.json (no feeds listed)")
        assert last_error is not None
        raise last_error

    async def _system(
        self,
        client: HttpClient,
        city: City,
        source: Source,
        headers: dict[str, str],
        discovery: FetchResult,
        doc: dict[str, Any],
    ) -> HarvestBatch:
        feeds = discover_feeds(doc)
        docs: dict[str, dict[str, Any]] = {"gbfs": doc}
        size = len(discovery.content)
        for name in FEEDS:
            if name in feeds:
                fetched = await client.get(feeds[name], headers)
                docs[name], size = parse_json(fetched), size + len(fetched.content)
        system = _system_of(city, source, docs.get("system_information", {}))
        records: list[Record] = []
        vehicles = docs.get("vehicle_status") or docs.get("free_bike_status")
        with collection_paused():  # one entity per station or area, in bulk: see hub/collector.py
            if "station_information" in docs:
                records += station_records(docs["station_information"], docs.get("station_status"), system)
            if vehicles is not None:
                records += fleet_records(vehicles, docs.get("vehicle_types"), system)
        if "station_information" not in docs and vehicles is None:
            raise PayloadInvalid(f"GET {discovery.url}: gbfs.json lists neither stations nor vehicles")
        ttls = [d.get("ttl") for n, d in docs.items() if n in ("station_status", "vehicle_status", "free_bike_status")]
        ttl = min((t for t in ttls if isinstance(t, int) and not isinstance(t, bool) and t >= 0), default=None)
        return HarvestBatch(records=records, bytes=size, documents=docs, ttl=ttl)


def _text(value: Any) -> str | None:
    if isinstance(value, list):  # 3.x localized strings
        return next((str(n.get("text")) for n in value if isinstance(n, dict) and n.get("text")), None)
    return str(value) if value else None


def _system_of(city: City, source: Source, system_doc: dict[str, Any]) -> GbfsSystem:
    data = system_doc.get("data") if isinstance(system_doc.get("data"), dict) else {}
    assert isinstance(data, dict)
    system_id = str(data.get("system_id") or source.id)
    name = _text(data.get("name")) or source.title or system_id
    return GbfsSystem(
        city_id=city.id, system_id=system_id, name=name, operator=_text(data.get("operator")), source_url=source.url
    )
