"""The ``gbfs`` source kind: auto-discovery, then station information + status → BikeHireDockingStation."""

from __future__ import annotations

import os
from typing import Any, ClassVar

import orjson

from harvester.http import FetchResult, HttpClient
from harvester.sources.base import HarvestBatch
from harvester.sources.gbfs_transform import GbfsSystem, discover_feeds, station_records
from hub.cities import City, Source, SourceKind
from hub.errors import PayloadInvalid, SourceHTTPError


def parse_json(result: FetchResult) -> dict[str, Any]:
    """The body of a fetch as a JSON object, or PayloadInvalid naming the URL and the position."""
    try:
        doc = orjson.loads(result.content)
    except orjson.JSONDecodeError as exc:
        raise PayloadInvalid(f"GET {result.url}: invalid JSON ({exc})") from exc
    if not isinstance(doc, dict):
        raise PayloadInvalid(f"GET {result.url}: expected a JSON object, got {type(doc).__name__}")
    return doc


class GbfsAdapter:
    """Harvests one GBFS system (docked stations) from its discovery URL."""

    kind: ClassVar[SourceKind] = SourceKind.GBFS

    async def harvest(self, client: HttpClient, city: City, source: Source) -> HarvestBatch:
        headers = source.header_values(os.environ)
        discovery, feeds = await self._discover(client, source.url, headers)
        fetched = discovery.content
        system_doc: dict[str, Any] = {}
        if "system_information" in feeds:
            result = await client.get(feeds["system_information"], headers)
            fetched += result.content
            system_doc = parse_json(result)
        if "station_information" not in feeds:
            raise PayloadInvalid(f"GET {discovery.url}: gbfs.json lists no station_information feed")
        info_result = await client.get(feeds["station_information"], headers)
        information = parse_json(info_result)
        status: dict[str, Any] | None = None
        status_bytes = b""
        if "station_status" in feeds:
            status_result = await client.get(feeds["station_status"], headers)
            status, status_bytes = parse_json(status_result), status_result.content
        system = self._system(city, source, system_doc)
        records = station_records(information, status, system)
        return HarvestBatch(records=records, bytes=len(fetched) + len(info_result.content) + len(status_bytes))

    @staticmethod
    async def _discover(client: HttpClient, url: str, headers: dict[str, str]) -> tuple[FetchResult, dict[str, str]]:
        """Fetch ``url`` as gbfs.json; when it is not one, try ``<url>/gbfs.json`` (as the spec suggests)."""
        candidates = [url] if url.rstrip("/").endswith("gbfs.json") else [url, url.rstrip("/") + "/gbfs.json"]
        last_error: Exception | None = None
        for candidate in candidates:
            try:
                result = await client.get(candidate, headers)
                feeds = discover_feeds(parse_json(result))
            except (PayloadInvalid, SourceHTTPError) as exc:
                last_error = exc
                continue
            if feeds:
                return result, feeds
            last_error = PayloadInvalid(f"GET {candidate}: not a gbfs.json (no feeds listed)")
        assert last_error is not None
        raise last_error

    @staticmethod
    def _system(city: City, source: Source, system_doc: dict[str, Any]) -> GbfsSystem:
        data = system_doc.get("data") if isinstance(system_doc.get("data"), dict) else {}
        assert isinstance(data, dict)
        name = data.get("name")
        if isinstance(name, list):  # 3.x localized names
            name = next((n.get("text") for n in name if isinstance(n, dict)), None)
        operator = data.get("operator")
        if isinstance(operator, list):
            operator = next((n.get("text") for n in operator if isinstance(n, dict)), None)
        system_id = str(data.get("system_id") or source.id)
        return GbfsSystem(
            city_id=city.id,
            system_id=system_id,
            name=str(name or source.title or system_id),
            operator=str(operator) if operator else None,
            source_url=source.url,
        )
