"""GBFS feeds checked as a whole: the official JSON Schema of each file, and the rules across files.

The version is detected from the payload (``gbfs.json``, else the files' own ``version``), and each file is checked
against the official schema of its version when the schema store holds it. The cross-file rules are those of
``shared/reference/mobility.md``: station ids both ways, duplicate and empty ids, references to vehicle types,
pricing plans, regions and stations, counts within capacity, per-type counts adding up, coordinates inside the area,
``last_reported`` sanity, feed freshness, and the feeds ``gbfs.json`` must list. Integer booleans (``1`` for true)
are one warning each and read as booleans, never a schema error.

Findings are kept per file with their rule, a JSON pointer into that file and a message. Lists are capped per file
and rule (``cap``); the counts are always exact. Nothing here raises on a dirty feed.
"""

from __future__ import annotations

from collections import Counter
from collections.abc import Iterator, Mapping
from dataclasses import dataclass, field
from datetime import UTC, datetime, timedelta
from typing import Any

from jsonschema.exceptions import ValidationError
from jsonschema.protocols import Validator

from schemas.findings import Finding, Severity
from schemas.ngsild import BBox, is_number, is_rfc3339, pointer_token
from schemas.store import SchemaStore

REALTIME_ITEMS = {"station_status": "stations", "free_bike_status": "bikes", "vehicle_status": "vehicles"}
POSITIONED = {"station_information": "stations", "free_bike_status": "bikes", "vehicle_status": "vehicles"}
ID_LISTS = {  # feed → (list under data, id member)
    "station_information": ("stations", "station_id"),
    "station_status": ("stations", "station_id"),
    "vehicle_types": ("vehicle_types", "vehicle_type_id"),
    "system_pricing_plans": ("plans", "plan_id"),
    "system_regions": ("regions", "region_id"),
    "free_bike_status": ("bikes", "bike_id"),
    "vehicle_status": ("vehicles", "vehicle_id"),
    "system_alerts": ("alerts", "alert_id"),
}
_TYPES = ("vehicle_types", "gbfs.unknown-vehicle-type")
_PLANS = ("system_pricing_plans", "gbfs.unknown-pricing-plan")
_REGIONS = ("system_regions", "gbfs.unknown-region")
_STATIONS = ("station_information", "gbfs.unknown-station")
REFERENCES = (  # (target feed, rule), source feed, path below the file ("*": every item, "~": the object's keys)
    (_TYPES, "station_status", "data/stations/*/vehicle_types_available/*/vehicle_type_id"),
    (_TYPES, "station_status", "data/stations/*/vehicle_docks_available/*/vehicle_type_ids/*"),
    (_TYPES, "station_information", "data/stations/*/vehicle_type_capacity/~"),
    (_TYPES, "station_information", "data/stations/*/vehicle_capacity/~"),
    (_TYPES, "station_information", "data/stations/*/vehicle_types_capacity/*/vehicle_type_ids/*"),
    (_TYPES, "station_information", "data/stations/*/vehicle_docks_capacity/*/vehicle_type_ids/*"),
    (_TYPES, "free_bike_status", "data/bikes/*/vehicle_type_id"),
    (_TYPES, "vehicle_status", "data/vehicles/*/vehicle_type_id"),
    (_TYPES, "geofencing_zones", "data/geofencing_zones/features/*/properties/rules/*/vehicle_type_ids/*"),
    (_TYPES, "geofencing_zones", "data/global_rules/*/vehicle_type_ids/*"),
    (_PLANS, "free_bike_status", "data/bikes/*/pricing_plan_id"),
    (_PLANS, "vehicle_status", "data/vehicles/*/pricing_plan_id"),
    (_PLANS, "vehicle_types", "data/vehicle_types/*/default_pricing_plan_id"),
    (_PLANS, "vehicle_types", "data/vehicle_types/*/pricing_plan_ids/*"),
    (_REGIONS, "station_information", "data/stations/*/region_id"),
    (_REGIONS, "system_alerts", "data/alerts/*/region_ids/*"),
    (_STATIONS, "system_alerts", "data/alerts/*/station_ids/*"),
    (_STATIONS, "free_bike_status", "data/bikes/*/station_id"),
    (_STATIONS, "vehicle_status", "data/vehicles/*/station_id"),
    (_STATIONS, "vehicle_status", "data/vehicles/*/home_station_id"),
)
# Every boolean of GBFS 1.x-3.x (from the official schemas), so integer booleans are found in any version.
BOOLEAN_FIELDS = frozenset(
    {
        *("is_charging_station", "is_disabled", "is_installed", "is_renting", "is_reserved", "is_returning"),
        *("is_taxable", "is_valet_station", "is_virtual_station", "parking_hoop", "station_parking", "surge_pricing"),
        *("ride_allowed", "ride_end_allowed", "ride_start_allowed", "ride_through_allowed"),
    }
)
CLOCK_SKEW = timedelta(seconds=60)
FRESHNESS = timedelta(minutes=5)
PLACEHOLDER_CAPACITY = 9999


