"""Structural checks of NGSI-LD entities (ETSI GS CIM 009), written by hand.

``id`` an absolute URI; ``type`` present; every attribute one of the eight attribute types with its value member;
Relationship objects URIs; GeoProperty values valid GeoJSON (coordinate ranges, closed polygon rings, lon/lat order
against the source's bounding box); language maps keyed by language tags; sub-attributes checked like attributes;
``observedAt``/``createdAt``/``modifiedAt``/``deletedAt`` RFC 3339 with a time zone; ``datasetId`` URIs, unique per
attribute; ``@context`` URIs or objects. Normalized, concise and keyValues input are accepted (``form``).

Each check returns findings with a JSON pointer into the entity; none raises. A naive timestamp is a warning that
carries the normalised value (read in ``assume_tz``), not a rejection.
"""

from __future__ import annotations

import functools
import re
from dataclasses import dataclass
from datetime import UTC, datetime, tzinfo
from enum import StrEnum
from typing import Any, TypeGuard
from urllib.parse import urlsplit

import shapely
import shapely.geometry

from schemas.findings import Finding, Severity

BBox = tuple[float, float, float, float]  # min_lon, min_lat, max_lon, max_lat

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
CORE_MEMBERS = {"id", "type", "@context", "scope", "createdAt", "modifiedAt", "deletedAt", "expiresAt"}
TEMPORAL_MEMBERS = ("observedAt", "createdAt", "modifiedAt", "deletedAt", "expiresAt")
# Members of an attribute that are not sub-attributes.
ATTRIBUTE_META = frozenset(
    {
        *ATTRIBUTE_VALUE_MEMBER.values(),
        *TEMPORAL_MEMBERS,
        *("type", "datasetId", "instanceId", "unitCode", "lang", "objectType", "@context"),
        *("previousValue", "previousObject", "previousLanguageMap", "previousVocab", "previousJson"),
        *("previousValueList", "previousObjectList"),
    }
)
GEOMETRY_DEPTH = {"Point": 0, "MultiPoint": 1, "LineString": 1, "MultiLineString": 2, "Polygon": 2, "MultiPolygon": 3}
_RFC3339 = re.compile(r"^\d{4}-\d{2}-\d{2}[Tt]\d{2}:\d{2}:\d{2}(\.\d+)?([Zz]|[+-]\d{2}:\d{2})$")
_LANGUAGE_TAG = re.compile(r"^(@none|[A-Za-z]{1,8}(-[A-Za-z0-9]{1,8})*)$")
_FORBIDDEN_NAME = re.compile(r"[\s<>\"'=;()\x00-\x1f\x7f-\x9f]")
# RFC 3986 leaves these out of a URI (and an IRI, RFC 3987, adds no control or space character): an id holding one
# cannot be named in a request path or a Location header as it is.
_NOT_IN_URI = re.compile(r"[\s\x00-\x1f\x7f-\x9f<>\"{}|\\^`]")
# A type name is whatever GET /entities?type= can name: no operator of a type expression, no space or control.
_TYPE_NAME = re.compile(r"[^,;|()\s\x00-\x1f\x7f-\x9f]+")


class Form(StrEnum):
    """The three NGSI-LD representations of an entity."""

    NORMALIZED = "normalized"
    CONCISE = "concise"
    KEY_VALUES = "keyValues"


def is_absolute_uri(value: object) -> bool:
    """A string with a scheme and none of the characters a URI cannot hold (spaces, controls, ``<>"{}|\\^```)."""
    return isinstance(value, str) and bool(urlsplit(value).scheme) and ":" in value and not _NOT_IN_URI.search(value)


def uri_problem(value: str) -> str:
    """Why ``value`` is not an absolute URI, naming the first offending character and its position."""
    bad = _NOT_IN_URI.search(value)
    if bad:
        return f"character U+{ord(bad.group()):04X} at position {bad.start()} is not allowed in a URI"
    return "it has no scheme (an absolute URI such as urn:ngsi-ld:Type:1)"


