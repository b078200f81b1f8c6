"""ngsi.geo: parsing geo-queries (every bad input named), the search box, distances and the exact tests."""

from __future__ import annotations

import math

import orjson
import pytest
from hypothesis import given, settings
from hypothesis import strategies as st

from hub.errors import BadRequestData, InvalidRequest
from ngsi.geo import (
    EARTH_RADIUS,
    MAX_POSITIONS,
    GeoQuery,
    Georel,
    bounds,
    geometry_of,
    haversine,
    parse_geo_q,
    parse_geo_query,
    refine,
    search_box,
)

SQUARE = "[[[10,59],[11,59],[11,60],[10,60],[10,59]]]"
BOW_TIE = [[[0, 0], [2, 2], [2, 0], [0, 2], [0, 0]]]  # its edges cross at [1, 1]: a left and a right triangle
LOBES = [[[[0, 0], [1, 1], [0, 2], [0, 0]]], [[[2, 0], [2, 2], [1, 1], [2, 0]]]]  # the same two triangles
STORED_BOW_TIE = orjson.dumps({"type": "Polygon", "coordinates": BOW_TIE}).decode()


def test_near_with_max_distance_parses_to_metres_and_default_geoproperty() -> None:
    query = parse_geo_query("near;maxDistance==500", "Point", "[10.75, 59.91]")
    assert query == GeoQuery(Georel.NEAR, "Point", [10.75, 59.91], "location", 500.0, None)
    assert not query.complement


def test_min_distance_and_disjoint_are_complements() -> None:
    near = parse_geo_query("near;minDistance==12.5", "Point", "[0,0]", "position")
    assert near is not None
    assert (near.min_distance, near.max_distance, near.geoproperty, near.complement) == (12.5, None, "position", True)
    disjoint = parse_geo_query("disjoint", "Polygon", SQUARE)
    assert disjoint is not None
    assert disjoint.complement


def test_no_geo_parameters_is_no_geo_query() -> None:
    assert parse_geo_query(None, None, None) is None


def test_a_geoq_body_may_give_the_coordinates_as_an_array() -> None:
    query = parse_geo_query("within", "Polygon", orjson.loads(SQUARE))
    assert query is not None
    assert query.coordinates == orjson.loads(SQUARE)


@pytest.mark.parametrize(
    ("georel", "geometry", "coordinates", "needle"),
    [
        ("near;maxDistance==500", None, None, "geometry, coordinates missing"),
        (None, "Point", "[1,2]", "georel missing"),
        ("within", "Polygon", "", "coordinates missing"),
        ("touches", "Point", "[1,2]", "unknown relation 'touches'"),
        ("near", "Point", "[1,2]", "near needs ;maxDistance"),
        ("near;maxDistance==-5", "Point", "[1,2]", "finite positive number of metres (not -5)"),
        ("near;maxDistance==0", "Point", "[1,2]", "finite positive number of metres (not 0)"),
        ("near;minDistance==0", "Point", "[1,2]", "finite positive number of metres (not 0)"),
        ("near;maxDistance==inf", "Point", "[1,2]", "finite positive number of metres (not inf)"),
        ("near;maxDistance==1e400", "Point", "[1,2]", "finite positive number of metres (not 1e400)"),
        ("near;maxDistance==5;minDistance==1", "Point", "[1,2]", "is not a number"),
        ("near;maxDistance==far", "Point", "[1,2]", "'far' is not a number"),
        ("near;maxDistance==nan", "Point", "[1,2]", "finite positive number of metres (not nan)"),
        ("near;radius==5", "Point", "[1,2]", "near needs"),
        ("within;maxDistance==5", "Polygon", SQUARE, "only near takes a modifier"),
        ("near;maxDistance==5", "Polygon", "[[[0,0],[1,0],[2,0],[0,0]]]", "the Polygon encloses no area"),
        ("within", "Circle", "[1,2]", "geometry 'Circle' is not one of"),
        ("intersects", "Point", "[181,2]", "longitude 181 is out of range"),
        ("intersects", "Point", "[1,-90.5]", "latitude -90.5 is out of range"),
        ("intersects", "Point", "[1]", "a position is an array"),
        ("intersects", "Point", '[1,"2"]', "other than finite numbers"),
        ("intersects", "Point", "[true,2]", "other than finite numbers"),
        ("intersects", "LineString", "[[1,2]]", "at least 2 positions"),
        ("intersects", "MultiLineString", "[[[1,2],[3,4]],[[1,2]]]", "coordinates[1]: a LineString needs at least 2"),
        ("within", "Polygon", "[[[10,59],[11,59],[11,60],[10,60]]]", "coordinates[0]: the polygon ring is not closed"),
        ("within", "Polygon", "[[[10,59],[11,59],[10,59]]]", "needs at least 4 positions, got 3"),
        ("within", "Polygon", "[[10,59],[11,59],[11,60],[10,59]]", "coordinates[0][0]: a position is an array"),
        ("within", "MultiPolygon", f"[{SQUARE}, [[[0,0],[1,0],[0,0]]]]", "coordinates[1][0]: a polygon ring"),
        ("within", "Polygon", "[[[0,0],[1,0],[2,0],[0,0]]]", "the Polygon encloses no area (Self-intersection[1 0])"),
        ("within", "MultiPolygon", "[[[[0,0],[1,1],[0,0],[0,0]]]]", "the MultiPolygon encloses no area (Too few"),
        ("within", "Polygon", "[]", "a Polygon needs a non-empty array"),
        ("within", "Point", "[1,2]", None),  # valid: a point can be a query geometry for any relation
    ],
)
def test_bad_geo_queries_are_400_naming_the_problem(
    georel: str | None, geometry: str | None, coordinates: str | None, needle: str | None
) -> None:
    if needle is None:
        assert parse_geo_query(georel, geometry, coordinates) is not None
        return
    with pytest.raises(BadRequestData) as caught:
        parse_geo_query(georel, geometry, coordinates)
    assert needle in caught.value.detail