@dataclass(slots=True)
class GbfsReport:
    """Findings per file (capped per file and rule), exact counts per rule and per file, totals."""

    version: str | None
    cap: int
    findings: dict[str, list[Finding]] = field(default_factory=dict)
    counts: dict[str, int] = field(default_factory=dict)
    counts_by_file: dict[str, dict[str, int]] = field(default_factory=dict)
    schema_checked: dict[str, bool] = field(default_factory=dict)
    errors: int = 0
    warnings: int = 0

    @property
    def truncated(self) -> bool:
        return sum(len(f) for f in self.findings.values()) < sum(self.counts.values())

    def add(self, feed: str, finding: Finding) -> None:
        by_rule = self.counts_by_file.setdefault(feed, {})
        by_rule[finding.rule] = by_rule.get(finding.rule, 0) + 1
        self.counts[finding.rule] = self.counts.get(finding.rule, 0) + 1
        self.errors += finding.severity is Severity.ERROR
        self.warnings += finding.severity is Severity.WARNING
        if by_rule[finding.rule] <= self.cap:
            self.findings.setdefault(feed, []).append(finding)

    def flag(
        self, feed: str, rule: str, severity: Severity, pointer: str, message: str, normalized: Any = None
    ) -> None:
        self.add(feed, Finding(rule, severity, pointer, message, normalized))

    def to_dict(self) -> dict[str, Any]:
        return {
            "version": self.version,
            "errors": self.errors,
            "warnings": self.warnings,
            "truncated": self.truncated,
            "counts": dict(sorted(self.counts.items())),
            "counts_by_file": self.counts_by_file,
            "schema_checked": self.schema_checked,
            "findings": {feed: [f.to_dict() for f in found] for feed, found in self.findings.items()},
        }


def validate_gbfs(
    files: Mapping[str, dict[str, Any]],
    *,
    version: str | None = None,
    bbox: BBox | None = None,
    now: datetime | None = None,
    cap: int = 100,
    store: SchemaStore | None = None,
    max_report_age: timedelta = timedelta(hours=24),
) -> GbfsReport:
    """Check the files of one GBFS system (feed name → parsed document) alone and against each other.

    ``bbox`` (min_lon, min_lat, max_lon, max_lat) is the system's area; ``now`` the instant freshness is judged at;
    ``store`` supplies the official schemas (without it, or for a version it lacks, only the rules are checked and
    ``schema_checked`` says so); ``max_report_age`` is how much older than its file a ``last_reported`` may be.
    """
    docs = {name.removesuffix(".json"): doc for name, doc in files.items() if isinstance(doc, dict)}
    report = GbfsReport(version or detect_version(docs), cap)
    moment = now or datetime.now(UTC)
    for feed, doc in docs.items():
        own = version or (doc["version"] if isinstance(doc.get("version"), str) else report.version)
        if own != report.version:
            message = f"the file says version {own}, the system {report.version}"
            report.flag(feed, "gbfs.version-mismatch", Severity.WARNING, "/version", message)
        booleans = _integer_booleans(report, feed, doc)
        validator = store.gbfs_validator(own, feed) if store is not None and own else None
        report.schema_checked[feed] = _check_schema(report, feed, doc, validator, booleans)
        _check_freshness(report, feed, doc, moment, max_report_age)
        if feed in POSITIONED:
            _check_coordinates(report, feed, doc, bbox, check_range=not report.schema_checked[feed])
    ids = {feed: _ids(report, feed, docs[feed]) for feed in ID_LISTS if feed in docs}
    _check_station_pairs(report, ids)
    _check_references(report, docs, ids)
    _check_counts(report, docs, ids)
    if "gbfs" in docs:
        _check_discovery(report, docs["gbfs"])
    return report


