"""q on attributes named by a full IRI with dots (clause 4.9): the IRI is one attribute name, not split at the dots
of its host or path; dots after its last '/' or '#' name sub-attributes, and a quoted name keeps every dot."""

from __future__ import annotations

from typing import Any

import httpx
import pytest

pytestmark = [pytest.mark.anyio, pytest.mark.anonymous_writes]

E = "/ngsi-ld/v1/entities"
SPEED = "https://example.org/ns/speed"
VERSIONED = "https://example.org/ns/v1.2"
CORE_SPEED = "https://uri.etsi.org/ngsi-ld/default-context/speed"
FAST, SLOW = "urn:ngsi-ld:Car:iri:1", "urn:ngsi-ld:Car:iri:2"


def _prop(value: Any, **extra: Any) -> dict[str, Any]:
    return {"type": "Property", "value": value, **extra}


@pytest.fixture
async def cars(api: httpx.AsyncClient) -> None:
    for entity in (
        {
            "id": FAST,
            "type": "Car",
            SPEED: _prop(9, observedAt="2024-01-02T00:00:00Z"),
            VERSIONED: _prop(5),
            "speed": _prop(90),
        },
        {"id": SLOW, "type": "Car", SPEED: _prop(2, observedAt="2024-01-01T00:00:00Z"), "speed": _prop(20)},
    ):
        response = await api.post(E, json=entity)
        assert response.status_code == 201, response.text


async def _ids(api: httpx.AsyncClient, q: str) -> list[str]:
    response = await api.get(E, params={"type": "Car", "q": q})
    assert response.status_code == 200, response.text
    return [e["id"] for e in response.json()]


@pytest.mark.parametrize(
    ("q", "expected"),
    [
        (f"{SPEED}>3", [FAST]),
        (f"{SPEED}<3", [SLOW]),
        (SPEED, [FAST, SLOW]),
        (f"{SPEED}.observedAt>=2024-01-02T00:00:00Z", [FAST]),  # the dot after the last '/' names a sub-attribute
        (f"!{SPEED}.observedAt", []),
        (f'"{VERSIONED}"==5', [FAST]),  # quoted: every dot is the name's
        (f'"{VERSIONED}";{SPEED}>1', [FAST]),
        (f"{CORE_SPEED}>50", [FAST]),  # the core @vocab IRI of a short name is that name
        (f"({CORE_SPEED}>50|{SPEED}==2);{SPEED}", [FAST, SLOW]),
    ],
)
async def test_an_iri_is_one_attribute_name(api: httpx.AsyncClient, cars: None, q: str, expected: list[str]) -> None:
    assert await _ids(api, q) == expected


async def test_an_unquoted_dot_in_the_last_segment_starts_a_sub_attribute(api: httpx.AsyncClient, cars: None) -> None:
    response = await api.get(E, params={"type": "Car", "q": f"{VERSIONED}==5"})
    assert response.status_code == 400
    assert response.json()["type"] == "https://uri.etsi.org/ngsi-ld/errors/BadRequestData"
    assert response.json()["detail"].startswith("q: unexpected '2' at position 26, expected a sub-attribute name")


async def test_order_by_takes_an_iri_too(api: httpx.AsyncClient, cars: None) -> None:
    response = await api.get(E, params={"type": "Car", "orderBy": f"{SPEED};desc"})
    assert response.status_code == 200, response.text
    assert [e["id"] for e in response.json()] == [FAST, SLOW]
