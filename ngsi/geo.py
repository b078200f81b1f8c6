"""Geo-queries (GS CIM 009 clause 4.10): parsing ``georel``/``geometry``/``coordinates``, and the exact tests.

Everything here is pure. :func:`parse_geo_query` turns the query parameters (or a ``geoQ`` member) into a
:class:`GeoQuery` or raises a 400 naming the problem; :func:`search_box` gives the bounding box the spatial index
looks in; :func:`refine` is the exact test run on the index's candidates.

Semantics: coordinates are WGS84 longitude, latitude (GeoJSON order). The topological relations (``equals``,
``disjoint``, ``intersects``, ``within``, ``contains``, ``overlaps``) are the OGC Simple Features (DE-9IM) predicates
on the planar lon/lat geometries, the entity's geometry first (``within``: the entity lies within the query
geometry). ``near`` takes any query geometry and measures to its nearest part (0 inside a polygon or on a line):
geodesic metres on a sphere, haversine from a query Point to a Point; otherwise the planar distance in a local
equirectangular projection centred on the query point, or for another query geometry on its point nearest to the
entity (metre-accurate at city scale). An entity matches when any instance of its GeoProperty does.
"""

from __future__ import annotations

import math
from collections.abc import Sequence
from dataclasses import dataclass
from enum import StrEnum
from typing import Any

import numpy as np
import orjson
import shapely
import shapely.ops
from shapely.geometry import shape
from shapely.geometry.base import BaseGeometry

from hub.errors import BadRequestData, InvalidRequest

EARTH_RADIUS = 6_371_008.8  # mean Earth radius in metres (IUGG), the sphere haversine distances are measured on
MAX_POSITIONS = 10_000  # positions in one query geometry: bounds the parse and the exact tests
NAME_MAX = 256
GEOMETRIES = ("Point", "MultiPoint", "LineString", "MultiLineString", "Polygon", "MultiPolygon")
_DEPTH = {"Point": 0, "MultiPoint": 1, "LineString": 1, "MultiLineString": 2, "Polygon": 2, "MultiPolygon": 3}
Box = tuple[float, float, float, float]  # min lon, min lat, max lon, max lat
WHOLE_WORLD: Box = (-180.0, -90.0, 180.0, 90.0)


class Georel(StrEnum):
    NEAR = "near"
    EQUALS = "equals"
    DISJOINT = "disjoint"
    INTERSECTS = "intersects"
    WITHIN = "within"
    CONTAINS = "contains"
    OVERLAPS = "overlaps"


@dataclass(frozen=True, slots=True)
class GeoQuery:
    """A parsed geo-query. ``max_distance``/``min_distance`` (metres) are set for ``near`` only, one of them."""

    georel: Georel
    geometry: str
    coordinates: Any
    geoproperty: str = "location"
    max_distance: float | None = None
    min_distance: float | None = None

    @property
    def complement(self) -> bool:
        """True when matching entities lie *outside* the search box (disjoint, near;minDistance)."""
        return self.georel is Georel.DISJOINT or self.min_distance is not None

    def shape(self) -> BaseGeometry:
        """The query geometry the relations are evaluated on (:func:`repair`-ed)."""
        return repair(shape({"type": self.geometry, "coordinates": self.coordinates}))


def parse_geo_query(
    georel: str | None, geometry: str | None, coordinates: str | Any | None, geoproperty: str | None = None
) -> GeoQuery | None:
    """The geo-query of these parameters, None when none is given, or a 400 naming what is wrong.

    ``coordinates`` is the JSON text of the query string or, from a ``geoQ`` body, the array itself (or its text).
    """
    if georel is None and geometry is None and coordinates is None:
        if geoproperty is not None:
            raise BadRequestData("geoproperty is given without a geo-query (georel, geometry and coordinates)")
        return None
    if not georel or not geometry or coordinates is None or coordinates == "":
        given = {"georel": georel, "geometry": geometry, "coordinates": coordinates}
        missing = ", ".join(name for name, value in given.items() if value is None or value == "")
        raise BadRequestData(f"a geo-query needs georel, geometry and coordinates: {missing} missing")
    if geometry not in GEOMETRIES:
        raise BadRequestData(f"geometry {geometry!r} is not one of {', '.join(GEOMETRIES)}")
    rel, max_distance, min_distance = _georel(georel)
    coords = _coordinates(coordinates)
    check_coordinates(geometry, coords)
    query = GeoQuery(rel, geometry, coords, _geoproperty(geoproperty), max_distance, min_distance)
    _check_valid(query)
    return query