def detect_version(docs: Mapping[str, dict[str, Any]]) -> str | None:
    """``gbfs.json``'s version, else the most common version among the files (the highest on a tie); ``1.0`` when
    none says (the field came in 1.1); None without files."""
    discovery = docs.get("gbfs", {}).get("version")
    if isinstance(discovery, str):
        return discovery
    versions = Counter(str(d["version"]) for d in docs.values() if isinstance(d.get("version"), str))
    if versions:
        return max(versions, key=lambda v: (versions[v], _version_key(v)))
    return "1.0" if docs else None


def _version_key(version: str) -> tuple[int, ...]:
    return tuple(int(p) if p.isdigit() else -1 for p in version.split(".") if p)


def _walk(node: Any, parts: list[str], pointer: str = "") -> Iterator[tuple[str, Any]]:
    """(pointer, value) of every match of a path; ``*`` is every item or member, ``~`` every key of an object."""
    if not parts:
        yield pointer, node
        return
    head, rest = parts[0], parts[1:]
    if head == "~":
        keys = node if isinstance(node, dict) else {}
        yield from ((f"{pointer}/{pointer_token(str(k))}", k) for k in keys)
    elif head == "*":
        items = enumerate(node) if isinstance(node, list) else node.items() if isinstance(node, dict) else ()
        for key, value in items:
            yield from _walk(value, rest, f"{pointer}/{pointer_token(str(key))}")
    elif isinstance(node, dict) and head in node:
        yield from _walk(node[head], rest, f"{pointer}/{pointer_token(head)}")


def _items(doc: dict[str, Any], key: str) -> list[tuple[int, dict[str, Any]]]:
    data = doc.get("data")
    items = data.get(key) if isinstance(data, dict) else None
    return [(i, item) for i, item in enumerate(items) if isinstance(item, dict)] if isinstance(items, list) else []


def _integer_booleans(report: GbfsReport, feed: str, doc: dict[str, Any]) -> set[str]:
    found: set[str] = set()
    stack: list[tuple[str, Any]] = [("", doc)]
    while stack:
        pointer, node = stack.pop()
        members = node.items() if isinstance(node, dict) else enumerate(node) if isinstance(node, list) else ()
        for key, value in members:
            where = f"{pointer}/{pointer_token(str(key))}"
            if key in BOOLEAN_FIELDS and type(value) is int and value in (0, 1):
                found.add(where)
                message = f"{key} is the integer {value}: read as {str(bool(value)).lower()}"
                report.flag(feed, "gbfs.integer-boolean", Severity.WARNING, where, message, bool(value))
            elif isinstance(value, dict | list):
                stack.append((where, value))
    return found


def _check_schema(
    report: GbfsReport, feed: str, doc: dict[str, Any], validator: Validator | None, booleans: set[str]
) -> bool:
    if validator is None:
        return False
    for error in validator.iter_errors(doc):
        pointer = "".join(f"/{pointer_token(str(p))}" for p in error.absolute_path)
        if error.validator == "type" and pointer in booleans:
            continue  # counted once, as gbfs.integer-boolean
        report.flag(feed, f"gbfs.schema.{error.validator}", Severity.ERROR, pointer, _message(error))
    return True


def _message(error: ValidationError, limit: int = 300) -> str:
    return error.message if len(error.message) <= limit else error.message[: limit - 1] + "…"


def _instant(value: Any) -> datetime | None:
    """A GBFS timestamp: POSIX seconds (1.x/2.x) or RFC 3339 (3.x)."""
    if isinstance(value, int | float) and not isinstance(value, bool):
        try:
            return datetime.fromtimestamp(value, UTC)
        except (OverflowError, OSError, ValueError):
            return None
    if is_rfc3339(value):
        return datetime.fromisoformat(str(value).upper().replace("Z", "+00:00"))
    return None


