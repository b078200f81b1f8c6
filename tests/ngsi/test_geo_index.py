"""ngsi.geo_index: rows written with the entities, and geo-queries equal to a brute-force evaluation."""

from __future__ import annotations

import itertools
import math
import random
from datetime import UTC, datetime
from typing import Any

import orjson
import pytest
from hypothesis import HealthCheck, event, given, settings
from hypothesis import strategies as st
from shapely.geometry import shape
from sqlalchemy import func, select, text

from hub.db import Database
from ngsi import entity_pages, projection, store
from ngsi.geo import GeoQuery, Georel
from ngsi.geo_index import RTREE, geo_condition, geo_index, geo_rows, hilbert_order, rebuild_geo

NOW = datetime(2026, 12, 4, tzinfo=UTC)
RADIUS = 6_371_008.8
TENANTS = ("oslo", "bergen")


def point(lon: float, lat: float) -> dict[str, Any]:
    return {"type": "GeoProperty", "value": {"type": "Point", "coordinates": [lon, lat]}}


def entity(n: int, **attrs: Any) -> dict[str, Any]:
    return {"id": f"urn:ngsi-ld:Spot:{n:04d}", "type": "Spot", **attrs}


def upsert(db: Database, tenant: str, *items: dict[str, Any]) -> store.UpsertResult:
    with db.begin() as conn:
        result = store.upsert_entities(conn, [store.EntityWrite(tenant, e) for e in items], now=NOW)
        projection.catch_up(conn)
        return result


def query(db: Database, geo: GeoQuery, tenant: str | None = None, **kwargs: Any) -> tuple[list[str], int | None]:
    with db.begin() as conn:
        projection.catch_up(conn)
        where = [geo_condition(conn, geo, tenant=tenant)]
        rows, total = entity_pages.query_entities(conn, tenant=tenant, extra=where, **{"limit": 1000, **kwargs})
    return [row.split('"id":"', 1)[1].split('"', 1)[0] for row in rows], total


def grid(rng: random.Random) -> float:
    # A third of the coordinates on a 0.1° grid, so query edges and vertices fall exactly on stored points.
    return round(rng.uniform(0, 1), 1) if rng.random() < 0.33 else rng.uniform(0, 1)


def random_area(rng: random.Random) -> dict[str, Any]:
    x, y, w, h = 10 + grid(rng), 59 + grid(rng), rng.uniform(0.01, 0.3), rng.uniform(0.01, 0.3)
    if rng.random() < 0.5:
        ring = [[x, y], [x + w, y], [x + w, y + h], [x, y + h], [x, y]]
        return {"type": "Polygon", "coordinates": [ring]}
    return {"type": "LineString", "coordinates": [[x, y], [x + w, y + h]]}


@pytest.fixture
def stored(db: Database) -> dict[str, dict[str, Any]]:
    """300 entities over two tenants: a Point ``location`` each, and every third an ``area`` polygon or line."""
    rng = random.Random(7)
    everything: dict[str, dict[str, Any]] = {}
    for tenant in TENANTS:
        batch = []
        for n in range(150):
            attrs: dict[str, Any] = {"location": point(10 + grid(rng), 59 + grid(rng))}
            if n % 3 == 0:
                attrs["area"] = {"type": "GeoProperty", "value": random_area(rng)}
            batch.append(entity(n, **attrs))
            everything[f"{tenant}/{batch[-1]['id']}"] = batch[-1]
        upsert(db, tenant, *batch)
    return everything


def haversine(a: list[float], b: list[float]) -> float:
    (l1, p1), (l2, p2) = (map(math.radians, a[:2]), map(math.radians, b[:2]))
    h = math.sin((p2 - p1) / 2) ** 2 + math.cos(p1) * math.cos(p2) * math.sin((l2 - l1) / 2) ** 2
    return 2 * RADIUS * math.asin(math.sqrt(min(1.0, h)))


