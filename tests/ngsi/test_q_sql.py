"""ngsi.q_sql: q compiled to EXISTS over the attribute index, checked on ~50 entities against exact id sets."""

from __future__ import annotations

import re
import sqlite3
import time as clock
from datetime import UTC, datetime
from pathlib import Path
from typing import Any

import orjson
import pytest
from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st
from sqlalchemy import Connection, event, func, insert, select, update

from hub.db import Database
from hub.errors import BadRequestData, OperationNotSupported
from ngsi.attr_index import index_rows, write_index
from ngsi.q import AttrPath, Match, Node, parse_q
from ngsi.q_sql import compile_q, compile_q_text, register_sqlite_functions
from ngsi.tables import entities, type_sets
from tests.ngsi.test_q import queries

NOW = datetime(2025, 1, 1, tzinfo=UTC)
T1, T2 = "t1", "t2"


def prop(value: Any, **extra: Any) -> dict[str, Any]:
    return {"type": "Property", "value": value, **extra}


def rel(target: str) -> dict[str, Any]:
    return {"type": "Relationship", "object": target}


def bike(i: int) -> dict[str, Any]:
    city = "Oslo" if i < 10 else "Bergen"
    seen = f"2024-05-01T{i:02d}:00:00Z"
    entity = {
        "id": f"urn:ngsi-ld:BikeHireDockingStation:{i:02d}",
        "type": "BikeHireDockingStation",
        "availableBikeNumber": prop(i, observedAt=seen),
        "status": prop("working" if i % 3 else "outOfService", observedAt=seen),
        "address": prop({"streetAddress": f"Gate {i}", "addressLocality": city, "postalCode": f"{5000 + i}"}),
        "name": prop(f"Station {i}"),
        "refCity": rel(f"urn:ngsi-ld:City:{city.lower()}"),
        "location": {"type": "GeoProperty", "value": {"type": "Point", "coordinates": [10.7 + i / 100, 59.9]}},
        "totalSlotNumber": prop(20),
    }
    if i % 4 == 0:
        entity["services"] = prop(["repair", "pump"] if i % 8 == 0 else ["pump"])
    return entity


def vehicle(i: int) -> dict[str, Any]:
    return {
        "id": f"urn:ngsi-ld:Vehicle:{i}",
        "type": "Vehicle",
        "speed": prop(10 * i + 5, unitCode="KMH", observedAt=f"2024-06-0{1 + i % 3}T12:00:00Z"),
        "rpm": prop(1000 * i),
        "brandName": prop("Volvo" if i % 2 == 0 else "Tesla"),
        "owner": rel(f"urn:ngsi-ld:Person:{i % 3}"),
        "lastService": prop({"@type": "DateTime", "@value": f"2023-0{1 + i % 9}-15T08:00:00Z"}),
        "plate": prop(str(i)),
    }


def sensor(i: int) -> dict[str, Any]:
    water = prop(10 * i, datasetId="urn:ds:water", observedAt=f"2024-07-0{i + 1}T00:00:00Z")
    if i >= 3:
        water["reliability"] = prop(0.9)
    entity = {
        "id": f"urn:ngsi-ld:Sensor:{i}",
        "type": "Sensor",
        "temperature": [prop(20 + i, datasetId="urn:ds:air"), water],
        "enabled": prop(i % 2 == 0),
        "installedOn": prop(f"2022-0{i + 1}-01"),
        "opensAt": prop(f"{6 + i:02d}:30:00"),
        "label": {"type": "LanguageProperty", "languageMap": {"en": f"Sensor {i}", "nb": f"Måler {i}"}},
    }
    if i == 0:
        entity["description"] = prop("x" * 600 + " the end")
    return entity


