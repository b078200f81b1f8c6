"""Pure transforms of GBFS 1.x/2.x/3.x feeds into Smart Data Model BikeHireDockingStation entities.

No I/O here: these functions take parsed feed documents and return entities with their findings, and are tested
on the real recorded Oslo feeds. The mapping follows ``shared/reference/mobility.md``.
"""

from __future__ import annotations

import functools
import re
from dataclasses import dataclass
from datetime import UTC, datetime
from typing import Any

from harvester.sources.base import Record
from schemas.findings import Finding, Severity

ENTITY_TYPE = "BikeHireDockingStation"
_CODESPACE = re.compile(r"^[A-Z]{2,4}:Station:(?P<local>.+)$")
_ADDRESS = (("streetAddress", "address"), ("postalCode", "post_code"), ("addressLocality", "city"))
FEEDS_LANGUAGE_PREFERENCE = ("en", "nb", "no", "da", "sv", "fi", "is")


@dataclass(frozen=True, slots=True)
class GbfsSystem:
    """What a station entity needs to know about the system it belongs to."""

    city_id: str
    system_id: str
    name: str
    operator: str | None = None
    source_url: str | None = None


def local_station_id(station_id: str) -> str:
    """The operator's own station id: codespace prefixes of national proxies (``YOS:Station:2351``) stripped."""
    if ":" not in station_id:  # the common case, without the regular expression (four calls per station)
        return station_id
    match = _CODESPACE.match(station_id)
    return match.group("local") if match else station_id


def entity_id(system: GbfsSystem, station_id: str) -> str:
    return f"urn:ngsi-ld:{ENTITY_TYPE}:{system.city_id}:{system.system_id}:{local_station_id(station_id)}"


def discover_feeds(doc: dict[str, Any]) -> dict[str, str]:
    """Feed name → URL from a ``gbfs.json``: 3.x ``data.feeds`` or 1.x/2.x ``data.<language>.feeds``."""
    data = doc.get("data")
    if not isinstance(data, dict):
        return {}
    feeds = data.get("feeds")
    if not isinstance(feeds, list):
        languages = [lang for lang in FEEDS_LANGUAGE_PREFERENCE if isinstance(data.get(lang), dict)]
        languages += [k for k, v in data.items() if isinstance(v, dict) and k not in languages]
        feeds = data[languages[0]].get("feeds") if languages else None
    if not isinstance(feeds, list):
        return {}
    return {str(f["name"]): str(f["url"]) for f in feeds if isinstance(f, dict) and "name" in f and "url" in f}


@functools.lru_cache(maxsize=1024)  # a snapshot's stations share a handful of timestamps
def gbfs_time(value: Any) -> str | None:
    """A GBFS timestamp (POSIX seconds in 1.x/2.x, RFC 3339 in 3.x) as RFC 3339 UTC, or None."""
    if isinstance(value, bool):
        return None
    if isinstance(value, int | float):
        return _posix_time(value)
    if isinstance(value, str):
        try:
            parsed = datetime.fromisoformat(value.replace("Z", "+00:00"))
        except ValueError:
            return None
        if parsed.tzinfo is None:
            return None
        return parsed.astimezone(UTC).strftime("%Y-%m-%dT%H:%M:%SZ")
    return None


# A snapshot's stations share a few report times (all 256 of Oslo's captured status share one): formatting each
# again was a tenth of the transform (bench/harvest_pipeline.py).
@functools.lru_cache(maxsize=4096)
def _posix_time(value: int | float) -> str:
    return datetime.fromtimestamp(value, UTC).strftime("%Y-%m-%dT%H:%M:%SZ")


def _text(value: Any) -> str | dict[str, str] | None:
    """2.x names are strings; 3.x names are ``[{text, language}]`` → a language map."""
    if isinstance(value, str):
        return value
    if isinstance(value, list):
        texts = {str(v["language"]): str(v["text"]) for v in value if isinstance(v, dict) and "text" in v}
        return texts or None
    return None


