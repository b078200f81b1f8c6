"""Property-based tests of the NGSI-LD structural rules: random valid entities pass, single mutations fail with the
expected rule (and the fast RecordValidator path agrees with the detailed walk)."""

from __future__ import annotations

import copy
from collections.abc import Callable
from datetime import UTC
from typing import Any

from hypothesis import given, settings
from hypothesis import strategies as st

from schemas.findings import Severity
from schemas.ngsild import check_entity
from schemas.records import RecordValidator
from schemas.sdm import SdmValidator

NAMES = st.from_regex(r"[a-z][A-Za-z0-9_]{0,15}", fullmatch=True).filter(
    lambda n: n not in {"id", "type", "scope", "createdAt", "modifiedAt", "deletedAt"}
)
INSTANT = st.datetimes(timezones=st.just(UTC)).map(
    lambda d: d.replace(microsecond=0).isoformat().replace("+00:00", "Z")
)
SCALAR = st.one_of(
    st.integers(-(10**6), 10**6),
    st.floats(allow_nan=False, allow_infinity=False, width=32),
    st.text(max_size=20),
    st.booleans(),
)
URI = st.from_regex(r"urn:ngsi-ld:[A-Z][a-z]{1,8}:[a-z0-9]{1,8}", fullmatch=True)
POINT = st.tuples(st.floats(-180, 180), st.floats(-90, 90)).map(lambda c: {"type": "Point", "coordinates": list(c)})


def _property() -> st.SearchStrategy[dict[str, Any]]:
    plain = st.builds(lambda v: {"type": "Property", "value": v}, SCALAR)
    observed = st.builds(lambda v, t: {"type": "Property", "value": v, "observedAt": t}, SCALAR, INSTANT)
    geo = st.builds(lambda p: {"type": "GeoProperty", "value": p}, POINT)
    rel = st.builds(lambda o: {"type": "Relationship", "object": o}, URI)
    lang = st.builds(lambda t: {"type": "LanguageProperty", "languageMap": {"nb": t, "en": t}}, st.text(max_size=10))
    return st.one_of(plain, observed, geo, rel, lang)


ENTITIES = st.builds(
    lambda entity_id, kind, attrs: {"id": entity_id, "type": kind, **attrs},
    URI,
    st.from_regex(r"[A-Z][A-Za-z]{2,20}", fullmatch=True),
    st.dictionaries(NAMES, _property(), max_size=8),
)

Mutation = Callable[[dict[str, Any]], None]
MUTATIONS: list[tuple[str, Mutation]] = [
    ("ngsild.id", lambda e: e.update(id="not a uri")),
    ("ngsild.type", lambda e: e.update(type="")),
    ("ngsild.attribute-name", lambda e: e.update({"two words": {"type": "Property", "value": 1}})),
    ("ngsild.attribute-type", lambda e: e.update(extra={"type": "Proprety", "value": 1})),
    ("ngsild.attribute-value", lambda e: e.update(extra={"type": "Property", "valeu": 1})),
    ("ngsild.relationship-object", lambda e: e.update(extra={"type": "Relationship", "object": "nowhere"})),
    ("ngsild.datetime", lambda e: e.update(extra={"type": "Property", "value": 1, "observedAt": "yesterday"})),
    (
        "ngsild.naive-datetime",
        lambda e: e.update(extra={"type": "Property", "value": 1, "observedAt": "2024-05-01T10:00:00"}),
    ),
    ("ngsild.dataset-id", lambda e: e.update(extra={"type": "Property", "value": 1, "datasetId": "ds 1"})),
]


@settings(max_examples=150, deadline=None)
@given(ENTITIES)
def test_random_valid_entities_pass(entity: dict[str, Any]) -> None:
    findings = check_entity(entity)
    assert [f for f in findings if f.severity is not Severity.INFO] == []
    assert RecordValidator(SdmValidator(None)).check(entity) == findings


@settings(max_examples=150, deadline=None)
@given(ENTITIES, st.sampled_from(MUTATIONS))
def test_one_mutation_fails_with_its_rule(entity: dict[str, Any], mutation: tuple[str, Mutation]) -> None:
    rule, mutate = mutation
    broken = copy.deepcopy(entity)
    mutate(broken)
    findings = check_entity(broken)
    assert rule in {f.rule for f in findings}, (rule, findings)
    assert RecordValidator(SdmValidator(None)).check(broken) == findings