def parking(i: int) -> dict[str, Any]:
    return {
        "id": f"urn:ngsi-ld:ParkingSpot:{i}",
        "type": "ParkingSpot",
        "status": prop("occupied" if i % 2 else "free"),
        "occupied": prop(i % 2 == 1),
        "category": prop(["onStreet", "free"] if i < 5 else ["offStreet"]),
        "refParkingSite": {
            "type": "ListRelationship",
            "objectList": [{"object": "urn:ngsi-ld:ParkingSite:a"}, {"object": f"urn:ngsi-ld:ParkingSite:{i}"}],
        },
    }


def others() -> list[dict[str, Any]]:
    cities = [
        {"id": "urn:ngsi-ld:City:oslo", "type": "City", "population": prop(700000)},
        {"id": "urn:ngsi-ld:City:bergen", "type": "City", "population": prop(290000)},
    ]
    people = [
        {
            "id": f"urn:ngsi-ld:Person:{i}",
            "type": "Person",
            "name": prop(n),
            "age": prop(30 + 10 * i),
            "livesIn": rel(f"urn:ngsi-ld:City:{'bergen' if i == 2 else 'oslo'}"),
        }
        for i, n in enumerate(["Ann", "Bo", "Cy"])
    ]
    # ParkingSite:a and :3 only: the other sites the spots point to are not held
    sites = [
        {"id": "urn:ngsi-ld:ParkingSite:a", "type": "ParkingSite", "totalSpotNumber": prop(50)},
        {"id": "urn:ngsi-ld:ParkingSite:3", "type": "ParkingSite", "totalSpotNumber": prop(200)},
    ]
    return cities + people + sites


def corpus() -> list[dict[str, Any]]:
    return (
        [bike(i) for i in range(20)]
        + [vehicle(i) for i in range(10)]
        + [sensor(i) for i in range(5)]
        + [parking(i) for i in range(10)]
        + others()
    )


def store(conn: Connection, tenant: str, items: list[dict[str, Any]]) -> None:
    """Entity rows straight into ngsi_entities, index rows through write_index."""
    conn.execute(
        insert(entities),
        [
            {
                "tenant": tenant,
                "id": e["id"],
                "type": e["type"],
                "data": orjson.dumps(e).decode(),
                "removed": False,
                "created_at": NOW,
                "modified_at": NOW,
            }
            for e in items
        ],
    )
    write_index(conn, tenant, [e["id"] for e in items], [row for e in items for row in index_rows(e)])


@pytest.fixture
def loaded(db: Database) -> Database:
    if db.dialect == "sqlite":
        event.listen(db.engine, "connect", register_sqlite_functions)
        db.engine.dispose()  # connections made from now on get the function
    with db.begin() as conn:
        store(conn, T1, corpus())
        # The same ids under another tenant with other values: the correlation must keep tenants apart.
        store(conn, T2, [{**bike(i), "availableBikeNumber": prop(100 + i)} for i in range(3)])
    return db


def ids(db: Database, q: str, tenant: str | None = T1) -> set[str]:
    condition = compile_q(parse_q(q), entities_table=entities)
    stmt = select(entities.c.id).where(condition)
    if tenant is not None:
        stmt = stmt.where(entities.c.tenant == tenant)
    with db.connect() as conn:
        return set(conn.execute(stmt).scalars())


def bikes(*numbers: int) -> set[str]:
    return {f"urn:ngsi-ld:BikeHireDockingStation:{i:02d}" for i in numbers}


def vehicles(*numbers: int) -> set[str]:
    return {f"urn:ngsi-ld:Vehicle:{i}" for i in numbers}


def sensors(*numbers: int) -> set[str]:
    return {f"urn:ngsi-ld:Sensor:{i}" for i in numbers}


def spots(*numbers: int) -> set[str]:
    return {f"urn:ngsi-ld:ParkingSpot:{i}" for i in numbers}