def _prop(value: Any, observed_at: str | None = None) -> dict[str, Any]:
    attr: dict[str, Any] = {"type": "Property", "value": value}
    if observed_at:
        attr["observedAt"] = observed_at
    return attr


def _flag(status: dict[str, Any], key: str, pointer: str, findings: list[Finding]) -> bool | None:
    value = status.get(key)
    if isinstance(value, bool) or value is None:
        return value
    if value in (0, 1):
        findings.append(
            Finding(
                "gbfs.integer-boolean",
                Severity.WARNING,
                f"{pointer}/{key}",
                f"{key} is the integer {value}, coerced to {bool(value)}",
            )
        )
        return bool(value)
    findings.append(Finding("gbfs.type", Severity.WARNING, f"{pointer}/{key}", f"{key} is not a boolean: ignored"))
    return None


def station_status_value(
    installed: bool | None, renting: bool | None, returning: bool | None, bikes: int | None, docks: int | None
) -> str:
    """The Smart Data Model ``status`` derived from GBFS flags and counts (rule in mobility.md)."""
    if installed is False or (renting is False and returning is False):
        return "outOfService"
    if renting is False or returning is False:
        return "withIncidence"
    if bikes == 0:
        return "empty"
    if docks == 0:
        return "full"
    return "working"


def _count(status: dict[str, Any], keys: tuple[str, ...]) -> int | None:
    for key in keys:
        value = status.get(key)
        if isinstance(value, int) and not isinstance(value, bool):
            return value
    return None


def _static_attributes(
    attrs: dict[str, Any], info: dict[str, Any], local: str, system: GbfsSystem, pointer: str, findings: list[Finding]
) -> None:
    """Add the attributes of station_information to ``attrs`` (``local``: the operator's own station id)."""
    name = _text(info.get("name"))
    if isinstance(name, dict):
        attrs["name"] = {"type": "LanguageProperty", "languageMap": name}
    elif name:
        attrs["name"] = _prop(name)
    lat, lon = info.get("lat"), info.get("lon")
    if isinstance(lat, int | float) and isinstance(lon, int | float):
        attrs["location"] = {"type": "GeoProperty", "value": {"type": "Point", "coordinates": [lon, lat]}}
    else:
        findings.append(Finding("gbfs.coordinates", Severity.ERROR, pointer, "station has no numeric lat/lon"))
    address = {}
    for key, member in _ADDRESS:
        value = info.get(member)
        if value and isinstance(value, str):
            address[key] = value
    if address:
        attrs["address"] = _prop(address)
    capacity = info.get("capacity")
    if isinstance(capacity, int) and not isinstance(capacity, bool) and capacity >= 0:
        attrs["totalSlotNumber"] = _prop(capacity)
    attrs["stationCode"] = {"type": "Property", "value": local}
    attrs["provider"] = {"type": "Property", "value": system.operator or system.name}
    if system.source_url:
        attrs["source"] = {"type": "Property", "value": system.source_url}


def _dynamic_attributes(
    attrs: dict[str, Any], status: dict[str, Any], capacity: int | None, pointer: str, findings: list[Finding]
) -> None:
    """Add the attributes of station_status to ``attrs``."""
    observed = gbfs_time(status.get("last_reported"))
    bikes = _count(status, ("num_bikes_available", "num_vehicles_available"))
    docks = _count(status, ("num_docks_available",))
    disabled = _count(status, ("num_docks_disabled",))
    if bikes is not None:
        attrs["availableBikeNumber"] = _prop(max(bikes, 0), observed)
    if docks is not None:
        attrs["freeSlotNumber"] = _prop(max(docks, 0), observed)
    if disabled is not None:
        attrs["outOfServiceSlotNumber"] = _prop(max(disabled, 0), observed)
    if capacity is not None and (bikes or 0) + (docks or 0) > capacity:
        findings.append(
            Finding(
                "gbfs.counts-exceed-capacity",
                Severity.WARNING,
                pointer,
                f"bikes {bikes} + free docks {docks} exceed capacity {capacity}",
            )
        )
    # Booleans (the usual case) are taken as they are, without a call: a generator over the three flags was a
    # tenth of the transform (bench/harvest_pipeline.py).
    installed, renting, returning = status.get("is_installed"), status.get("is_renting"), status.get("is_returning")
    if installed is not None and type(installed) is not bool:
        installed = _flag(status, "is_installed", pointer, findings)
    if renting is not None and type(renting) is not bool:
        renting = _flag(status, "is_renting", pointer, findings)
    if returning is not None and type(returning) is not bool:
        returning = _flag(status, "is_returning", pointer, findings)
    attrs["status"] = _prop(station_status_value(installed, renting, returning, bikes, docks), observed)
    if observed:
        attrs["observationDateTime"] = _prop(observed)