def is_rfc3339(value: object) -> bool:
    """An RFC 3339 date-time with a time zone (``Z`` or an offset) that names a real instant."""
    if not isinstance(value, str) or not _RFC3339.match(value):
        return False
    try:
        datetime.fromisoformat(value.upper().replace("Z", "+00:00"))
    except ValueError:
        return False
    return True


def normalize_datetime(value: object, assume_tz: tzinfo = UTC) -> str | None:
    """The RFC 3339 form of an ISO 8601 date-time that is not one (a naive one is read in ``assume_tz``).

    None when ``value`` is already RFC 3339, or is not a date-time at all (a bare date is not one).
    """
    if not isinstance(value, str) or len(value) < 16 or is_rfc3339(value):
        return None
    try:
        parsed = datetime.fromisoformat(value)
    except ValueError:
        return None
    if parsed.tzinfo is None:
        parsed = parsed.replace(tzinfo=assume_tz)
    text = parsed.isoformat()
    return text[:-6] + "Z" if text.endswith("+00:00") else text


def detect_form(entity: dict[str, Any]) -> Form:
    """Normalized when every attribute carries an attribute ``type``; concise when some are bare or typeless."""
    attrs = [v for k, v in entity.items() if k not in CORE_MEMBERS]
    typed = [a for a in attrs if _attribute_type(a) is not None]
    if attrs and len(typed) == len(attrs):
        return Form.NORMALIZED
    if typed or any(isinstance(a, dict) and value_member(a) for a in attrs):
        return Form.CONCISE
    return Form.KEY_VALUES


def _attribute_type(attr: Any) -> str | None:
    first = attr[0] if isinstance(attr, list) and attr else attr
    kind = first.get("type") if isinstance(first, dict) else None
    return kind if isinstance(kind, str) and kind in ATTRIBUTE_VALUE_MEMBER else None


def value_member(attr: dict[str, Any]) -> str | None:
    """The member holding an attribute's value: the one its ``type`` names, else the first one present (concise)."""
    kind = attr.get("type")
    if isinstance(kind, str) and kind in ATTRIBUTE_VALUE_MEMBER:
        return ATTRIBUTE_VALUE_MEMBER[kind]
    return next((m for m in ATTRIBUTE_VALUE_MEMBER.values() if m in attr), None)


@dataclass(frozen=True, slots=True)
class _Context:
    bbox: BBox | None
    form: Form
    assume_tz: tzinfo


def check_entity(
    entity: dict[str, Any],
    bbox: BBox | None = None,
    *,
    form: Form = Form.NORMALIZED,
    assume_tz: tzinfo = UTC,
) -> list[Finding]:
    """Findings for one entity; ``bbox`` (min_lon, min_lat, max_lon, max_lat) adds a location check."""
    ctx = _Context(bbox, form, assume_tz)
    findings: list[Finding] = []
    if not is_absolute_uri(entity.get("id")):
        found = entity.get("id")
        why = f": {uri_problem(found)}" if isinstance(found, str) else ""
        findings.append(Finding("ngsild.id", Severity.ERROR, "/id", f"id must be an absolute URI{why}"))
    findings.extend(_check_type(entity.get("type")))
    if "@context" in entity:
        findings.extend(_check_context(entity["@context"]))
    findings.extend(_check_temporal(entity, "", ctx))
    plain_ok = form is Form.NORMALIZED
    for name, attr in entity.items():
        if name in CORE_MEMBERS or (plain_ok and _is_plain_property(attr) and _valid_name(name)):
            continue  # the common case, checked without building pointers or finding lists
        findings.extend(_check_name(name, f"/{pointer_token(name)}"))
        findings.extend(_check_attribute(name, attr, f"/{pointer_token(name)}", ctx))
    return findings


_PLAIN_MEMBERS = frozenset({"type", "value", "observedAt", "unitCode"})