def parse_geo_q(member: Any) -> GeoQuery:
    """The ``geoQ`` member of a Query body (``POST /entityOperations/query``): the same parameters as an object."""
    if not isinstance(member, dict):
        raise BadRequestData("geoQ must be an object with georel, geometry, coordinates and optionally geoproperty")
    unknown = sorted(set(member) - {"georel", "geometry", "coordinates", "geoproperty"})
    if unknown:
        raise BadRequestData(f"geoQ: unknown member(s) {', '.join(unknown)}")
    texts = {k: member.get(k) for k in ("georel", "geometry", "geoproperty")}
    wrong = [name for name, value in texts.items() if value is not None and not isinstance(value, str)]
    if wrong:
        raise BadRequestData(f"geoQ: {', '.join(wrong)} must be a string")
    query = parse_geo_query(texts["georel"], texts["geometry"], member.get("coordinates"), texts["geoproperty"])
    if query is None:
        raise BadRequestData("geoQ: a geo-query needs georel, geometry and coordinates")
    return query


def _georel(text: str) -> tuple[Georel, float | None, float | None]:
    head, _, rest = text.partition(";")
    try:
        rel = Georel(head.strip())
    except ValueError:
        known = ", ".join(r.value for r in Georel)
        raise BadRequestData(f"georel {text!r}: unknown relation {head!r} (one of {known})") from None
    if rel is not Georel.NEAR:
        if rest:
            raise BadRequestData(f"georel {text!r}: only near takes a modifier")
        return rel, None, None
    name, sep, number = rest.partition("==")
    if not sep or name.strip() not in ("maxDistance", "minDistance"):
        raise BadRequestData(f"georel {text!r}: near needs ;maxDistance==<metres> or ;minDistance==<metres>")
    try:
        distance = float(number)
    except ValueError:
        raise BadRequestData(f"georel {text!r}: distance {number!r} is not a number") from None
    if not math.isfinite(distance) or distance <= 0:
        # 4.10: the distance is a PositiveNumber, "excluding the number 0" (and so a minus sign)
        raise BadRequestData(f"georel {text!r}: the distance must be a finite positive number of metres (not {number})")
    return (rel, distance, None) if name.strip() == "maxDistance" else (rel, None, distance)


def _coordinates(value: str | Any) -> Any:
    if not isinstance(value, str):
        return value
    try:
        return orjson.loads(value)
    except orjson.JSONDecodeError as exc:
        raise InvalidRequest(f"coordinates {value[:80]!r} is not a JSON array: {exc}") from None


def _geoproperty(name: str | None) -> str:
    if name is None:
        return "location"
    if not name or len(name) > NAME_MAX or any(c in name for c in "\"'()<>;=,"):
        raise BadRequestData(f"geoproperty {name[:80]!r} is not an attribute name")
    return name


def check_coordinates(geometry: str, coords: Any, where: str = "coordinates") -> None:
    """BadRequestData unless ``coords`` is a well-formed ``geometry`` in range, with at most MAX_POSITIONS."""
    count = [0]
    _check(geometry, _DEPTH[geometry], coords, where, count)
    if geometry == "MultiPolygon":
        for i, polygon in enumerate(coords):
            _rings(polygon, f"{where}[{i}]")
    elif geometry == "Polygon":
        _rings(coords, where)
    elif geometry == "LineString" and len(coords) < 2:
        raise BadRequestData(f"{where}: a LineString needs at least 2 positions")
    elif geometry == "MultiLineString":
        short = next((i for i, line in enumerate(coords) if len(line) < 2), None)
        if short is not None:
            raise BadRequestData(f"{where}[{short}]: a LineString needs at least 2 positions")


def _check(geometry: str, depth: int, value: Any, where: str, count: list[int]) -> None:
    if depth == 0:
        _position(value, where)
        count[0] += 1
        if count[0] > MAX_POSITIONS:
            raise BadRequestData(f"coordinates: more than {MAX_POSITIONS} positions")
        return
    if not isinstance(value, list) or not value:
        raise BadRequestData(f"{where}: a {geometry} needs a non-empty array here")
    for i, item in enumerate(value):
        _check(geometry, depth - 1, item, f"{where}[{i}]", count)


def _position(value: Any, where: str) -> None:
    if not isinstance(value, list) or len(value) not in (2, 3):
        raise BadRequestData(f"{where}: a position is an array [longitude, latitude] (optionally altitude)")
    if not all(isinstance(v, int | float) and not isinstance(v, bool) and math.isfinite(v) for v in value):
        raise BadRequestData(f"{where}: position {value} holds something other than finite numbers")
    lon, lat = value[0], value[1]
    if not -180 <= lon <= 180:
        raise BadRequestData(f"{where}: longitude {lon} is out of range (-180..180)")
    if not -90 <= lat <= 90:
        raise BadRequestData(f"{where}: latitude {lat} is out of range (-90..90)")