@pytest.mark.parametrize("text", ["[10.7,", "10.7,59.9", "[1,2]]"])
def test_malformed_coordinates_json_is_invalid_request(text: str) -> None:
    with pytest.raises(InvalidRequest, match="is not a JSON array"):
        parse_geo_query("intersects", "Point", text)


def test_too_many_positions_are_refused() -> None:
    line = [[0.0, i * 1e-4] for i in range(MAX_POSITIONS + 1)]
    with pytest.raises(BadRequestData, match=f"more than {MAX_POSITIONS} positions"):
        parse_geo_query("intersects", "LineString", orjson.dumps(line).decode())
    assert parse_geo_query("intersects", "LineString", orjson.dumps(line[:MAX_POSITIONS]).decode()) is not None


def test_geoproperty_without_a_geo_query_and_bad_names() -> None:
    with pytest.raises(BadRequestData, match="geoproperty is given without a geo-query"):
        parse_geo_query(None, None, None, "location")
    with pytest.raises(BadRequestData, match="is not an attribute name"):
        parse_geo_query("intersects", "Point", "[1,2]", "loc;ation")


def test_haversine_matches_known_distances() -> None:
    # One degree of latitude on the mean sphere, and Oslo Central Station to Bergen station (about 305 km).
    assert haversine(0.0, 0.0, 0.0, 1.0) == pytest.approx(math.pi / 180 * EARTH_RADIUS)
    assert haversine(10.7522, 59.9111, 5.3328, 60.3904) == pytest.approx(305_000, rel=0.01)


@settings(max_examples=200, deadline=None)
@given(
    lon=st.floats(-179.0, 179.0),
    lat=st.floats(-85.0, 85.0),
    distance=st.floats(0.0, 200_000.0),
    bearing=st.floats(0.0, 2 * math.pi),
)
def test_the_near_search_box_holds_every_point_at_the_distance(
    lon: float, lat: float, distance: float, bearing: float
) -> None:
    query = GeoQuery(Georel.NEAR, "Point", [lon, lat], max_distance=distance)
    west, south, east, north = search_box(query)
    # The destination point at ``distance`` along ``bearing`` (spherical direct problem) must lie in the box.
    d, p1, l1 = distance / EARTH_RADIUS, math.radians(lat), math.radians(lon)
    p2 = math.asin(math.sin(p1) * math.cos(d) + math.cos(p1) * math.sin(d) * math.cos(bearing))
    l2 = l1 + math.atan2(math.sin(bearing) * math.sin(d) * math.cos(p1), math.cos(d) - math.sin(p1) * math.sin(p2))
    end_lon, end_lat = math.degrees(l2), math.degrees(p2)
    assert south <= end_lat <= north
    if west > -180 or east < 180:
        assert west <= end_lon <= east


