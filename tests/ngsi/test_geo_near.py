"""ngsi.geo: ``near`` with any query geometry (LineString, Polygon, MultiPoint, MultiLineString, MultiPolygon),
the distance measured to the geometry's nearest part, checked against haversine references; and the search box
that holds every geometry within the distance of the query geometry."""

from __future__ import annotations

import math
from typing import Any

import orjson
import pytest
from hypothesis import given, settings
from hypothesis import strategies as st

from ngsi.geo import EARTH_RADIUS, haversine, parse_geo_query, refine, search_box

LAT = 59.9
LINE = [[10.70, LAT], [10.80, LAT]]  # west to east along a parallel
SQUARE = [[[10.70, 59.90], [10.80, 59.90], [10.80, 59.95], [10.70, 59.95], [10.70, 59.90]]]
NORTH = 1 / (math.pi / 180 * EARTH_RADIUS)  # degrees of latitude in one metre


def _near(geometry: str, coordinates: Any, metres: float, *, minimum: bool = False) -> Any:
    georel = f"near;{'minDistance' if minimum else 'maxDistance'}=={metres}"
    query = parse_geo_query(georel, geometry, orjson.dumps(coordinates).decode())
    assert query is not None
    return query


def _points(query: Any, points: list[tuple[float, float]]) -> list[bool]:
    return refine(query, [p[0] for p in points], [p[1] for p in points], [None] * len(points))


def _shapes(query: Any, geometries: list[dict[str, Any]]) -> list[bool]:
    texts = [orjson.dumps(g).decode() for g in geometries]
    return refine(query, [0.0] * len(texts), [0.0] * len(texts), texts)


def _around(reference: float) -> list[float]:
    """Thresholds 1 % either side of a reference distance: the first must fail, the second pass."""
    return [reference * 0.99, reference * 1.01]


def test_a_point_north_of_a_line_is_measured_to_the_line_not_to_its_ends() -> None:
    point = (10.75, LAT + 200 * NORTH)  # 200 m north of the middle; its ends are about 2.8 km away
    reference = float(haversine(point[0], point[1], 10.75, LAT))
    short, long = _around(reference)
    assert _points(_near("LineString", LINE, short), [point]) == [False]
    assert _points(_near("LineString", LINE, long), [point]) == [True]
    assert _points(_near("LineString", LINE, short, minimum=True), [point]) == [True]
    assert _points(_near("LineString", LINE, long, minimum=True), [point]) == [False]


def test_beyond_the_end_of_a_line_the_end_is_the_nearest_part() -> None:
    point = (10.803, LAT + 0.001)
    reference = float(haversine(point[0], point[1], 10.80, LAT))
    short, long = _around(reference)
    assert _points(_near("LineString", LINE, short), [point]) == [False]
    assert _points(_near("LineString", LINE, long), [point]) == [True]


def test_inside_a_polygon_the_distance_is_zero_and_outside_it_is_to_the_edge() -> None:
    inside, south = (10.75, 59.92), (10.75, 59.90 - 300 * NORTH)
    query = _near("Polygon", SQUARE, 1)
    assert _points(query, [inside, south]) == [True, False]
    assert _points(_near("Polygon", SQUARE, 1, minimum=True), [inside, south]) == [False, True]
    reference = float(haversine(south[0], south[1], 10.75, 59.90))
    short, long = _around(reference)
    assert _points(_near("Polygon", SQUARE, short), [south]) == [False]
    assert _points(_near("Polygon", SQUARE, long), [south]) == [True]


