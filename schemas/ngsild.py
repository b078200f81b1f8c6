"""Structural checks of normalized NGSI-LD entities (the part of the rules the harvester needs today).

Each check returns findings with a JSON pointer into the entity; none raises.
"""

from __future__ import annotations

from typing import Any
from urllib.parse import urlsplit

from schemas.findings import Finding, Severity

ATTRIBUTE_VALUE_MEMBER = {
    "Property": "value",
    "GeoProperty": "value",
    "Relationship": "object",
    "LanguageProperty": "languageMap",
    "VocabProperty": "vocab",
    "JsonProperty": "json",
    "ListProperty": "valueList",
    "ListRelationship": "objectList",
}
CORE_MEMBERS = {"id", "type", "@context", "scope", "createdAt", "modifiedAt", "deletedAt"}


def is_absolute_uri(value: object) -> bool:
    return isinstance(value, str) and bool(urlsplit(value).scheme) and ":" in value and " " not in value


def check_entity(entity: dict[str, Any], bbox: tuple[float, float, float, float] | None = None) -> list[Finding]:
    """Findings for one normalized entity; ``bbox`` (min_lon, min_lat, max_lon, max_lat) adds a location check."""
    findings: list[Finding] = []
    if not is_absolute_uri(entity.get("id")):
        findings.append(Finding("ngsild.id", Severity.ERROR, "/id", "id must be an absolute URI"))
    if not isinstance(entity.get("type"), str | list) or not entity.get("type"):
        findings.append(Finding("ngsild.type", Severity.ERROR, "/type", "type is missing"))
    for name, attr in entity.items():
        if name not in CORE_MEMBERS:
            findings.extend(_check_attribute(name, attr, bbox))
    return findings


def _check_attribute(name: str, attr: Any, bbox: tuple[float, float, float, float] | None) -> list[Finding]:
    pointer = f"/{name}"
    if not isinstance(attr, dict):
        return [Finding("ngsild.attribute", Severity.ERROR, pointer, f"attribute {name} is not an object")]
    kind = attr.get("type")
    member = ATTRIBUTE_VALUE_MEMBER.get(kind) if isinstance(kind, str) else None
    if member is None:
        return [
            Finding(
                "ngsild.attribute-type",
                Severity.ERROR,
                f"{pointer}/type",
                f"attribute {name} has unknown type {kind!r}",
            )
        ]
    if member not in attr:
        return [Finding("ngsild.attribute-value", Severity.ERROR, pointer, f"{kind} {name} has no '{member}'")]
    if kind == "GeoProperty":
        return check_point(attr["value"], f"{pointer}/value", bbox)
    return []


def check_point(geometry: Any, pointer: str, bbox: tuple[float, float, float, float] | None) -> list[Finding]:
    """A GeoJSON Point: coordinate ranges, and lon/lat order against the expected bounding box."""
    if not isinstance(geometry, dict) or geometry.get("type") != "Point":
        return []  # other geometries are checked by the full validator
    coords = geometry.get("coordinates")
    if not (isinstance(coords, list) and len(coords) >= 2 and all(isinstance(c, int | float) for c in coords[:2])):
        return [Finding("geojson.coordinates", Severity.ERROR, f"{pointer}/coordinates", "not [lon, lat] numbers")]
    lon, lat = coords[0], coords[1]
    if not (-180 <= lon <= 180 and -90 <= lat <= 90):
        return [
            Finding(
                "geojson.range",
                Severity.ERROR,
                f"{pointer}/coordinates",
                f"[{lon}, {lat}] is outside longitude -180..180 / latitude -90..90",
            )
        ]
    if bbox is None or (bbox[0] <= lon <= bbox[2] and bbox[1] <= lat <= bbox[3]):
        return []
    if bbox[0] <= lat <= bbox[2] and bbox[1] <= lon <= bbox[3]:
        return [
            Finding(
                "geojson.lonlat-order",
                Severity.ERROR,
                f"{pointer}/coordinates",
                f"[{lon}, {lat}] looks like [lat, lon]: GeoJSON order is longitude, latitude",
            )
        ]
    return [
        Finding(
            "geojson.outside-area",
            Severity.WARNING,
            f"{pointer}/coordinates",
            f"[{lon}, {lat}] is outside the city's bounding box",
        )
    ]
