"""Security headers and CORS (api/middleware.py)."""

from __future__ import annotations

from collections.abc import AsyncIterator

import httpx
import pytest

from api.app import create_app
from api.state import HubState
from hub.settings import Settings

pytestmark = pytest.mark.anyio
PARTNER = "https://partner.example"
STRANGER = "https://evil.example"


@pytest.fixture
def settings(settings: Settings) -> Settings:
    """NGSI-LD writes without a key, as a broker behind an access proxy (where the hub has keys, this setting
    lets anonymous writes through; the limits apply the same either way)."""
    return settings.model_copy(update={"anonymous_writes": True})


@pytest.fixture
async def cors_api(settings: Settings, hub: HubState) -> AsyncIterator[httpx.AsyncClient]:
    app = create_app(settings.model_copy(update={"cors_origins": [PARTNER]}), state=hub)
    async with httpx.AsyncClient(transport=httpx.ASGITransport(app=app), base_url="http://hub.test") as client:
        yield client


@pytest.mark.parametrize("path", ["/api/v1/sources", "/no/such/page", "/ngsi-ld/v1/entities"])
async def test_every_response_carries_the_security_headers(api: httpx.AsyncClient, path: str) -> None:
    response = await api.get(path)
    assert response.headers["x-content-type-options"] == "nosniff"
    assert response.headers["referrer-policy"] == "strict-origin-when-cross-origin"
    assert response.headers["x-frame-options"] == "DENY"
    assert response.headers["content-security-policy"] == "default-src 'none'; frame-ancestors 'none'"


async def test_html_pages_get_a_csp_and_the_docs_may_load_swagger_ui(api: httpx.AsyncClient) -> None:
    docs = await api.get("/docs")
    assert docs.status_code == 200
    assert docs.headers["content-type"].startswith("text/html")
    csp = docs.headers["content-security-policy"]
    assert "frame-ancestors 'none'" in csp
    assert "script-src 'self' 'unsafe-inline' https://cdn.jsdelivr.net" in csp
    assert "cdn.jsdelivr.net/npm/swagger-ui-dist" in docs.text  # the CSP allows what the page loads


async def test_reads_are_open_to_every_origin(api: httpx.AsyncClient) -> None:
    response = await api.get("/api/v1/sources", headers={"Origin": STRANGER})
    assert response.status_code == 200
    assert response.headers["access-control-allow-origin"] == "*"
    assert "NGSILD-Results-Count" in response.headers["access-control-expose-headers"]
    assert "access-control-allow-credentials" not in response.headers
    preflight = await api.options(
        "/ngsi-ld/v1/entities",
        headers={"Origin": STRANGER, "Access-Control-Request-Method": "GET", "Access-Control-Request-Headers": "link"},
    )
    assert preflight.status_code == 204
    assert preflight.headers["access-control-allow-methods"] == "GET, HEAD"
    assert preflight.headers["access-control-allow-headers"] == "link"
    plain = await api.get("/api/v1/sources")
    assert "access-control-allow-origin" not in plain.headers  # no Origin, no CORS


async def test_cross_origin_writes_only_from_allowed_origins(cors_api: httpx.AsyncClient) -> None:
    body = {"id": "urn:ngsi-ld:Thing:x:1", "type": "Thing"}
    refused = await cors_api.post("/ngsi-ld/v1/entities", json=body, headers={"Origin": STRANGER})
    assert refused.status_code == 403
    assert refused.json()["type"] == "https://nordhub.eu/problems/cross-origin-refused"
    assert STRANGER in refused.json()["detail"]
    ask = {"Origin": STRANGER, "Access-Control-Request-Method": "POST"}
    assert (await cors_api.options("/ngsi-ld/v1/entities", headers=ask)).status_code == 403
    partner = await cors_api.post("/ngsi-ld/v1/entities", json=body, headers={"Origin": PARTNER})
    assert partner.status_code == 201
    assert partner.headers["access-control-allow-origin"] == PARTNER
    assert partner.headers["vary"] == "Origin"
    preflight = await cors_api.options("/ngsi-ld/v1/entities", headers={**ask, "Origin": PARTNER})
    assert preflight.status_code == 204
    assert "POST" in preflight.headers["access-control-allow-methods"]
    own = await cors_api.delete("/ngsi-ld/v1/entities/urn:ngsi-ld:Thing:x:1", headers={"Origin": "http://hub.test"})
    assert own.status_code == 204  # same origin as the request
    scripted = await cors_api.post("/ngsi-ld/v1/entities", json=body)
    assert scripted.status_code == 201  # no Origin: not a browser, not CORS's business