def brute_force(everything: dict[str, dict[str, Any]], geo: GeoQuery, tenant: str | None) -> list[str]:
    """The matching ids in the API's order: by id, then tenant (the federated view lists each tenant's copy)."""
    wanted = []
    reference = shape({"type": geo.geometry, "coordinates": geo.coordinates})
    for key, item in everything.items():
        holder, _ = key.split("/", 1)
        member = item.get(geo.geoproperty)
        if member is None or (tenant is not None and holder != tenant):
            continue
        value = member["value"]
        if geo.georel is Georel.NEAR:
            distance = haversine(value["coordinates"], geo.coordinates)
            ok = distance <= geo.max_distance if geo.max_distance is not None else distance >= (geo.min_distance or 0)
        else:
            ok = getattr(shape(value), geo.georel.value)(reference)
        if ok:
            wanted.append((item["id"], holder))
    return [entity_id for entity_id, _ in sorted(wanted)]


coordinate = st.one_of(st.floats(0, 1), st.integers(0, 10).map(lambda i: i / 10))
# A box with an area once placed at 10°E 59°N (59 + 1e-313 == 59): a query polygon enclosing no area is a 400 at
# parse time (ngsi.geo._check_valid), which GeoQuery built directly here does not go through.
boxes = st.tuples(coordinate, coordinate, coordinate, coordinate).filter(
    lambda b: 10 + b[0] != 10 + b[2] and 59 + b[1] != 59 + b[3]
)
topological = st.sampled_from([r for r in Georel if r is not Georel.NEAR])


def polygon(box: tuple[float, float, float, float]) -> list[list[list[float]]]:
    x1, x2 = sorted((10 + box[0], 10 + box[2]))
    y1, y2 = sorted((59 + box[1], 59 + box[3]))
    return [[[x1, y1], [x2, y1], [x2, y2], [x1, y2], [x1, y1]]]


SLOW = settings(max_examples=40, deadline=None, suppress_health_check=[HealthCheck.function_scoped_fixture])


@SLOW
@given(rel=topological, box=boxes, prop=st.sampled_from(["location", "area"]), tenant=st.sampled_from([None, "oslo"]))
def test_topological_relations_equal_brute_force(
    db: Database, stored: dict[str, dict[str, Any]], rel: Georel, box: Any, prop: str, tenant: str | None
) -> None:
    geo = GeoQuery(rel, "Polygon", polygon(box), prop)
    ids, total = query(db, geo, tenant, count=True)
    expected = brute_force(stored, geo, tenant)
    event("matches" if expected else "no match")
    assert ids == expected
    assert total == len(expected)


@SLOW
@given(
    lon=coordinate,
    lat=coordinate,
    distance=st.one_of(st.floats(0, 60_000), st.sampled_from([0.0, 5_000.0, 11_119.5])),
    minimum=st.booleans(),
)
def test_near_equals_brute_force_haversine(
    db: Database, stored: dict[str, dict[str, Any]], lon: float, lat: float, distance: float, minimum: bool
) -> None:
    bound = {"min_distance" if minimum else "max_distance": distance}
    geo = GeoQuery(Georel.NEAR, "Point", [10 + lon, 59 + lat], **bound)
    ids, total = query(db, geo, "bergen", count=True)
    event("matches" if ids else "no match")
    assert ids == brute_force(stored, geo, "bergen")
    assert total == len(ids)


def test_paging_and_count_apply_after_the_exact_test(db: Database, stored: dict[str, dict[str, Any]]) -> None:
    geo = GeoQuery(Georel.WITHIN, "Polygon", polygon((0.0, 0.0, 0.7, 0.6)))
    expected = brute_force(stored, geo, "oslo")
    assert len(expected) > 40
    pages = [query(db, geo, "oslo", limit=10, offset=start, count=True) for start in range(0, len(expected), 10)]
    assert [i for ids, _ in pages for i in ids] == expected
    assert {total for _, total in pages} == {len(expected)}


def test_no_candidates_is_an_empty_answer(db: Database, stored: dict[str, dict[str, Any]]) -> None:
    geo = GeoQuery(Georel.NEAR, "Point", [-70.0, -30.0], max_distance=1000)
    assert query(db, geo, count=True) == ([], 0)
    disjoint = GeoQuery(Georel.DISJOINT, "Point", [-70.0, -30.0])
    assert query(db, disjoint, "oslo", count=True)[1] == 150


