"""GET /entities reads its parameters by hand (api/ngsild_params.py): typed values, 400s, and the OpenAPI table."""

from __future__ import annotations

import inspect
import re

import httpx
import pytest

from api.ngsild_params import ENTITY_QUERY
from api.routers import ngsild
from tests.api.conftest import KIOSK, SHOP

pytestmark = [pytest.mark.anyio, pytest.mark.anonymous_writes]
ENTITIES = "/ngsi-ld/v1/entities"
ETSI = "https://uri.etsi.org/ngsi-ld/errors/"


@pytest.mark.parametrize(
    ("params", "where"),
    [
        ({"type": "Shop", "limit": "ten"}, "'limit'"),
        ({"type": "Shop", "limit": "1_0"}, "'limit'"),
        ({"type": "Shop", "offset": "-1"}, "'offset'"),
        ({"type": "Shop", "offset": str(2**63)}, "'offset'"),
        ({"type": "Shop", "count": "maybe"}, "'count'"),
        ({"type": "Shop", "local": "2"}, "'local'"),
    ],
)
async def test_bad_values_are_400_naming_the_parameter(
    api: httpx.AsyncClient, params: dict[str, str], where: str
) -> None:
    response = await api.get(ENTITIES, params=params)
    assert response.status_code == 400
    assert response.json()["type"] == ETSI + "BadRequestData"
    assert where in response.json()["detail"]


async def test_values_are_typed_and_a_repeat_is_refused(api: httpx.AsyncClient, seeded: None) -> None:
    counted = await api.get(ENTITIES, params={"type": "Shop", "count": "Yes", "limit": " 1 "})
    assert counted.status_code == 200, counted.text
    assert counted.headers["NGSILD-Results-Count"] == "2"
    assert [e["id"] for e in counted.json()] == [SHOP]  # ordered by id
    once = await api.get(f"{ENTITIES}?type=Shop&limit=1&offset=1&count=off")
    assert [e["id"] for e in once.json()] == [KIOSK]
    assert "NGSILD-Results-Count" not in once.headers
    repeated = await api.get(f"{ENTITIES}?type=Shop&limit=5&limit=1")  # which one was meant?
    assert repeated.status_code == 400
    assert repeated.json()["detail"] == "query parameter 'limit' is given 2 times: give it once"


async def test_openapi_describes_every_parameter_read(api: httpx.AsyncClient) -> None:
    operation = (await api.get("/openapi.json")).json()["paths"][ENTITIES]["get"]
    described = {(p["name"], p["in"]) for p in operation["parameters"]}
    # the table, and the Link of the request's @context (read by api.ld.request_context)
    assert described == {(p.name, p.location) for p in ENTITY_QUERY} | {("Link", "header")}
    assert len(operation["parameters"]) == len(ENTITY_QUERY) + 1
    offset = next(p for p in operation["parameters"] if p["name"] == "offset")
    assert offset["schema"] == {
        "type": "integer",
        "default": 0,
        "minimum": 0,
        "maximum": 2**63 - 1,
        "description": "Entities to skip (0 or more)",
        "title": "Offset",
    }
    tenant = next(p for p in operation["parameters"] if p["name"] == "NGSILD-Tenant")
    assert tenant["in"] == "header"
    assert tenant["schema"]["anyOf"] == [{"type": "string"}, {"type": "null"}]


def test_the_route_reads_only_the_table() -> None:
    """Every ``p[...]`` the route looks up is a parameter of the table (a typo would be a KeyError, a 500)."""
    source = inspect.getsource(ngsild.query_entities)
    names = {p.name for p in ENTITY_QUERY}
    used = set(re.findall(r'p\["([^"]+)"\]', source))
    assert used
    assert used <= names