def _rings(polygon: list[Any], where: str) -> None:
    for i, ring in enumerate(polygon):
        if len(ring) < 4:
            raise BadRequestData(f"{where}[{i}]: a polygon ring needs at least 4 positions, got {len(ring)}")
        if ring[0][:2] != ring[-1][:2]:
            raise BadRequestData(f"{where}[{i}]: the polygon ring is not closed (first {ring[0]}, last {ring[-1]})")


def _check_valid(query: GeoQuery) -> None:
    """A query polygon is taken as the area its rings describe (a bow tie is its two lobes); none at all is a 400."""
    if query.geometry in ("Polygon", "MultiPolygon") and query.shape().area == 0:
        raw = shape({"type": query.geometry, "coordinates": query.coordinates})
        raise BadRequestData(f"coordinates: the {query.geometry} encloses no area ({shapely.is_valid_reason(raw)})")


def repair(geometry: BaseGeometry) -> BaseGeometry:
    """``geometry`` when it is a valid Simple Feature, else the valid shape its rings describe.

    GEOS's "structure" method keeps the roles of the rings: a shell adds its area (a bow tie is its two lobes), a
    hole removes area only from its own shell, and a "hole" wholly outside it is taken for what it almost always is,
    a part filed as a hole (as shapefile conversions do); the parts of a MultiPolygon add up (their union). The
    default "linework" method would instead drop the area where two parts overlap. A polygon that collapses to a
    line keeps it (``keep_collapsed``), so it can still be intersected. The repaired shape lies within the
    coordinates' box, so the index box of the coordinates as sent stays a superset."""
    return geometry if geometry.is_valid else _rebuild(geometry)


def _repair_all(geometries: Any) -> Any:
    """:func:`repair` on an array of geometries (missing ones, from unreadable GeoJSON, stay None)."""
    invalid = ~shapely.is_valid(geometries) & ~shapely.is_missing(geometries)
    if invalid.any():
        geometries[invalid] = _rebuild(geometries[invalid])
    return geometries


def _rebuild(geometries: Any) -> Any:
    return shapely.make_valid(geometries, method="structure", keep_collapsed=True)


def geometry_of(value: Any) -> tuple[str, Any] | None:
    """(type, coordinates) of a stored GeoJSON value when it is a well-formed geometry, else None (not indexed)."""
    if not isinstance(value, dict) or value.get("type") not in _DEPTH:
        return None
    try:
        check_coordinates(value["type"], value.get("coordinates"))
    except BadRequestData:
        return None
    return value["type"], value["coordinates"]


def bounds(geometry: str, coords: Any) -> Box:
    """The bounding box of well-formed coordinates."""
    flat = np.asarray(_positions(geometry, coords), dtype=float)
    return float(flat[:, 0].min()), float(flat[:, 1].min()), float(flat[:, 0].max()), float(flat[:, 1].max())


def _positions(geometry: str, coords: Any) -> list[Sequence[float]]:
    items: list[Any] = [coords]
    for _ in range(_DEPTH[geometry]):
        items = [inner for outer in items for inner in outer]
    return [p[:2] for p in items]


def search_box(query: GeoQuery) -> Box:
    """The box that holds every geometry that can match (or, for a complement relation, that can fail).

    For ``near`` it is the box around the spherical cap of the distance: latitudes ± the angular radius, longitudes
    ± asin(sin δ / cos φ) — the widest point of the cap, which is not on the query's parallel. A cap that reaches a
    pole or the antimeridian takes every longitude."""
    box = bounds(query.geometry, query.coordinates)
    if query.georel is not Georel.NEAR:
        return box
    distance = query.max_distance if query.max_distance is not None else query.min_distance
    delta = (distance or 0.0) / EARTH_RADIUS
    margin = 1e-9  # degrees: keeps points at exactly the distance inside despite rounding
    dlat = math.degrees(delta) + margin
    low, high = box[1] - dlat, box[3] + dlat
    if delta >= math.pi / 2 or low <= -90 or high >= 90:
        return (-180.0, max(low, -90.0), 180.0, min(high, 90.0))
    # The widest cap is around the query geometry's position nearest a pole.
    widest = max(abs(box[1]), abs(box[3]))
    dlon = math.degrees(math.asin(min(1.0, math.sin(delta) / math.cos(math.radians(widest))))) + margin
    if box[0] - dlon < -180 or box[2] + dlon > 180:
        return (-180.0, low, 180.0, high)
    return (box[0] - dlon, low, box[2] + dlon, high)


