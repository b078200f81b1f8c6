"""Type expressions and scopeQ (ngsi/selectors.py)."""

from __future__ import annotations

import pytest
from sqlalchemy.dialects import postgresql

from hub.errors import BadRequestData
from ngsi.selectors import parse_types, scope_condition


@pytest.mark.parametrize(
    ("text", "expected"),
    [
        ("A", [{"A"}]),
        ("A,B", [{"A"}, {"B"}]),
        ("A|B", [{"A"}, {"B"}]),
        ("A;B", [{"A", "B"}]),
        ("(A;B)", [{"A", "B"}]),
        ("(A;B),C", [{"A", "B"}, {"C"}]),
        ("(A|B);C", [{"A", "C"}, {"B", "C"}]),
        ("A;B|C", [{"A", "B"}, {"C"}]),
        ("A,A", [{"A"}]),
        ("https://example.org/T", [{"https://example.org/T"}]),
    ],
)
def test_type_expressions(text: str, expected: list[set[str]]) -> None:
    assert parse_types(text) == [frozenset(e) for e in expected]


def test_star_is_any_type() -> None:
    assert parse_types("*") is None


@pytest.mark.parametrize(
    ("text", "needle"), [("A;", "expected a type name"), ("(A", "expected ')'"), ("A)", "unexpected ')'")]
)
def test_bad_type_expressions_name_the_position(text: str, needle: str) -> None:
    with pytest.raises(BadRequestData, match=r"position \d") as caught:
        parse_types(text)
    assert needle in caught.value.detail


def test_too_many_alternatives() -> None:
    with pytest.raises(BadRequestData, match="alternatives"):
        parse_types(";".join(f"(A{i}|B{i})" for i in range(8)))


def _sql(text: str) -> str:
    return str(scope_condition(text).compile(dialect=postgresql.dialect(), compile_kwargs={"literal_binds": True}))


def test_scope_terms_become_anchored_patterns() -> None:
    assert "'(^|,)/Nordic/NO(/[^,]*)?(,|$)'" in _sql("/Nordic/NO/#")
    assert "'(^|,)/Nordic/[^/,]+/oslo(,|$)'" in _sql("/Nordic/+/oslo")
    assert "'(^|,)/a[.]b(,|$)'" in _sql("/a.b")  # a dot is literal
    both = _sql("/a;/b")
    assert "'(^|,)/a(,|$)'" in both
    assert "'(^|,)/b(,|$)'" in both
    assert "ngsi_entities.scope = '/a'" in both  # a single stored scope needs no regular expression
    assert "ngsi_entities.scope = '/Nordic/NO'" in _sql("/Nordic/NO/#")
    assert "ngsi_entities.scope = " not in _sql("/Nordic/+/oslo")


@pytest.mark.parametrize(
    ("text", "needle"),
    [
        ("Nordic", "starts with '/'"),
        ("/a/#/b", "'#' can only end"),
        ("/", "expected a scope segment"),
        ("/a b", "unexpected"),
    ],
)
def test_bad_scope_queries(text: str, needle: str) -> None:
    with pytest.raises(BadRequestData) as caught:
        scope_condition(text)
    assert needle in caught.value.detail