CASES: list[tuple[str, set[str]]] = [
    # the reference's examples
    ('availableBikeNumber>5;status=="working"', bikes(*(i for i in range(6, 20) if i % 3))),
    ('address[addressLocality]=="Oslo"', bikes(*range(10))),
    ('((speed>50|rpm>3000);brandName=="Volvo")', vehicles(4, 6, 8)),
    # comparisons, ranges, lists, typed values
    ("availableBikeNumber<=2", bikes(0, 1, 2)),
    ("availableBikeNumber==3..7", bikes(3, 4, 5, 6, 7)),
    ("availableBikeNumber!=3..17", bikes(0, 1, 2, 18, 19)),
    ('availableBikeNumber==1,3,"5"', bikes(1, 3)),
    ('plate=="5"', vehicles(5)),
    ("plate==5", set()),
    ('address[postalCode]=="5003"', bikes(3)),
    ("address[postalCode]==5003", set()),
    ('name=="Station 4"', bikes(4)),
    ('name>="Station 7";name<"Station 8"', bikes(7)),
    ('name=="Bo".."Cy"', {"urn:ngsi-ld:Person:1", "urn:ngsi-ld:Person:2"}),
    ('brandName!="Volvo"', vehicles(1, 3, 5, 7, 9)),  # entities without brandName do not match
    ('status!="working"', bikes(0, 3, 6, 9, 12, 15, 18) | spots(*range(10))),
    ("enabled==true", sensors(0, 2, 4)),
    ('occupied==false;category=="onStreet"', spots(0, 2, 4)),
    ("speed>80|availableBikeNumber>18", vehicles(8, 9) | bikes(19)),
    (
        'availableBikeNumber>5;(status=="working"|address[addressLocality]=="Bergen")',
        bikes(*range(6, 20)) - bikes(6, 9),
    ),
    # arrays: == means contains
    ('services=="pump"', bikes(0, 4, 8, 12, 16)),
    ('services=="repair"', bikes(0, 8, 16)),
    ('services=="repair","nothing"', bikes(0, 8, 16)),
    ('services!="repair"', bikes(4, 12)),
    ('category=="free"', spots(0, 1, 2, 3, 4)),
    # existence
    ("services", bikes(0, 4, 8, 12, 16)),
    ("location", bikes(*range(20))),
    ("address[postalCode]", bikes(*range(20))),
    ("address[nothing]", set()),
    ("description;enabled", sensors(0)),
    # absence: NOT EXISTS, on dotted paths and keys too, and on a linked path (no target has it)
    ("availableBikeNumber;!services", bikes(*range(20)) - bikes(0, 4, 8, 12, 16)),
    ("services;!services", set()),
    ("temperature;!temperature.reliability", sensors(0, 1, 2)),  # any instance having it counts as present
    ("speed;!speed.nothing", vehicles(*range(10))),
    ("availableBikeNumber;!address[nothing]", bikes(*range(20))),
    ("enabled;(!description|enabled==false)", sensors(1, 2, 3, 4)),
    ("refParkingSite;!refParkingSite{totalSpotNumber}", set()),  # site :a is held by every spot
    ("owner;!owner{livesIn{City:population}}", set()),
    # sub-attributes
    ("availableBikeNumber.observedAt>=2024-05-01T15:00:00Z", bikes(15, 16, 17, 18, 19)),
    ("availableBikeNumber.observedAt>=2024-05-01T17:00:00+02:00", bikes(15, 16, 17, 18, 19)),
    ("availableBikeNumber.observedAt==2024-05-01T02:00:00Z..2024-05-01T03:30:00Z", bikes(2, 3)),
    ('speed.unitCode=="KMH"', vehicles(*range(10))),
    ("speed.observedAt<2024-06-02", vehicles(0, 3, 6, 9)),
    ("temperature.reliability>=0.9", sensors(3, 4)),
    ("temperature.observedAt", sensors(*range(5))),
    # dates, date-times and times as instants
    ("lastService>=2023-05-01", vehicles(4, 5, 6, 7, 8)),
    ("lastService==2023-01-15T09:00:00+01:00", vehicles(0, 9)),
    ("installedOn==2022-03-01", sensors(2)),
    ("installedOn<2022-03-01T00:00:01Z", sensors(0, 1, 2)),
    ('installedOn=="2022-03-01"', sensors(2)),
    ("opensAt>=08:00", sensors(2, 3, 4)),
    ("opensAt==07:00..09:00", sensors(1, 2)),
    # multi-instance: any instance
    ("temperature==22", sensors(2)),
    ("temperature>=30", sensors(3, 4)),
    ("temperature!=20", sensors(*range(5))),  # sensor 0 has a water instance that is not 20
    ("temperature!=20,0", sensors(1, 2, 3, 4)),
    # relationships: == and != only; linked entities
    ("refCity==urn:ngsi-ld:City:bergen", bikes(*range(10, 20))),
    ('refCity=="urn:ngsi-ld:City:bergen"', bikes(*range(10, 20))),
    ('refCity>"urn"', set()),
    ("refCity!=urn:ngsi-ld:City:bergen", bikes(*range(10))),
    ("refParkingSite==urn:ngsi-ld:ParkingSite:a", spots(*range(10))),
    ("refParkingSite==urn:ngsi-ld:ParkingSite:3,urn:ngsi-ld:ParkingSite:7", spots(3, 7)),
    ("refCity{population}>500000", bikes(*range(10))),
    ('owner{name}=="Bo";speed>50', vehicles(7)),
    ("owner{age}", vehicles(*range(10))),
    # linked entities: a type hint, several hops, several objects, targets this hub does not hold
    ("refCity{City:population}>500000", bikes(*range(10))),
    ("refCity{Person:population}>500000", set()),
    ("refCity{Person,City:population}==290000", bikes(*range(10, 20))),
    ("refCity{*:population}==290000", bikes(*range(10, 20))),
    ("owner{livesIn{population}}>500000", vehicles(0, 1, 3, 4, 6, 7, 9)),
    ("owner{Person:livesIn{City:population}}==290000", vehicles(2, 5, 8)),
    ("owner{Person:livesIn{Person:population}}", set()),
    ("refParkingSite{totalSpotNumber}>100", spots(3)),
    ("refParkingSite{totalSpotNumber}==50", spots(*range(10))),
    ("refParkingSite{totalSpotNumber}!=50", spots(3)),  # site :3 holds another value; :a and :7 do not count
    ("refParkingSite{name}", set()),
    ("refCity{refCity}", set()),  # a City has no refCity
    ("name{population}", set()),  # a Property is no Relationship to follow
    ('owner{name}=="Bo"|refCity{population}<300000', vehicles(1, 4, 7) | bikes(*range(10, 20))),
    ("owner{name}~=^(Ann|Cy)$;owner{age}>=50", vehicles(2, 5, 8)),
    # regular expressions
    ("name~=^Station 1", bikes(1, *range(10, 20))),
    ('name~="(?i)^station 1[0-2]$"', bikes(10, 11, 12)),
    ("name~=(Ann|Bo)$", {"urn:ngsi-ld:Person:0", "urn:ngsi-ld:Person:1"}),
    ("name!~=Station", {f"urn:ngsi-ld:Person:{i}" for i in range(3)}),
    ("description~=^x{255}", sensors(0)),
    ('description~="the end"', set()),  # texts are indexed by their first 512 characters
    ("refCity~=bergen", set()),
    # language maps: any language, or one by key
    ('label=="Måler 3"', sensors(3)),
    ('label[nb]=="Måler 3"', sensors(3)),
    ('label[en]=="Måler 3"', set()),
]