def haversine(lon1: Any, lat1: Any, lon2: float, lat2: float) -> Any:
    """Great-circle distance in metres (scalars or numpy arrays for the first point)."""
    p1, p2 = np.radians(lat1), math.radians(lat2)
    dp, dl = p2 - p1, math.radians(lon2) - np.radians(lon1)
    a = np.sin(dp / 2) ** 2 + np.cos(p1) * math.cos(p2) * np.sin(dl / 2) ** 2
    return 2 * EARTH_RADIUS * np.arcsin(np.sqrt(np.clip(a, 0.0, 1.0)))


def _local(geometry: BaseGeometry, lon0: float, lat0: float) -> BaseGeometry:
    """``geometry`` in metres, in the equirectangular projection centred on (lon0, lat0)."""
    scale = math.pi / 180 * EARTH_RADIUS
    kx = math.cos(math.radians(lat0)) * scale
    return shapely.transform(geometry, lambda xy: (xy - [lon0, lat0]) * [kx, scale])


def _distance(query: GeoQuery, geometry: BaseGeometry) -> float:
    """Metres from the query point to a non-point geometry (0 when it covers the point)."""
    lon0, lat0 = float(query.coordinates[0]), float(query.coordinates[1])
    if geometry.covers(shapely.Point(lon0, lat0)):
        return 0.0
    return float(_local(geometry, lon0, lat0).distance(shapely.Point(0.0, 0.0)))


def _distance_to(target: BaseGeometry, geometry: BaseGeometry) -> float:
    """Metres from a query geometry to an entity's (0 when they meet): the pair of nearest points is found in a
    projection centred on the target's centroid, and measured in one centred on the target's point of that pair,
    so the scale of longitudes is the one where the two are closest."""
    if geometry.intersects(target):
        return 0.0
    centre = target.centroid
    near, _other = shapely.ops.nearest_points(_local(target, centre.x, centre.y), _local(geometry, centre.x, centre.y))
    scale = math.pi / 180 * EARTH_RADIUS
    lat0 = centre.y + near.y / scale
    lon0 = centre.x + near.x / (math.cos(math.radians(centre.y)) * scale)
    return float(_local(target, lon0, lat0).distance(_local(geometry, lon0, lat0)))


_PREDICATES = {
    Georel.EQUALS: shapely.equals,
    Georel.DISJOINT: shapely.disjoint,
    Georel.INTERSECTS: shapely.intersects,
    Georel.WITHIN: shapely.within,
    Georel.CONTAINS: shapely.contains,
    Georel.OVERLAPS: shapely.overlaps,
}


def refine(query: GeoQuery, lons: Sequence[float], lats: Sequence[float], shapes: Sequence[str | None]) -> list[bool]:
    """The exact test on candidates: points are (lon, lat) with shape None, other geometries their GeoJSON text."""
    if not shapes:
        return []
    lon_a, lat_a = np.asarray(lons, dtype=float), np.asarray(lats, dtype=float)
    is_point = np.array([s is None for s in shapes])
    if query.georel is Georel.NEAR:
        return _near(query, lon_a, lat_a, shapes, is_point)
    geometries: Any = shapely.points(lon_a, lat_a)
    others = ~is_point
    if others.any():
        read = shapely.from_geojson([s for s in shapes if s is not None], on_invalid="ignore")
        geometries[others] = _repair_all(read)
    result: Any = _PREDICATES[query.georel](geometries, query.shape())
    return [bool(v) for v in result]


def _near(query: GeoQuery, lons: Any, lats: Any, shapes: Sequence[str | None], is_point: Any) -> list[bool]:
    if query.geometry == "Point":
        lon0, lat0 = float(query.coordinates[0]), float(query.coordinates[1])
        distances = haversine(lons, lats, lon0, lat0)
        for i in (int(k) for k in np.flatnonzero(~is_point)):
            geometry = shapely.from_geojson(shapes[i], on_invalid="ignore")
            distances[i] = math.inf if geometry is None else _distance(query, repair(geometry))
    else:
        target = query.shape()
        distances = np.full(len(shapes), math.inf)
        for i, text in enumerate(shapes):
            read = shapely.Point(lons[i], lats[i]) if text is None else shapely.from_geojson(text, on_invalid="ignore")
            distances[i] = math.inf if read is None else _distance_to(target, repair(read))
    if query.max_distance is not None:
        return [bool(v) for v in distances <= query.max_distance]
    return [bool(v) for v in distances >= (query.min_distance or 0.0)]