def test_a_near_box_over_the_antimeridian_or_a_pole_takes_every_longitude() -> None:
    assert search_box(GeoQuery(Georel.NEAR, "Point", [179.99, 0], max_distance=5000))[::2] == (-180.0, 180.0)
    west, _south, east, north = search_box(GeoQuery(Georel.NEAR, "Point", [10, 89.99], max_distance=5000))
    assert (west, east, north) == (-180.0, 180.0, 90.0)


def test_geometry_of_stored_values_and_bounds() -> None:
    assert geometry_of({"type": "Point", "coordinates": [1, 2]}) == ("Point", [1, 2])
    assert geometry_of({"type": "Point", "coordinates": [200, 2]}) is None
    assert geometry_of({"type": "GeometryCollection", "geometries": []}) is None
    assert geometry_of("POINT (1 2)") is None
    assert bounds("Polygon", orjson.loads(SQUARE)) == (10.0, 59.0, 11.0, 60.0)
    assert bounds("MultiPoint", [[3, -1, 7], [-2, 4]]) == (-2.0, -1.0, 3.0, 4.0)


def test_refine_applies_the_simple_features_predicates_entity_first() -> None:
    square = parse_geo_query("within", "Polygon", SQUARE)
    assert square is not None
    inner = '{"type":"Polygon","coordinates":[[[10.2,59.2],[10.4,59.2],[10.4,59.4],[10.2,59.2]]]}'
    line_across = '{"type":"LineString","coordinates":[[9,59.5],[12,59.5]]}'
    # A point inside, a point on the edge, a point outside, a polygon inside, a line across.
    lons, lats = [10.5, 11.0, 12.0, 10.2, 9.0], [59.5, 59.5, 59.5, 59.2, 59.5]
    shapes = [None, None, None, inner, line_across]
    expected = {
        Georel.WITHIN: [True, False, False, True, False],
        Georel.INTERSECTS: [True, True, False, True, True],
        Georel.DISJOINT: [False, False, True, False, False],
        Georel.OVERLAPS: [False, False, False, False, False],
        Georel.CONTAINS: [False, False, False, False, False],
        Georel.EQUALS: [False, False, False, False, False],
    }
    for rel, want in expected.items():
        query = GeoQuery(rel, square.geometry, square.coordinates)
        assert refine(query, lons, lats, shapes) == want, rel


def test_a_query_polygon_crossing_itself_is_the_area_its_rings_describe() -> None:
    query = parse_geo_query("within", "Polygon", orjson.dumps(BOW_TIE).decode())
    assert query is not None
    assert query.coordinates == BOW_TIE  # kept as sent
    # In the left lobe, in the right lobe, at the crossing, between the lobes (inside the box, outside both lobes).
    lons, lats = [0.5, 1.5, 1.0, 1.0], [1.0, 1.0, 1.0, 1.5]
    assert refine(query, lons, lats, [None] * 4) == [True, True, False, False]
    touching = GeoQuery(Georel.INTERSECTS, "Polygon", BOW_TIE)
    assert refine(touching, lons, lats, [None] * 4) == [True, True, True, False]
    assert refine(GeoQuery(Georel.EQUALS, "Polygon", BOW_TIE), [0.0], [0.0], [STORED_BOW_TIE]) == [True]