@pytest.mark.parametrize(("q", "expected"), CASES, ids=[case[0] for case in CASES])
def test_query_selects_exactly(loaded: Database, q: str, expected: set[str]) -> None:
    assert ids(loaded, q) == expected


PORTABLE_PATTERNS = [
    "^Station 1",
    "(?i)^station",
    "[0-9]$",
    "\\d{2}",
    "^(Ann|Bo)$",
    "n{2}",
    "[^a-z ]",
    "Sta.ion",
    "\\s",
    "\\w+ \\d",
    "^[A-C][a-z]?$",
    "x|y|o",
    "(?:on )1[5-9]$",
    "[]-]|\\.",
]


@pytest.mark.parametrize("pattern", PORTABLE_PATTERNS)
def test_regexes_mean_the_same_on_the_database_as_in_python(loaded: Database, pattern: str) -> None:
    names = {e["id"]: e["name"]["value"] for e in corpus() if "name" in e}
    quoted = pattern.replace("\\", "\\\\").replace('"', '\\"')
    assert ids(loaded, f'name~="{quoted}"') == {i for i, name in names.items() if re.search(pattern, name)}
    assert ids(loaded, f'name!~="{quoted}"') == {i for i, name in names.items() if not re.search(pattern, name)}


# Names of the corpus, so that generated queries meet real rows of every kind.
CORPUS_NAMES = st.sampled_from(
    [
        "availableBikeNumber",
        "status",
        "address",
        "addressLocality",
        "name",
        "refCity",
        "population",
        "services",
        "observedAt",
        "unitCode",
        "temperature",
        "reliability",
        "label",
        "nb",
        "opensAt",
        "lastService",
        "speed",
    ]
)