def _is_plain_property(attr: Any) -> bool:
    """A normalized Property with a scalar value and only valid observedAt/unitCode: nothing to report."""
    if type(attr) is not dict or attr.get("type") != "Property" or not attr.keys() <= _PLAIN_MEMBERS:
        return False
    value = attr.get("value")
    if value is None or isinstance(value, dict | list):
        return False
    if "observedAt" in attr and not is_rfc3339(attr["observedAt"]):
        return False
    unit = attr.get("unitCode")
    return unit is None or (isinstance(unit, str) and bool(unit))


@functools.lru_cache(maxsize=4096)
def _valid_name(name: str) -> bool:
    return bool(name) and not _FORBIDDEN_NAME.search(name)


def pointer_token(token: str) -> str:
    """One JSON pointer reference token (RFC 6901 escapes)."""
    if "~" not in token and "/" not in token:
        return token
    return token.replace("~", "~0").replace("/", "~1")


def _check_type(kind: Any) -> list[Finding]:
    types = kind if isinstance(kind, list) else [kind]
    if not types or not all(isinstance(t, str) and t.strip() for t in types):
        return [Finding("ngsild.type", Severity.ERROR, "/type", "type is missing")]
    for i, name in enumerate(types):
        if not _TYPE_NAME.fullmatch(name) or name == "*":
            pointer = f"/type/{i}" if isinstance(kind, list) else "/type"
            message = f"{name!r} is not a type name (no space, control character, ',', ';', '|', '(' or ')'; not '*')"
            return [Finding("ngsild.type", Severity.ERROR, pointer, message)]
    return []


def _check_context(context: Any) -> list[Finding]:
    items = context if isinstance(context, list) else [context]
    for i, item in enumerate(items):
        if not (isinstance(item, dict) or is_absolute_uri(item)):
            pointer = f"/@context/{i}" if isinstance(context, list) else "/@context"
            return [Finding("ngsild.context", Severity.ERROR, pointer, "@context must hold URIs or objects")]
    return []


def _check_name(name: str, pointer: str) -> list[Finding]:
    if name and not _FORBIDDEN_NAME.search(name):
        return []
    return [Finding("ngsild.attribute-name", Severity.ERROR, pointer, f"{name!r} is not a valid attribute name")]


def _check_temporal(attr: dict[str, Any], pointer: str, ctx: _Context) -> list[Finding]:
    findings: list[Finding] = []
    for member in TEMPORAL_MEMBERS:
        if member not in attr or is_rfc3339(attr[member]):
            continue
        where = f"{pointer}/{member}"
        fixed = normalize_datetime(attr[member], ctx.assume_tz)
        if fixed is None:
            message = f"{member} {attr[member]!r} is not an RFC 3339 date-time"
            findings.append(Finding("ngsild.datetime", Severity.ERROR, where, message))
        else:
            message = f"{member} {attr[member]!r} is not RFC 3339 with a time zone; read as {fixed}"
            findings.append(Finding("ngsild.naive-datetime", Severity.WARNING, where, message, fixed))
    return findings


def _check_attribute(name: str, attr: Any, pointer: str, ctx: _Context) -> list[Finding]:
    if isinstance(attr, list) and attr and all(isinstance(a, dict) and is_attribute_object(a) for a in attr):
        return _check_instances(name, attr, pointer, ctx)
    if ctx.form is Form.KEY_VALUES or (ctx.form is Form.CONCISE and not is_attribute_object(attr)):
        return check_geometry(attr, pointer, ctx.bbox) if _is_geometry(attr) else []
    if not isinstance(attr, dict):
        return [Finding("ngsild.attribute", Severity.ERROR, pointer, f"attribute {name} is not an object")]
    kind = attr.get("type")
    if kind is None and ctx.form is Form.CONCISE:
        kind = _concise_kind(attr)
    member = ATTRIBUTE_VALUE_MEMBER.get(kind) if isinstance(kind, str) else None
    if member is None:
        message = f"attribute {name} has unknown type {kind!r}"
        return [Finding("ngsild.attribute-type", Severity.ERROR, f"{pointer}/type", message)]
    if member not in attr:
        return [Finding("ngsild.attribute-value", Severity.ERROR, pointer, f"{kind} {name} has no '{member}'")]
    findings = _check_foreign_members(str(kind), member, attr, pointer)
    findings.extend(_check_value(str(kind), attr[member], f"{pointer}/{member}", ctx))
    findings.extend(_check_meta(attr, pointer, ctx))
    for sub, value in attr.items():
        if sub not in ATTRIBUTE_META:
            findings.extend(_check_attribute(sub, value, f"{pointer}/{pointer_token(sub)}", ctx))
    return findings