def _check_freshness(report: GbfsReport, feed: str, doc: dict[str, Any], now: datetime, max_age: timedelta) -> None:
    if feed not in REALTIME_ITEMS:
        return
    updated = _instant(doc.get("last_updated"))
    ttl = min(max(_number(doc.get("ttl")) or 0, 0), 10**9)  # a timedelta cannot hold any integer
    if updated is not None and updated > now + CLOCK_SKEW:
        message = f"last_updated {updated:%Y-%m-%dT%H:%M:%SZ} is in the future"
        report.flag(feed, "gbfs.last-updated-future", Severity.WARNING, "/last_updated", message)
    elif updated is not None and now - updated > max(timedelta(seconds=ttl), FRESHNESS):
        message = f"last_updated {updated:%Y-%m-%dT%H:%M:%SZ} is {now - updated} old (ttl {ttl} s)"
        report.flag(feed, "gbfs.stale-feed", Severity.WARNING, "/last_updated", message)
    reference = min(updated, now) if updated is not None else now
    for i, item in _items(doc, REALTIME_ITEMS[feed]):
        reported = _instant(item.get("last_reported"))
        where = f"/data/{REALTIME_ITEMS[feed]}/{i}/last_reported"
        if reported is not None and reported > reference + CLOCK_SKEW:
            message = f"last_reported {reported:%Y-%m-%dT%H:%M:%SZ} is after the file's time"
            report.flag(feed, "gbfs.last-reported-future", Severity.WARNING, where, message)
        elif reported is not None and reported < reference - max_age:
            message = f"last_reported {reported:%Y-%m-%dT%H:%M:%SZ} is {reference - reported} older than the file"
            report.flag(feed, "gbfs.last-reported-stale", Severity.WARNING, where, message)


def _ids(report: GbfsReport, feed: str, doc: dict[str, Any]) -> dict[str, int]:
    """Id → index of its first item; empty and duplicate ids reported."""
    key, member = ID_LISTS[feed]
    first: dict[str, int] = {}
    for i, item in _items(doc, key):
        value = item.get(member)
        where = f"/data/{key}/{i}/{member}"
        if isinstance(value, int) and not isinstance(value, bool):
            value = str(value)  # integer ids of old feeds: the schema, where there is one, says so
        if not isinstance(value, str) or not value.strip():
            message = f"{member} {value!r} is empty"
            report.flag(feed, "gbfs.empty-id", Severity.ERROR, where, message)
        elif value in first:
            message = f"{member} {value!r} is also at /data/{key}/{first[value]}"
            report.flag(feed, "gbfs.duplicate-id", Severity.ERROR, where, message)
        else:
            first[value] = i
    return first


def _check_station_pairs(report: GbfsReport, ids: dict[str, dict[str, int]]) -> None:
    info, status = ids.get("station_information"), ids.get("station_status")
    if info is None or status is None:
        return
    for station, i in status.items():
        if station not in info:
            message = f"station {station!r} has a status but is not in station_information"
            where = f"/data/stations/{i}/station_id"
            report.flag("station_status", "gbfs.status-without-information", Severity.ERROR, where, message)
    for station, i in info.items():
        if station not in status:
            message = f"station {station!r} is not in station_status"
            where = f"/data/stations/{i}/station_id"
            report.flag("station_information", "gbfs.information-without-status", Severity.WARNING, where, message)


def _check_references(report: GbfsReport, docs: Mapping[str, dict[str, Any]], ids: dict[str, dict[str, int]]) -> None:
    for (target, rule), source, path in REFERENCES:
        if target not in ids or source not in docs:
            continue  # without the target file, a reference cannot be resolved, nor be wrong
        for where, value in _walk(docs[source], path.split("/")):
            if str(value) not in ids[target]:
                message = f"{value!r} is not an id in {target}"
                report.flag(source, rule, Severity.ERROR, where, message)
    if "vehicle_types" not in docs:
        return
    for feed, (key, member) in (
        ("station_status", ("stations", "vehicle_types_available")),
        ("free_bike_status", ("bikes", "vehicle_type_id")),
        ("vehicle_status", ("vehicles", "vehicle_type_id")),
    ):
        for i, item in _items(docs.get(feed, {}), key):
            if member not in item:
                rule, message = f"gbfs.missing-{member.replace('_', '-')}", f"{member} is required with vehicle_types"
                report.flag(feed, rule, Severity.ERROR, f"/data/{key}/{i}", message)


def _number(value: Any) -> int | None:
    return value if type(value) is int else None