@settings(max_examples=150, deadline=None, suppress_health_check=[HealthCheck.function_scoped_fixture])
@given(queries(CORPUS_NAMES, st.sampled_from(["City", "Person", "ParkingSite", "Vehicle"])))
def test_any_generated_query_compiles_and_runs(loaded: Database, node: Node) -> None:
    """Whatever the parser accepts runs on the database (the data are only read here)."""
    outcome = _run(loaded, node)
    if isinstance(outcome, str):
        assert "goes deeper than the attribute index" in outcome
    else:
        assert outcome <= {e["id"] for e in corpus()}


def _run(db: Database, node: Node) -> set[str] | str:
    """The ids a query selects, or the detail of OperationNotSupported for paths deeper than the index."""
    try:
        condition = compile_q(node, entities_table=entities)
    except OperationNotSupported as exc:
        return exc.detail
    with db.connect() as conn:
        return set(conn.execute(select(entities.c.id).where(entities.c.tenant == T1, condition)).scalars())


def test_terms_are_correlated_with_the_tenant(loaded: Database) -> None:
    assert ids(loaded, "availableBikeNumber>=100", tenant=T1) == set()
    assert ids(loaded, "availableBikeNumber>=100", tenant=T2) == bikes(0, 1, 2)
    with loaded.connect() as conn:
        stmt = select(entities.c.tenant, entities.c.id).where(
            compile_q(parse_q("availableBikeNumber==1"), entities_table=entities)
        )
        assert {tuple(row) for row in conn.execute(stmt)} == {(T1, *bikes(1))}


def test_linked_targets_in_another_tenant_count_only_in_the_federated_view(loaded: Database) -> None:
    """The bikes of T2 point to cities held in T1 only: found when the targets may be in any tenant."""
    condition = compile_q(parse_q("refCity{population}>500000"), entities_table=entities, targets=(T1, T2))
    stmt = select(entities.c.tenant, entities.c.id).where(condition)
    with loaded.connect() as conn:
        found = {tuple(row) for row in conn.execute(stmt)}
    assert found == {(T1, b) for b in bikes(*range(10))} | {(T2, b) for b in bikes(0, 1, 2)}
    assert ids(loaded, "refCity{population}>500000", tenant=T2) == set()  # same tenant: T2 holds no city
    none = compile_q(parse_q("refCity{population}"), entities_table=entities, targets=())
    with loaded.connect() as conn:
        assert conn.execute(select(entities.c.id).where(none)).all() == []