def test_a_multi_geometry_is_measured_to_its_nearest_member() -> None:
    a, b = [10.0, 60.0], [10.2, 60.0]
    point = (10.2, 60.0 + 500 * NORTH)
    reference = float(haversine(point[0], point[1], b[0], b[1]))  # b is far nearer than a
    short, long = _around(reference)
    assert _points(_near("MultiPoint", [a, b], short), [point]) == [False]
    assert _points(_near("MultiPoint", [a, b], long), [point]) == [True]
    lines = [[[10.0, 60.0], [10.0, 60.1]], [[10.2, 60.0], [10.3, 60.0]]]
    assert _points(_near("MultiLineString", lines, long), [point]) == [True]
    far_square = [[[20.0, 60.0], [20.1, 60.0], [20.1, 60.1], [20.0, 60.1], [20.0, 60.0]]]
    polygons = [SQUARE, far_square]
    assert _points(_near("MultiPolygon", polygons, 1), [(10.75, 59.92), (20.05, 60.05), (15.0, 60.0)]) == [
        True,
        True,
        False,
    ]


def test_entity_geometries_are_measured_to_the_query_geometry() -> None:
    """A LineString entity crossing the query polygon is at 0 m; a polygon 400 m east of the query line's end is
    about 400 m away; a stored bow tie is measured on its two lobes."""
    crossing = {"type": "LineString", "coordinates": [[10.75, 59.80], [10.75, 60.00]]}
    east = 400 / (math.cos(math.radians(LAT)) * math.pi / 180 * EARTH_RADIUS)
    square_east = {
        "type": "Polygon",
        "coordinates": [[[10.80 + east, LAT], [10.81 + east, LAT], [10.81 + east, 59.91], [10.80 + east, LAT]]],
    }
    assert _shapes(_near("Polygon", SQUARE, 1), [crossing]) == [True]
    assert _shapes(_near("LineString", LINE, 396), [square_east]) == [False]
    assert _shapes(_near("LineString", LINE, 404), [square_east]) == [True]
    unreadable = '{"type": "Polygon", "coordinates": "x"}'
    assert refine(_near("LineString", LINE, 1e6), [0.0], [0.0], [unreadable]) == [False]


def test_a_point_query_keeps_its_haversine_distances() -> None:
    query = _near("Point", [10.75, LAT], 500)
    inside, outside = (10.75, LAT + 499 * NORTH), (10.75, LAT + 501 * NORTH)
    assert _points(query, [inside, outside]) == [True, False]


def test_the_search_box_grows_the_geometry_box_by_the_distance() -> None:
    box = search_box(_near("LineString", [[10.0, 70.0], [11.0, 60.0]], 1000))
    dlat = 1000 * NORTH
    assert box[1] == pytest.approx(60.0 - dlat, abs=1e-6)
    assert box[3] == pytest.approx(70.0 + dlat, abs=1e-6)
    # the longitude margin is the one at the geometry's latitude nearest a pole (70), wider than at 60
    dlon_70 = dlat / math.cos(math.radians(70.0))
    assert box[0] == pytest.approx(10.0 - dlon_70, rel=1e-3)
    assert box[2] == pytest.approx(11.0 + dlon_70, rel=1e-3)
    assert search_box(_near("Polygon", [[[170, 80], [179.9, 80], [179.9, 89], [170, 80]]], 50_000))[2] == 180.0


@settings(max_examples=200, deadline=None)
@given(
    st.floats(-60, 70),
    st.floats(-170, 170),
    st.floats(10, 20_000),
    st.floats(0, 2 * math.pi),
    st.floats(0, 1),
)
def test_every_point_within_the_distance_of_a_line_is_in_the_search_box(
    lat: float, lon: float, metres: float, bearing: float, fraction: float
) -> None:
    """A point at most ``metres`` from some point of the line lies in the box and passes the exact test."""
    line = [[lon, lat], [lon + 0.05, lat + 0.05]]
    query = _near("LineString", line, metres)
    on_line = (lon + 0.05 * fraction, lat + 0.05 * fraction)
    step = metres * 0.98  # within the distance, whatever the direction
    dlat = step * math.cos(bearing) * NORTH
    dlon = step * math.sin(bearing) * NORTH / math.cos(math.radians(on_line[1]))
    point = (on_line[0] + dlon, on_line[1] + dlat)
    box = search_box(query)
    assert box[0] <= point[0] <= box[2]
    assert box[1] <= point[1] <= box[3]
    assert _points(query, [point]) == [True]