def indexed(db: Database, tenant: str, entity_id: str) -> list[tuple[str, float, float]]:
    """The rows of one entity (every write replayed first); on SQLite, also checks that the R*Tree holds exactly
    the mapping table's gids."""
    with db.begin() as conn:
        projection.catch_up(conn)
        if conn.dialect.name == "sqlite":
            rtree = conn.execute(text(f"SELECT id FROM {RTREE} ORDER BY id")).scalars().all()
            assert rtree == conn.execute(select(geo_index.c.gid).order_by(geo_index.c.gid)).scalars().all()
        stmt = select(geo_index.c.attr, geo_index.c.min_lon, geo_index.c.min_lat).where(
            geo_index.c.tenant == tenant, geo_index.c.entity_id == entity_id
        )
        return sorted((r.attr, r.min_lon, r.min_lat) for r in conn.execute(stmt))


def test_rows_follow_creates_updates_deletes_and_removals(db: Database) -> None:
    e = entity(1, location=point(10.5, 59.5), name={"type": "Property", "value": "a"})
    eid = e["id"]
    assert upsert(db, "oslo", e).created == [eid]
    assert upsert(db, "oslo", e).unchanged == [eid]
    assert indexed(db, "oslo", eid) == [("location", 10.5, 59.5)]
    moved = {**e, "location": point(10.6, 59.6), "name": {"type": "Property", "value": "b"}}
    upsert(db, "oslo", moved)
    assert indexed(db, "oslo", eid) == [("location", 10.6, 59.6)]
    upsert(db, "oslo", {**moved, "name": {"type": "Property", "value": "c"}})  # only a non-geo attribute changed
    assert indexed(db, "oslo", eid) == [("location", 10.6, 59.6)]
    upsert(db, "oslo", {**e, "location": {"type": "Property", "value": "nowhere"}})  # no longer a GeoProperty
    assert indexed(db, "oslo", eid) == []
    multi = [point(1.0, 2.0) | {"datasetId": "urn:a"}, point(3.0, 4.0) | {"datasetId": "urn:b"}]
    upsert(db, "oslo", {**e, "location": multi})
    assert indexed(db, "oslo", eid) == [("location", 1.0, 2.0), ("location", 3.0, 4.0)]
    with db.begin() as conn:
        assert store.delete_entity(conn, tenant="oslo", entity_id=eid) == 1
    assert indexed(db, "oslo", eid) == []


def test_a_geoproperty_turned_plain_beside_one_that_stays_loses_its_rows(db: Database) -> None:
    note = {"type": "Property", "value": 'mentions "GeoProperty" in its text'}
    e = entity(5, location=point(10.5, 59.5), area=point(11.0, 60.0), note=note)
    upsert(db, "oslo", e)
    upsert(db, "oslo", {**e, "note": {**note, "value": "changed"}})  # the text names GeoProperty: parsed, kept
    assert indexed(db, "oslo", e["id"]) == [("area", 11.0, 60.0), ("location", 10.5, 59.5)]
    upsert(db, "oslo", {**e, "area": {"type": "Property", "value": "gone"}})
    assert indexed(db, "oslo", e["id"]) == [("location", 10.5, 59.5)]
    upsert(db, "oslo", {**e, "area": {"type": "Property", "value": "gone"}, "location": point(1.0, 2.0)})
    assert indexed(db, "oslo", e["id"]) == [("location", 1.0, 2.0)]


def test_removed_entities_leave_the_index_and_come_back_when_revived(db: Database) -> None:
    e = entity(2, location=point(10.5, 59.5))
    with db.begin() as conn:
        store.upsert_entities(conn, [store.EntityWrite("oslo", e, source_id="s")], now=NOW)
        assert store.mark_removed(conn, source_id="s", keep=set(), now=NOW) == [e["id"]]
    assert indexed(db, "oslo", e["id"]) == []
    upsert(db, "oslo", e)
    assert indexed(db, "oslo", e["id"]) == [("location", 10.5, 59.5)]