# Whose member each value member is, for the message that names a foreign one.
_MEMBER_OWNER = {"value": "a Property's or GeoProperty's"} | {
    m: f"a {kind}'s" for kind, m in ATTRIBUTE_VALUE_MEMBER.items() if m != "value"
}


def _check_foreign_members(kind: str, member: str, attr: dict[str, Any], pointer: str) -> list[Finding]:
    """An attribute carries only its own type's value member: a foreign one would be stored and never read (q,
    geo-queries and the representations read the member the type names), so the value sent would be lost."""
    return [
        Finding(
            "ngsild.foreign-member",
            Severity.ERROR,
            f"{pointer}/{other}",
            f"a {kind} has no '{other}' ({owner} member)",
        )
        for other, owner in _MEMBER_OWNER.items()
        if other != member and other in attr
    ]


def is_attribute_object(attr: Any) -> bool:
    """An attribute object (typed, or concise with a value member) rather than a bare value."""
    return isinstance(attr, dict) and (_attribute_type(attr) is not None or value_member(attr) is not None)


def _is_geometry(value: Any) -> bool:
    kind = value.get("type") if isinstance(value, dict) else None
    return isinstance(kind, str) and (kind in GEOMETRY_DEPTH or kind == "GeometryCollection")


def _concise_kind(attr: dict[str, Any]) -> str | None:
    member = value_member(attr)
    if member == "value":
        return "GeoProperty" if _is_geometry(attr["value"]) else "Property"
    return next((k for k, m in ATTRIBUTE_VALUE_MEMBER.items() if m == member), None)


def _check_instances(name: str, instances: list[Any], pointer: str, ctx: _Context) -> list[Finding]:
    """A multi-attribute: every instance checked; datasetIds unique, at most one default instance."""
    findings: list[Finding] = []
    seen: set[Any] = set()
    for i, instance in enumerate(instances):
        findings.extend(_check_attribute(name, instance, f"{pointer}/{i}", ctx))
        dataset = instance.get("datasetId")
        dataset = dataset if isinstance(dataset, str) or dataset is None else repr(dataset)  # hashable
        if dataset in seen:
            where = f"{pointer}/{i}/datasetId" if dataset is not None else f"{pointer}/{i}"
            message = f"{name} has two instances with datasetId {dataset!r}"
            findings.append(Finding("ngsild.dataset-id-duplicate", Severity.ERROR, where, message))
        seen.add(dataset)
    return findings


def _check_meta(attr: dict[str, Any], pointer: str, ctx: _Context) -> list[Finding]:
    findings = _check_temporal(attr, pointer, ctx)
    if "datasetId" in attr and not is_absolute_uri(attr["datasetId"]):
        where = f"{pointer}/datasetId"
        findings.append(Finding("ngsild.dataset-id", Severity.ERROR, where, "datasetId must be an absolute URI"))
    if "unitCode" in attr and not (isinstance(attr["unitCode"], str) and attr["unitCode"]):
        where = f"{pointer}/unitCode"
        findings.append(Finding("ngsild.unit-code", Severity.ERROR, where, "unitCode must be a non-empty string"))
    return findings