def test_an_id_held_in_several_tenants_is_followed_to_the_first_as_join_does(loaded: Database) -> None:
    """Federated, the target is the copy ``join`` would show: the first tenant in order that holds the id."""
    with loaded.begin() as conn:
        store(conn, T2, [{"id": "urn:ngsi-ld:City:bergen", "type": "City", "population": prop(900000)}])
    federated = compile_q(parse_q("refCity{population}>800000"), entities_table=entities, targets=(T1, T2))
    with loaded.connect() as conn:
        assert conn.execute(select(entities.c.id).where(federated)).all() == []  # T1's Bergen has 290,000
    assert ids(loaded, "refCity{population}>800000", tenant=T2) == set()  # T2's bikes point to Oslo
    with loaded.begin() as conn:
        conn.execute(
            update(entities)
            .where(entities.c.tenant == T1, entities.c.id == "urn:ngsi-ld:City:bergen")
            .values(removed=True)
        )
    with loaded.connect() as conn:  # a removed copy is skipped: T2's is now the first
        assert set(conn.execute(select(entities.c.id).where(federated)).scalars()) == bikes(*range(10, 20))


def test_a_removed_target_is_not_followed(loaded: Database) -> None:
    with loaded.begin() as conn:
        conn.execute(update(entities).where(entities.c.id == "urn:ngsi-ld:City:bergen").values(removed=True))
    assert ids(loaded, "refCity{population}") == bikes(*range(10))


def test_a_type_hint_matches_a_target_with_several_types(loaded: Database) -> None:
    """An entity with several types stores its type set (``ngsi.tables.type_sets``); a hint names one member."""
    with loaded.begin() as conn:
        conn.execute(update(entities).where(entities.c.id == "urn:ngsi-ld:City:oslo").values(type="City,Kommune"))
        conn.execute(insert(type_sets), [{"type_set": "City,Kommune", "member": m} for m in ("City", "Kommune")])
    assert ids(loaded, "refCity{Kommune:population}") == bikes(*range(10))
    assert ids(loaded, "refCity{City:population}") == bikes(*range(20))
    assert ids(loaded, "refCity{Fylke,Kommune:population}") == bikes(*range(10))


def test_a_linked_term_is_answered_from_indexes(loaded: Database) -> None:
    """Each hop is a lookup on index keys: no table is scanned for the Relationship or its target, also in the
    federated view (the target's tenant one of a list, so the entities' key still applies)."""
    for targets in (None, (T1, T2)):
        condition = compile_q(
            parse_q("owner{Person:livesIn{population}}>500000"), entities_table=entities, targets=targets
        )
        stmt = select(entities.c.id).where(entities.c.tenant == T1, entities.c.type == "Vehicle", condition)
        with loaded.begin() as conn:
            sql = str(stmt.compile(conn, compile_kwargs={"literal_binds": True}))
            if loaded.dialect == "sqlite":
                plan = [row[-1] for row in conn.exec_driver_sql(f"EXPLAIN QUERY PLAN {sql}")]
            else:  # on a few rows the planner would rather scan: ask whether an index serves every lookup
                conn.exec_driver_sql("SET LOCAL enable_seqscan = off")
                plan = [row[0].strip() for row in conn.exec_driver_sql(f"EXPLAIN {sql}")]
        if loaded.dialect == "sqlite":
            assert [step for step in plan if step.startswith("SCAN")] == [], plan
            lookups = "ix_ngsi_attr_index_tenant_entity_id (tenant=? AND entity_id=? AND attr=?)"
            assert sum(lookups in step for step in plan) == 3, plan
            # the targets by key, and federated whether a tenant before the target's holds the id too
            assert sum("(tenant=? AND id=?)" in step for step in plan) == (2 if targets is None else 4), plan
            continue
        assert not any("Seq Scan" in step for step in plan), plan
        scans = [i for i, step in enumerate(plan) if "Index Scan" in step or "Index Only Scan" in step]
        assert all(plan[i + 1].startswith("Index Cond:") for i in scans), plan  # lookups, not walks of an index
        if targets is not None:
            assert sum("(tenant)::text = ANY ('{t1,t2}'" in step for step in plan) == 4, plan


def test_rewriting_an_entity_replaces_its_rows(loaded: Database) -> None:
    changed = {**bike(1), "availableBikeNumber": prop(42)}
    with loaded.begin() as conn:
        write_index(conn, T1, [changed["id"]], index_rows(changed))
    assert ids(loaded, "availableBikeNumber==42") == bikes(1)
    assert ids(loaded, "availableBikeNumber==1") == set()
    assert ids(loaded, "availableBikeNumber.observedAt") == bikes(*range(2, 20), 0)  # 1 lost its observedAt


