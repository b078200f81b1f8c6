"""NGSI-LD request bodies: a member given twice and an integer beyond 64 bits are a 400 naming the place (orjson
would keep the last member and make the integer an inexact float); nothing is stored."""

from __future__ import annotations

from typing import Any

import httpx
import orjson
import pytest

pytestmark = [pytest.mark.anyio, pytest.mark.anonymous_writes]

BAD = "https://uri.etsi.org/ngsi-ld/errors/BadRequestData"
E = "/ngsi-ld/v1/entities"


def _refused(response: httpx.Response, detail: str) -> None:
    assert response.status_code == 400, response.text
    assert response.headers["content-type"].startswith("application/problem+json")
    assert response.json()["type"] == BAD
    assert response.json()["detail"] == detail


def _raw(text: str) -> dict[str, Any]:
    return {"content": text.encode(), "headers": {"Content-Type": "application/json"}}


async def test_duplicate_members_are_refused(api: httpx.AsyncClient) -> None:
    two_x = '{"id":"urn:ngsi-ld:T:n5","type":"T","x":{"type":"Property","value":1},"x":{"type":"Property","value":2}}'
    _refused(await api.post(E, **_raw(two_x)), "duplicate member 'x' at /")
    two_ids = '{"id":"urn:ngsi-ld:T:n6","id":"urn:ngsi-ld:T:n7","type":"T"}'
    _refused(await api.post(E, **_raw(two_ids)), "duplicate member 'id' at /")
    nested = '[{"id":"urn:ngsi-ld:T:n8","type":"T","x":{"type":"Property","value":1,"value":2}}]'
    _refused(await api.post("/ngsi-ld/v1/entityOperations/create", **_raw(nested)), "duplicate member 'value' at /0/x")
    for n in (5, 6, 7, 8):
        assert (await api.get(f"{E}/urn:ngsi-ld:T:n{n}")).status_code == 404
    escaped = '{"id":"urn:ngsi-ld:T:n9","type":"T","x\\u003ay":{"type":"Property","value":"a:b"}}'
    assert (await api.post(E, **_raw(escaped))).status_code == 201  # an escaped colon alone is no duplicate


async def test_integers_beyond_64_bits_are_refused_and_those_within_kept_exact(api: httpx.AsyncClient) -> None:
    big = '{"id":"urn:ngsi-ld:T:big","type":"T","x":{"type":"Property","value":12345678901234567890123}}'
    _refused(
        await api.post(E, **_raw(big)),
        "/x/value: integer 12345678901234567890123 does not fit in 64 bits (send it as a string to keep it exact)",
    )
    assert (await api.get(f"{E}/urn:ngsi-ld:T:big")).status_code == 404
    edge = {"id": "urn:ngsi-ld:T:edge", "type": "T", "x": {"type": "Property", "value": 2**63 - 1}}
    assert (
        await api.post(E, content=orjson.dumps(edge), headers={"Content-Type": "application/json"})
    ).status_code == 201
    assert (await api.get(f"{E}/urn:ngsi-ld:T:edge")).json()["x"]["value"] == 2**63 - 1
    digits_in_a_string = {"id": "urn:ngsi-ld:T:12345678901234567890123", "type": "T"}
    assert (await api.post(E, json=digits_in_a_string)).status_code == 201