def _check_value(kind: str, value: Any, pointer: str, ctx: _Context) -> list[Finding]:
    if kind == "GeoProperty":
        return check_geometry(value, pointer, ctx.bbox)
    if kind == "Relationship":
        objects = value if isinstance(value, list) else [value]
        if objects and all(is_absolute_uri(o) for o in objects):
            return []
        return [Finding("ngsild.relationship-object", Severity.ERROR, pointer, "object must be a URI or URIs")]
    if kind == "ListRelationship":
        return _check_object_list(value, pointer)
    if kind == "LanguageProperty":
        return _check_language_map(value, pointer)
    if kind == "VocabProperty":
        terms = value if isinstance(value, list) else [value]
        if terms and all(isinstance(t, str) and t for t in terms):
            return []
        return [Finding("ngsild.vocab", Severity.ERROR, pointer, "vocab must be a term or a list of terms")]
    if kind == "ListProperty" and not isinstance(value, list):
        return [Finding("ngsild.list", Severity.ERROR, pointer, "valueList must be an array")]
    if value is None:
        return [Finding("ngsild.null-value", Severity.ERROR, pointer, f"{kind} value must not be null")]
    return []


def _check_object_list(value: Any, pointer: str) -> list[Finding]:
    if not isinstance(value, list):
        return [Finding("ngsild.list", Severity.ERROR, pointer, "objectList must be an array")]
    for i, item in enumerate(value):
        target = item.get("object") if isinstance(item, dict) else item
        if not is_absolute_uri(target):
            message = "objectList items must be {object: URI}"
            return [Finding("ngsild.relationship-object", Severity.ERROR, f"{pointer}/{i}", message)]
    return []


def _check_language_map(value: Any, pointer: str) -> list[Finding]:
    if not isinstance(value, dict) or not value:
        return [Finding("ngsild.language-map", Severity.ERROR, pointer, "languageMap must be a non-empty object")]
    for tag, text in value.items():
        texts = text if isinstance(text, list) else [text]
        if not _LANGUAGE_TAG.match(tag) or not all(isinstance(t, str) for t in texts):
            message = f"languageMap entry {tag!r} needs a language tag and string values"
            return [Finding("ngsild.language-map", Severity.ERROR, f"{pointer}/{pointer_token(tag)}", message)]
    return []


def check_geometry(geometry: Any, pointer: str, bbox: BBox | None) -> list[Finding]:
    """A GeoJSON geometry (RFC 7946): shape, coordinate ranges, closed rings, lon/lat order against ``bbox``."""
    if not _is_geometry(geometry):
        return [Finding("geojson.type", Severity.ERROR, pointer, "not a GeoJSON geometry")]
    if geometry["type"] == "GeometryCollection":
        parts = geometry.get("geometries")
        if not isinstance(parts, list):
            return [Finding("geojson.coordinates", Severity.ERROR, f"{pointer}/geometries", "geometries missing")]
        return [f for i, part in enumerate(parts) for f in check_geometry(part, f"{pointer}/geometries/{i}", bbox)]
    where = f"{pointer}/coordinates"
    positions = _positions(geometry.get("coordinates"), GEOMETRY_DEPTH[geometry["type"]], where)
    if positions is None:
        return [Finding("geojson.coordinates", Severity.ERROR, where, f"not valid {geometry['type']} coordinates")]
    findings = _check_rings(geometry, where)
    findings.extend(_check_positions(positions, bbox))
    if not findings and geometry["type"] in ("Polygon", "MultiPolygon"):
        findings.extend(_check_simple(geometry, where))
    return findings


def _check_simple(geometry: dict[str, Any], pointer: str) -> list[Finding]:
    """A warning for each polygon that is not a valid Simple Feature (OGC SFA): a ring crossing itself, a hole
    outside its shell. RFC 7946 does not make that an error and conformance data uses such shapes: the entity is
    stored as sent and geo-queries evaluate the area its rings describe (``ngsi.geo.repair``). The parts of a
    MultiPolygon are checked one by one (parts that touch or overlap are common in published data; a query takes
    their union)."""
    coords = geometry["coordinates"]
    parts = (
        [(pointer, coords)] if geometry["type"] == "Polygon" else [(f"{pointer}/{i}", c) for i, c in enumerate(coords)]
    )
    findings = []
    for where, rings in parts:
        polygon = shapely.geometry.Polygon(rings[0], rings[1:])
        if not polygon.is_valid:
            message = (
                f"the Polygon is not a valid Simple Feature ({shapely.is_valid_reason(polygon)}): stored as sent, "
                "geo-queries use the area its rings describe"
            )
            findings.append(Finding("geojson.invalid-polygon", Severity.WARNING, where, message))
    return findings