def test_a_stored_polygon_crossing_itself_is_queried_as_the_area_its_rings_describe() -> None:
    stored = [STORED_BOW_TIE]

    def matches(rel: Georel, geometry: str, coordinates: object, **distance: float) -> bool:
        [found] = refine(GeoQuery(rel, geometry, coordinates, **distance), [0.0], [0.0], stored)
        return found

    assert matches(Georel.CONTAINS, "Point", [0.5, 1.0])  # in the left lobe
    assert not matches(Georel.CONTAINS, "Point", [1.0, 1.5])  # between the lobes, inside its box
    assert not matches(Georel.INTERSECTS, "Polygon", [[[0.9, 1.4], [1.1, 1.4], [1.1, 1.6], [0.9, 1.6], [0.9, 1.4]]])
    assert matches(Georel.WITHIN, "Polygon", [[[-1, -1], [3, -1], [3, 3], [-1, 3], [-1, -1]]])
    assert matches(Georel.EQUALS, "MultiPolygon", LOBES)
    assert matches(Georel.OVERLAPS, "Polygon", [[[1.5, -1], [3, -1], [3, 3], [1.5, 3], [1.5, -1]]])
    assert matches(Georel.DISJOINT, "Point", [1.0, 1.9])
    # From [1, 1.5] the nearest edge is 0.5 / sqrt(2) degrees away: about 39.3 km; inside a lobe the distance is 0.
    assert matches(Georel.NEAR, "Point", [1.0, 1.5], max_distance=39_500)
    assert not matches(Georel.NEAR, "Point", [1.0, 1.5], max_distance=39_000)
    assert matches(Georel.NEAR, "Point", [0.5, 1.0], max_distance=1)


def test_overlapping_parts_add_up_and_a_hole_outside_its_shell_is_a_part() -> None:
    overlapping = {
        "type": "MultiPolygon",
        "coordinates": [orjson.loads(SQUARE), [[[10.5, 59.5], [11.5, 59.5], [11.5, 60.5], [10.5, 60.5], [10.5, 59.5]]]],
    }
    outside = [[[0, 0], [4, 0], [4, 4], [0, 4], [0, 0]], [[5, 5], [6, 5], [6, 6], [5, 5]]]
    stored = [orjson.dumps(overlapping).decode(), orjson.dumps({"type": "Polygon", "coordinates": outside}).decode()]
    in_both_parts = GeoQuery(Georel.INTERSECTS, "Point", [10.75, 59.75])
    assert refine(in_both_parts, [0.0, 0.0], [0.0, 0.0], stored) == [True, False]
    in_the_outer_hole = GeoQuery(Georel.CONTAINS, "Point", [5.8, 5.5])
    assert refine(in_the_outer_hole, [0.0, 0.0], [0.0, 0.0], stored) == [False, True]


def test_refine_near_measures_points_geodesically_and_other_shapes_locally() -> None:
    query = GeoQuery(Georel.NEAR, "Point", [10.0, 60.0], max_distance=1000)
    one_km_north = 1000 / EARTH_RADIUS * 180 / math.pi
    east = 10.0 + 0.9 * one_km_north / 0.5  # a meridian 900 m east (cos 60° = 0.5)
    line_900m_east = orjson.dumps({"type": "LineString", "coordinates": [[east, 59.0], [east, 61.0]]}).decode()
    lons, lats = [10.0, 10.0, 0.0], [60.0 + 0.99 * one_km_north, 60.0 + 1.01 * one_km_north, 0.0]
    assert refine(query, [*lons, 0.0], [*lats, 0.0], [None, None, None, line_900m_east]) == [True, False, False, True]
    far = GeoQuery(Georel.NEAR, "Point", [10.0, 60.0], min_distance=1000)
    assert refine(far, lons, lats, [None, None, None]) == [False, True, True]
    assert refine(query, [], [], []) == []


def test_a_geoq_member_is_parsed_like_the_parameters() -> None:
    member = {"georel": "near;maxDistance==500", "geometry": "Point", "coordinates": [10.75, 59.91]}
    assert parse_geo_q(member) == parse_geo_query("near;maxDistance==500", "Point", "[10.75, 59.91]")
    assert parse_geo_q({**member, "coordinates": "[10.75, 59.91]", "geoproperty": "position"}).geoproperty == "position"


@pytest.mark.parametrize(
    ("member", "needle"),
    [
        ("near", "geoQ must be an object"),
        ({"georel": "within", "geometry": "Point", "coordinates": [1, 2], "radius": 5}, "unknown member(s) radius"),
        ({"georel": ["within"], "geometry": "Point", "coordinates": [1, 2]}, "georel must be a string"),
        ({}, "geoQ: a geo-query needs"),
        ({"georel": "within", "geometry": "Point"}, "coordinates missing"),
        ({"georel": "within", "geometry": "Point", "coordinates": [1, 200]}, "latitude 200 is out of range"),
    ],
)
def test_bad_geoq_members_are_400(member: object, needle: str) -> None:
    with pytest.raises(BadRequestData) as caught:
        parse_geo_q(member)
    assert needle in caught.value.detail
