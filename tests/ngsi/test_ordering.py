"""orderBy / collation / orderFrom parsing (ngsi/ordering.py) and their SQL (ngsi/order_sql.py); the API tests run
them on a database."""

from __future__ import annotations

import pytest
from sqlalchemy import select
from sqlalchemy.dialects import postgresql, sqlite
from sqlalchemy.engine import Dialect

from hub.errors import BadRequestData, OperationNotSupported
from ngsi.order_sql import order_terms, sort_columns
from ngsi.ordering import (
    Collation,
    Direction,
    Ordering,
    OrderKey,
    parse_collation,
    parse_order_by,
    parse_ordering,
)
from ngsi.q import AttrPath


def test_keys_members_paths_and_directions() -> None:
    keys = parse_order_by(" name ,bikes;desc,address[city.zip];asc,bikes.observedAt,location;dist-asc,id;desc")
    assert keys == (
        OrderKey(Direction.ASC, path=AttrPath("name")),
        OrderKey(Direction.DESC, path=AttrPath("bikes")),
        OrderKey(Direction.ASC, path=AttrPath("address", (), ("city", "zip"))),
        OrderKey(Direction.ASC, path=AttrPath("bikes", ("observedAt",))),
        OrderKey(Direction.DIST_ASC, path=AttrPath("location")),
        OrderKey(Direction.DESC, member="id"),
    )
    assert [k.text for k in keys] == ["name", "bikes", "address[city.zip]", "bikes.observedAt", "location", "id"]
    assert parse_order_by(["scope;desc", "createdAt"]) == (
        OrderKey(Direction.DESC, member="scope"),
        OrderKey(Direction.ASC, member="createdAt"),
    )
    assert parse_order_by(None) == ()


@pytest.mark.parametrize(
    ("value", "needle"),
    [
        ("name;ascending", "orderBy: 'ascending' in 'name;ascending' is no sorting style"),
        ("name;", "orderBy: 'name;' has no sorting style after ';'"),
        ("", "orderBy: names no key"),
        (" , ", "orderBy: names no key"),
        ("name,", "orderBy: '' names no entity member or attribute"),
        ("name==3", "orderBy: 'name==3' is not an attribute path"),
        ("a.b.", "orderBy: 'a.b.' is not an attribute path"),
        ("a{b}", "orderBy: 'a{b}': ordering by a linked entity's attribute is not supported"),
        ("type;dist-desc", "orderBy: dist-desc orders by a GeoProperty's distance; 'type' is no GeoProperty"),
        ("a" * 513, "orderBy: a key is at most 512 characters"),
        (5, "orderBy: must be a comma-separated string or an array of strings"),
        (["id", None], "orderBy: every key must be a string"),
    ],
)
def test_bad_keys_name_the_parameter_and_the_problem(value: object, needle: str) -> None:
    with pytest.raises(BadRequestData) as caught:
        parse_order_by(value)  # type: ignore[arg-type]
    assert needle in caught.value.detail


def test_collation_tags() -> None:
    assert parse_collation(None) is Collation.CODEPOINT
    assert parse_collation("und") is Collation.ROOT
    assert parse_collation("ROOT") is Collation.ROOT
    for malformed in ("!!nope", "", "a", "und-", 5):
        with pytest.raises(BadRequestData, match="is not an RFC 6067 collation"):
            parse_collation(malformed)
    for refused in ("sv", "de-u-co-phonebk", "nb-NO"):
        with pytest.raises(BadRequestData, match="is not offered"):
            parse_collation(refused)


def test_ordering_and_its_distance_reference() -> None:
    assert parse_ordering(None) is None
    ordering = parse_ordering("location;dist-desc", "und", "[10.75, 59.91]", "Point")
    assert ordering == Ordering(
        (OrderKey(Direction.DIST_DESC, path=AttrPath("location")),), Collation.ROOT, (10.75, 59.91)
    )
    assert parse_ordering(["location;dist-asc"], origin=[1, 2]) is not None
    with pytest.raises(BadRequestData, match="orderFrom: is required"):
        parse_ordering("location;dist-asc")
    with pytest.raises(BadRequestData, match="orderFrom: only applies with orderBy"):
        parse_ordering(None, origin="[1,2]")
    with pytest.raises(BadRequestData, match="orderGeometry: must be a string"):
        parse_ordering("id", geometry=5)
    with pytest.raises(BadRequestData, match=r"orderFrom: \[1,true\] is not a position"):
        parse_ordering("location;dist-asc", origin="[1,true]")
    with pytest.raises(OperationNotSupported, match="only from a Point"):
        parse_ordering("location;dist-asc", origin="[[1,2],[3,4]]", geometry="LineString")
    names = ("ordering.orderBy", "ordering.collation", "ordering.coordinates", "ordering.geometry")
    with pytest.raises(BadRequestData, match=r"ordering\.coordinates: is required when ordering\.orderBy orders by"):
        parse_ordering(["location;dist-asc"], names=names)


def test_renamed_translates_attribute_and_sub_attribute_names_not_json_keys() -> None:
    ordering = parse_ordering("bikes.observedAt;desc,address[city],id")
    assert ordering is not None
    renamed = ordering.renamed(lambda name: f"stored:{name}")
    assert [key.path for key in renamed.keys] == [
        AttrPath("stored:bikes", ("stored:observedAt",)),
        AttrPath("stored:address", (), ("city",)),
        None,
    ]
    assert renamed.keys[2].member == "id"


@pytest.mark.parametrize(
    ("dialect", "needles"),
    [
        (postgresql.dialect(), ['COLLATE "und-x-icu"', "jsonb_extract_path", "jsonb_typeof", "sin("]),
        (sqlite.dialect(), ["COLLATE nordhub_und", "json_type", "selected.doc -> ", "sin("]),
    ],
)
def test_order_terms_compile_for_each_database(dialect: Dialect, needles: list[str]) -> None:
    ordering = parse_ordering("name;desc,location;dist-asc,scope", "und", "[10,60]")
    assert ordering is not None
    rows = select(*sort_columns(dialect.name)).subquery("selected")
    statement = select(rows.c.id).order_by(*order_terms(ordering, dialect.name, rows.c))
    sql = str(statement.compile(dialect=dialect, compile_kwargs={"literal_binds": True}))
    for needle in needles:
        assert needle in sql
    assert sql.count(" DESC") >= 3  # name's rank, number and text all descend
    if dialect.name == "postgresql":  # the stored JSON becomes jsonb once, in the subquery, not per expression
        assert sql.count("CAST(ngsi_entities.data AS JSONB)") == 1
    codepoint = parse_ordering("name")
    assert codepoint is not None
    plain = str(select(rows.c.id).order_by(*order_terms(codepoint, dialect.name, rows.c)).compile(dialect=dialect))
    assert ('COLLATE "C"' if dialect.name == "postgresql" else 'COLLATE "BINARY"') in plain