def test_malformed_geometries_are_not_indexed_and_shapes_keep_their_geojson() -> None:
    rows = geo_rows(
        entity(
            3,
            location=point(200.0, 10.0),
            bad={"type": "GeoProperty", "value": {"type": "Polygon", "coordinates": [[[0, 0], [1, 1]]]}},
            line={"type": "GeoProperty", "value": {"type": "LineString", "coordinates": [[0, 1], [2, -1]]}},
            plain={"type": "Property", "value": {"type": "Point", "coordinates": [1, 2]}},
        )
    )
    assert rows == [
        ("urn:ngsi-ld:Spot:0003", "line", 0.0, -1.0, 2.0, 1.0, '{"type":"LineString","coordinates":[[0,1],[2,-1]]}')
    ]


BOW_TIE = [
    [[10.0, 59.0], [10.2, 59.2], [10.2, 59.0], [10.0, 59.2], [10.0, 59.0]]
]  # two triangles meeting at [10.1, 59.1]


def test_a_polygon_crossing_itself_is_indexed_by_its_box_and_matched_as_its_lobes(db: Database) -> None:
    bow_tie = {"type": "GeoProperty", "value": {"type": "Polygon", "coordinates": BOW_TIE}}
    upsert(db, "oslo", entity(1, area=bow_tie), entity(2, area=point(10.1, 59.18)), entity(3, area=point(10.03, 59.1)))
    [row] = geo_rows(entity(1, area=bow_tie))
    assert row[2:6] == (10.0, 59.0, 10.2, 59.2)
    assert orjson.loads(row[6] or "null") == bow_tie["value"]  # the index keeps the coordinates as sent
    ids = [f"urn:ngsi-ld:Spot:{n:04d}" for n in (1, 2, 3)]
    # [10.1, 59.18] lies in the box but between the lobes; [10.03, 59.1] in the left lobe.
    assert query(db, GeoQuery(Georel.INTERSECTS, "Point", [10.1, 59.18], "area")) == ([ids[1]], None)
    assert query(db, GeoQuery(Georel.CONTAINS, "Point", [10.03, 59.1], "area")) == ([ids[0], ids[2]], None)
    assert query(db, GeoQuery(Georel.DISJOINT, "Point", [10.1, 59.18], "area")) == ([ids[0], ids[2]], None)
    assert query(db, GeoQuery(Georel.WITHIN, "Polygon", BOW_TIE, "area")) == ([ids[0], ids[2]], None)
    assert query(db, GeoQuery(Georel.NEAR, "Point", [10.1, 59.18], "area", max_distance=100)) == ([ids[1]], None)
    assert query(db, GeoQuery(Georel.NEAR, "Point", [10.1, 59.18], "area", min_distance=100)) == (
        [ids[0], ids[2]],
        None,
    )


def test_rebuild_gives_the_rows_the_writes_gave(db: Database, stored: dict[str, dict[str, Any]]) -> None:
    columns = (geo_index.c.tenant, geo_index.c.entity_id, geo_index.c.attr, geo_index.c.min_lon, geo_index.c.geometry)
    with db.begin() as conn:
        before = sorted(conn.execute(select(*columns)).all())
        assert rebuild_geo(conn, batch=70) == len(before) == 400
        assert sorted(conn.execute(select(*columns)).all()) == before
        assert conn.execute(select(func.count()).select_from(geo_index)).scalar_one() == 400
    assert indexed(db, "oslo", "urn:ngsi-ld:Spot:0000") == [
        ("area", *stored["oslo/urn:ngsi-ld:Spot:0000"]["area"]["value"]["coordinates"][0][0]),
        ("location", *stored["oslo/urn:ngsi-ld:Spot:0000"]["location"]["value"]["coordinates"]),
    ]


def test_rows_are_written_along_a_hilbert_curve() -> None:
    # The four quadrants of a small square come out in the curve's U order; every row exactly once.
    corners = [(0.5, 0.5), (-0.5, 0.5), (0.5, -0.5), (-0.5, -0.5)]
    rows = [(f"e{i}", "location", x, y, x, y, None) for i, (x, y) in enumerate(corners)]
    order = hilbert_order(rows)
    assert sorted(order) == [0, 1, 2, 3]
    path = [corners[i] for i in order]
    steps = [abs(a[0] - b[0]) + abs(a[1] - b[1]) for a, b in itertools.pairwise(path)]
    assert steps == [1.0, 1.0, 1.0]  # each step goes to an adjacent quadrant, never across the diagonal