def station_entity(
    info: dict[str, Any], status: dict[str, Any] | None, system: GbfsSystem, *, pointer: str, last_updated: str | None
) -> Record:
    """One station (information + status) as a normalized BikeHireDockingStation entity."""
    findings: list[Finding] = []
    raw_id = info.get("station_id")
    if not isinstance(raw_id, str | int) or not str(raw_id).strip():
        findings.append(Finding("gbfs.empty-id", Severity.ERROR, f"{pointer}/station_id", "station_id is missing"))
        return Record(record_id=f"{pointer}", entity=None, findings=findings)
    station_id = str(raw_id).strip()
    local = local_station_id(station_id)
    entity: dict[str, Any] = {
        "id": f"urn:ngsi-ld:{ENTITY_TYPE}:{system.city_id}:{system.system_id}:{local}",  # entity_id(), inlined
        "type": ENTITY_TYPE,
    }
    _static_attributes(entity, info, local, system, pointer, findings)
    if status is None:
        findings.append(
            Finding(
                "gbfs.station-without-status",
                Severity.WARNING,
                pointer,
                f"station {station_id} is not in station_status",
            )
        )
    else:
        capacity = entity.get("totalSlotNumber", {}).get("value")
        _dynamic_attributes(entity, status, capacity, pointer, findings)
    if last_updated:
        entity["dateModified"] = _prop(last_updated)
    has_error = bool(findings) and any(f.severity is Severity.ERROR for f in findings)
    return Record(record_id=entity["id"], entity=None if has_error else entity, findings=findings)


def _stations(doc: dict[str, Any] | None) -> list[Any]:
    data = doc.get("data") if isinstance(doc, dict) else None
    stations = data.get("stations") if isinstance(data, dict) else None
    return stations if isinstance(stations, list) else []


def station_records(information: dict[str, Any], status: dict[str, Any] | None, system: GbfsSystem) -> list[Record]:
    """Every station of a system: information joined with status by the operator's own station id."""
    by_id: dict[str, dict[str, Any]] = {}
    for st in _stations(status):
        if isinstance(st, dict) and st.get("station_id") is not None:
            by_id[local_station_id(str(st["station_id"]).strip())] = st
    last_updated = gbfs_time(information.get("last_updated"))
    if status is not None:
        last_updated = gbfs_time(status.get("last_updated")) or last_updated
    records: list[Record] = []
    seen: set[str] = set()
    for index, info in enumerate(_stations(information)):
        pointer = f"/station_information/data/stations/{index}"
        if not isinstance(info, dict):
            records.append(Record(pointer, None, [Finding("gbfs.type", Severity.ERROR, pointer, "not an object")]))
            continue
        local = local_station_id(str(info.get("station_id", "")).strip())
        record = station_entity(info, by_id.get(local), system, pointer=pointer, last_updated=last_updated)
        if local and local in seen:
            record.entity = None
            record.findings.append(
                Finding(
                    "gbfs.duplicate-id",
                    Severity.ERROR,
                    f"{pointer}/station_id",
                    f"station_id {local} appears more than once",
                )
            )
        seen.add(local)
        records.append(record)
    return records