Position = tuple[str, float, float]


def _positions(coords: Any, depth: int, pointer: str) -> list[Position] | None:
    """Every position as (pointer, lon, lat), or None when the nesting or the numbers are wrong."""
    if depth == 0:
        if isinstance(coords, list) and len(coords) >= 2 and all(is_number(c) for c in coords):
            return [(pointer, coords[0], coords[1])]
        return None
    if not isinstance(coords, list) or not coords:
        return None
    found: list[Position] = []
    for i, part in enumerate(coords):
        inner = _positions(part, depth - 1, f"{pointer}/{i}")
        if inner is None:
            return None
        found.extend(inner)
    return found


def is_number(value: Any) -> TypeGuard[float]:
    """A JSON number (a boolean is not one, though Python says so)."""
    return isinstance(value, int | float) and not isinstance(value, bool)


def _check_rings(geometry: dict[str, Any], pointer: str) -> list[Finding]:
    kind, coords = geometry["type"], geometry["coordinates"]
    if kind in ("LineString", "MultiLineString"):
        lines = [(pointer, coords)] if kind == "LineString" else [(f"{pointer}/{i}", c) for i, c in enumerate(coords)]
        short = [p for p, line in lines if len(line) < 2]
        return [Finding("geojson.coordinates", Severity.ERROR, p, "a line needs two positions") for p in short]
    polygons = {"Polygon": [(pointer, coords)], "MultiPolygon": [(f"{pointer}/{i}", c) for i, c in enumerate(coords)]}
    findings: list[Finding] = []
    for where, rings in polygons.get(kind, []):
        for i, ring in enumerate(rings):
            if len(ring) < 4:
                message = "a linear ring needs at least four positions"
                findings.append(Finding("geojson.ring-too-short", Severity.ERROR, f"{where}/{i}", message))
            elif ring[0][:2] != ring[-1][:2]:
                message = "a linear ring must end where it starts"
                findings.append(Finding("geojson.ring-not-closed", Severity.ERROR, f"{where}/{i}", message))
    return findings


def _check_positions(positions: list[Position], bbox: BBox | None) -> list[Finding]:
    wild = [p for p in positions if not (-180 <= p[1] <= 180 and -90 <= p[2] <= 90)]
    if wild:
        where, lon, lat = wild[0]
        message = f"[{lon}, {lat}] is outside longitude -180..180 / latitude -90..90"
        return [Finding("geojson.range", Severity.ERROR, where, _counted(message, len(wild)))]
    if bbox is None:
        return []
    outside = [p for p in positions if not (bbox[0] <= p[1] <= bbox[2] and bbox[1] <= p[2] <= bbox[3])]
    if not outside:
        return []
    where, lon, lat = outside[0]
    if len(outside) == len(positions) and all(
        bbox[0] <= p[2] <= bbox[2] and bbox[1] <= p[1] <= bbox[3] for p in outside
    ):
        message = f"[{lon}, {lat}] looks like [lat, lon]: GeoJSON order is longitude, latitude"
        return [Finding("geojson.lonlat-order", Severity.ERROR, where, message)]
    message = f"[{lon}, {lat}] is outside the city's bounding box"
    return [Finding("geojson.outside-area", Severity.WARNING, where, _counted(message, len(outside)))]


def _counted(message: str, count: int) -> str:
    return message if count == 1 else f"{message} (and {count - 1} more positions)"


def check_point(geometry: Any, pointer: str, bbox: BBox | None) -> list[Finding]:
    """A GeoJSON Point: coordinate ranges, and lon/lat order against the expected bounding box.

    Anything that is not a Point is left to :func:`check_geometry` (kept for callers that check points only).
    """
    if not isinstance(geometry, dict) or geometry.get("type") != "Point":
        return []
    return check_geometry(geometry, pointer, bbox)