def _check_counts(report: GbfsReport, docs: Mapping[str, dict[str, Any]], ids: dict[str, dict[str, int]]) -> None:
    info_items = dict(_items(docs.get("station_information", {}), "stations"))
    info_ids = ids.get("station_information", {})
    for i, station in info_items.items():
        capacity = _number(station.get("capacity"))
        if capacity is not None and capacity >= PLACEHOLDER_CAPACITY:
            where, message = f"/data/stations/{i}/capacity", f"capacity {capacity} looks like a placeholder"
            report.flag("station_information", "gbfs.placeholder-capacity", Severity.WARNING, where, message)
    for i, status in _items(docs.get("station_status", {}), "stations"):
        vehicles = _number(status.get("num_bikes_available", status.get("num_vehicles_available")))
        docks = _number(status.get("num_docks_available"))
        where = f"/data/stations/{i}"
        info = info_items.get(info_ids.get(str(status.get("station_id")), -1), {})
        capacity = _number(info.get("capacity"))
        if capacity is not None and vehicles is not None and vehicles + (docks or 0) > capacity:
            message = f"{vehicles} vehicles + {docks or 0} free docks exceed the capacity {capacity}"
            report.flag("station_status", "gbfs.counts-exceed-capacity", Severity.WARNING, where, message)
        for member, total, rule in (
            ("vehicle_types_available", vehicles, "gbfs.vehicle-type-counts"),
            ("vehicle_docks_available", docks, "gbfs.dock-type-counts"),
        ):
            parts = status.get(member)
            if total is None or not isinstance(parts, list):
                continue
            summed = sum(_number(p.get("count")) or 0 for p in parts if isinstance(p, dict))
            if summed != total:
                message = f"the counts in {member} add up to {summed}, not {total}"
                report.flag("station_status", rule, Severity.WARNING, f"{where}/{member}", message)


def _check_coordinates(
    report: GbfsReport, feed: str, doc: dict[str, Any], bbox: BBox | None, *, check_range: bool
) -> None:
    key = POSITIONED[feed]
    for i, item in _items(doc, key):
        lat, lon = item.get("lat"), item.get("lon")
        if not (is_number(lat) and is_number(lon)):
            continue
        where = f"/data/{key}/{i}"
        if not (-90 <= lat <= 90 and -180 <= lon <= 180):
            if check_range:
                message = f"lat {lat}, lon {lon} are outside latitude -90..90 / longitude -180..180"
                report.flag(feed, "gbfs.coordinate-range", Severity.ERROR, where, message)
        elif bbox is not None and not (bbox[0] <= lon <= bbox[2] and bbox[1] <= lat <= bbox[3]):
            if bbox[0] <= lat <= bbox[2] and bbox[1] <= lon <= bbox[3]:
                message = f"lat {lat}, lon {lon} look swapped: they fit the area the other way round"
                report.flag(feed, "gbfs.lonlat-order", Severity.ERROR, where, message)
            else:
                message = f"lat {lat}, lon {lon} are outside the system's area"
                report.flag(feed, "gbfs.outside-area", Severity.WARNING, where, message)


def _check_discovery(report: GbfsReport, doc: dict[str, Any]) -> None:
    """``gbfs.json`` lists system_information, a status feed, and station_information with station_status."""
    data: dict[str, Any] = doc["data"] if isinstance(doc.get("data"), dict) else {}
    if isinstance(data.get("feeds"), list):
        listings = {"/data/feeds": data["feeds"]}
    else:
        listings = {
            f"/data/{pointer_token(lang)}/feeds": v.get("feeds") for lang, v in data.items() if isinstance(v, dict)
        }
    for where, feeds in listings.items():
        listed = feeds if isinstance(feeds, list) else []
        names = {f["name"] for f in listed if isinstance(f, dict) and isinstance(f.get("name"), str)}
        missing = [] if "system_information" in names else ["system_information"]
        if not names & {"station_status", "vehicle_status", "free_bike_status"}:
            missing.append("station_status or vehicle_status")
        if "station_information" in names and "station_status" not in names:
            missing.append("station_status (station_information is listed)")
        if "station_status" in names and "station_information" not in names:
            missing.append("station_information (station_status is listed)")
        for name in missing:
            report.flag("gbfs", "gbfs.required-feed-missing", Severity.ERROR, where, f"gbfs.json does not list {name}")