def test_paths_deeper_than_the_index_are_not_supported(loaded: Database) -> None:
    with pytest.raises(OperationNotSupported, match=r"address\[a\.b\] goes deeper than the attribute index"):
        ids(loaded, 'address[a.b]=="x"')
    with pytest.raises(OperationNotSupported, match=r"a\.b\.c goes deeper"):
        ids(loaded, "a.b.c")


def test_a_hand_built_ast_with_a_bad_regex_is_refused_at_compile_time() -> None:
    with pytest.raises(BadRequestData, match=r"nested repeat '\(a\+\)\+'"):
        compile_q(Match(AttrPath("name"), "(a+)+$"), entities_table=entities)


def test_register_sqlite_functions_gives_regexp_null_for_non_text() -> None:
    raw = sqlite3.connect(":memory:")
    register_sqlite_functions(raw)
    rows = raw.execute("SELECT 'Oslo' REGEXP '^O', 'Bergen' REGEXP '^O', 5 REGEXP '5', NULL REGEXP 'x'").fetchone()
    raw.close()
    assert rows == (1, 0, None, None)


def _bulk(db: Database, count: int) -> None:
    with db.begin() as conn:
        for start in range(0, count, 10_000):
            batch = [
                {
                    "id": f"urn:ngsi-ld:BikeHireDockingStation:{i:06d}",
                    "type": "BikeHireDockingStation",
                    "availableBikeNumber": prop(i % 50, observedAt="2024-05-01T10:00:00Z"),
                    "status": prop("working" if i % 7 else "outOfService"),
                }
                for i in range(start, min(start + 10_000, count))
            ]
            store(conn, T1, batch)


@pytest.mark.slow
def test_timing_of_a_numeric_q_over_100k_entities_on_sqlite(tmp_path: Path) -> None:
    """Not an assertion on speed: prints the order of magnitude (run with -s to see it)."""
    db = Database(f"sqlite:///{tmp_path / 'big.db'}")
    db.upgrade()
    started = clock.perf_counter()
    _bulk(db, 100_000)
    loaded_in = clock.perf_counter() - started
    condition = compile_q(parse_q('availableBikeNumber>47;status=="working"'), entities_table=entities)
    where = (entities.c.tenant == T1, entities.c.removed.is_(False), condition)
    with db.connect() as conn:
        conn.exec_driver_sql("ANALYZE")
        started = clock.perf_counter()
        page = conn.execute(select(entities.c.id).where(*where).order_by(entities.c.id).limit(20)).scalars().all()
        paged_in = clock.perf_counter() - started
        started = clock.perf_counter()
        total = conn.execute(select(func.count()).select_from(entities).where(*where)).scalar_one()
        counted_in = clock.perf_counter() - started
    db.dispose()
    expected = sum(1 for i in range(100_000) if i % 50 > 47 and i % 7)
    assert (total, len(page)) == (expected, 20)
    print(
        f"\n100k entities, 300k index rows: loaded in {loaded_in:.1f} s; first page of 20 in {paged_in * 1000:.1f} ms;"
        f" count of {total} matches in {counted_in * 1000:.1f} ms"
    )


def test_compiled_q_texts_are_kept_and_errors_are_raised_every_time() -> None:
    first = compile_q_text('availableBikeNumber>5;status=="working"', entities)
    assert compile_q_text('availableBikeNumber>5;status=="working"', entities) is first
    assert str(first) == str(compile_q(parse_q('availableBikeNumber>5;status=="working"'), entities_table=entities))
    # equal-looking values of different types are different texts, never one cached condition
    assert str(compile_q_text("flag==true", entities)) != str(compile_q_text("flag==1", entities))
    for _ in range(2):
        with pytest.raises(BadRequestData):
            compile_q_text("a>>5", entities)
