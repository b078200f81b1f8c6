"""The API shell: health, OpenAPI, and one error shape on every error path."""

from __future__ import annotations

import httpx
import pytest
from fastapi import FastAPI

from api.app import create_app
from api.state import HubState
from hub.db import Database
from hub.errors import PROBLEM_BASE
from hub.settings import Settings

pytestmark = pytest.mark.anyio
PROBLEM_KEYS = {"type", "title", "status", "detail", "instance"}


async def test_health_reports_database_migrations_and_scheduler(api: httpx.AsyncClient, db: Database) -> None:
    response = await api.get("/health")
    assert response.status_code == 200
    body = response.json()
    assert body["status"] == "ok"
    assert body["database"]["reachable"] is True
    assert body["database"]["migrations_current"] is True
    assert body["database"]["revision"] == db.head_revision()
    assert body["scheduler"] == {"enabled": False, "running": False, "jobs": 0}


async def test_health_is_503_when_migrations_are_missing(settings: Settings, hub: HubState) -> None:
    hub.db.downgrade("base")
    app = create_app(settings, state=hub)
    async with httpx.AsyncClient(transport=httpx.ASGITransport(app=app), base_url="http://hub.test") as client:
        response = await client.get("/health")
    assert response.status_code == 503
    assert response.json()["database"]["migrations_current"] is False
    await hub.harvester.aclose()
    await hub.harvester.client.aclose()


async def test_health_is_503_when_database_unreachable(settings: Settings, hub: HubState) -> None:
    hub.db = Database("postgresql+psycopg://nobody@127.0.0.1:1/none?connect_timeout=2")
    app = create_app(settings, state=hub)
    async with httpx.AsyncClient(transport=httpx.ASGITransport(app=app), base_url="http://hub.test") as client:
        response = await client.get("/health")
    body = response.json()
    assert response.status_code == 503
    assert body["database"]["reachable"] is False
    assert "cannot connect to database" in body["database"]["error"]
    await hub.harvester.aclose()
    await hub.harvester.client.aclose()


async def test_openapi_and_docs(api: httpx.AsyncClient) -> None:
    spec = (await api.get("/openapi.json")).json()
    assert spec["info"]["title"] == "Nordhub"
    assert "/ngsi-ld/v1/entities" in spec["paths"]
    assert "/health" in spec["paths"]
    assert (await api.get("/docs")).status_code == 200


@pytest.mark.parametrize(
    ("path", "status", "problem_type"),
    [
        ("/nothing-here", 404, PROBLEM_BASE + "not-found"),
        ("/ngsi-ld/v1/nothing", 404, "https://uri.etsi.org/ngsi-ld/errors/ResourceNotFound"),
        ("/ngsi-ld/v1/entities?type=X&offset=-1", 400, "https://uri.etsi.org/ngsi-ld/errors/BadRequestData"),
    ],
)
async def test_every_error_path_has_the_problem_shape(
    api: httpx.AsyncClient, path: str, status: int, problem_type: str
) -> None:
    response = await api.get(path)
    assert response.status_code == status
    assert response.headers["content-type"] == "application/problem+json"
    body = response.json()
    assert set(body) == PROBLEM_KEYS
    assert body["type"] == problem_type
    assert body["status"] == status


async def test_unexpected_errors_are_500_problems_without_internals(settings: Settings, hub: HubState) -> None:
    app: FastAPI = create_app(settings, state=hub)

    @app.get("/boom")
    def boom() -> None:
        raise RuntimeError("secret internals")

    transport = httpx.ASGITransport(app=app, raise_app_exceptions=False)
    async with httpx.AsyncClient(transport=transport, base_url="http://hub.test") as client:
        response = await client.get("/boom")
    assert response.status_code == 500
    assert response.headers["content-type"] == "application/problem+json"
    assert "secret" not in response.text
    assert response.json()["type"] == PROBLEM_BASE + "internal-error"
    await hub.harvester.aclose()
    await hub.harvester.client.aclose()
