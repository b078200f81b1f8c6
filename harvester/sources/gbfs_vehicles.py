"""Free-floating vehicles (GBFS 2.x ``free_bike_status``, 3.x ``vehicle_status``) as counts, never as vehicles.

Vehicle ids rotate after every trip for privacy; the hub keeps none of them. A system's vehicles become one entity per
form factor (bicycle, scooter, …) with counts — available, reserved, disabled — overall and per area cell of about
1 km, observed at the feed's ``last_updated``. The type ``SharedMobilityAvailability`` is the hub's own (no Smart
Data Model describes fleet counts).
"""

from __future__ import annotations

from collections import Counter
from dataclasses import dataclass, field
from typing import Any

from harvester.sources.base import Record
from harvester.sources.gbfs_transform import GbfsSystem, gbfs_time
from schemas.findings import Finding, Severity

ENTITY_TYPE = "SharedMobilityAvailability"
CELL_LAT = 0.01  # about 1.1 km
CELL_LON = 0.02  # about 1.1 km at Nordic latitudes


@dataclass(slots=True)
class _Fleet:
    available: int = 0
    reserved: int = 0
    disabled: int = 0
    cells: Counter[str] = field(default_factory=Counter)
    lon_sum: float = 0.0
    lat_sum: float = 0.0


def cell_id(lon: float, lat: float) -> str:
    """The area cell of a position: its south-west corner on a ~1 km grid."""
    return f"{int(lat // CELL_LAT) * CELL_LAT:.2f},{int(lon // CELL_LON) * CELL_LON:.2f}"


def _form_factors(vehicle_types: dict[str, Any] | None) -> dict[str, str]:
    data = vehicle_types.get("data") if isinstance(vehicle_types, dict) else None
    types = data.get("vehicle_types") if isinstance(data, dict) else None
    if not isinstance(types, list):
        return {}
    return {
        str(t["vehicle_type_id"]): str(t.get("form_factor", "other"))
        for t in types
        if isinstance(t, dict) and "vehicle_type_id" in t
    }


def _vehicles(doc: dict[str, Any]) -> list[Any]:
    data = doc.get("data")
    if not isinstance(data, dict):
        return []
    found = data.get("vehicles", data.get("bikes"))
    return found if isinstance(found, list) else []


def _count(fleets: dict[str, _Fleet], vehicle: dict[str, Any], kinds: dict[str, str]) -> bool:
    lat, lon = vehicle.get("lat"), vehicle.get("lon")
    if not isinstance(lat, int | float) or not isinstance(lon, int | float):
        return False
    fleet = fleets.setdefault(kinds.get(str(vehicle.get("vehicle_type_id")), "bicycle"), _Fleet())
    if vehicle.get("is_disabled") in (True, 1):
        fleet.disabled += 1
    elif vehicle.get("is_reserved") in (True, 1):
        fleet.reserved += 1
    else:
        fleet.available += 1
        fleet.cells[cell_id(lon, lat)] += 1
        fleet.lon_sum += lon
        fleet.lat_sum += lat
    return True


def fleet_records(status: dict[str, Any], vehicle_types: dict[str, Any] | None, system: GbfsSystem) -> list[Record]:
    """One record per form factor with counts; vehicles without a position are counted in a finding, not kept."""
    kinds = _form_factors(vehicle_types)
    fleets: dict[str, _Fleet] = {}
    unplaced = sum(not _count(fleets, v, kinds) for v in _vehicles(status) if isinstance(v, dict))
    observed = gbfs_time(status.get("last_updated"))
    records = [_record(system, form, fleet, observed) for form, fleet in sorted(fleets.items())]
    if unplaced and records:
        records[0].findings.append(
            Finding(
                "gbfs.vehicle-position",
                Severity.WARNING,
                "/vehicle_status/data",
                f"{unplaced} vehicles without lat/lon were left out of the counts",
            )
        )
    return records


def _record(system: GbfsSystem, form: str, fleet: _Fleet, observed: str | None) -> Record:
    entity_id = f"urn:ngsi-ld:{ENTITY_TYPE}:{system.city_id}:{system.system_id}:{form}"

    def prop(value: Any) -> dict[str, Any]:
        return {"type": "Property", "value": value, **({"observedAt": observed} if observed else {})}

    entity: dict[str, Any] = {
        "id": entity_id,
        "type": ENTITY_TYPE,
        "formFactor": {"type": "Property", "value": form},
        "provider": {"type": "Property", "value": system.operator or system.name},
        "availableVehicleNumber": prop(fleet.available),
        "reservedVehicleNumber": prop(fleet.reserved),
        "disabledVehicleNumber": prop(fleet.disabled),
        "availableVehiclesByArea": prop(dict(sorted(fleet.cells.items()))),
    }
    if fleet.available:
        centre = [round(fleet.lon_sum / fleet.available, 6), round(fleet.lat_sum / fleet.available, 6)]
        entity["location"] = {"type": "GeoProperty", "value": {"type": "Point", "coordinates": centre}}
    if system.source_url:
        entity["source"] = {"type": "Property", "value": system.source_url}
    return Record(record_id=entity_id, entity=entity)
