"""The error path of last resort (api/problems.py): an unexpected exception is a generic 500 problem."""

from __future__ import annotations

import logging

import httpx
import pytest

from api.app import create_app
from api.state import HubState
from hub.settings import Settings

pytestmark = pytest.mark.anyio
SECRET = "password=hunter2 in /srv/nordhub/secret.py"


async def test_an_unhandled_error_is_a_generic_500_without_a_trace(
    settings: Settings, hub: HubState, caplog: pytest.LogCaptureFixture
) -> None:
    app = create_app(settings, state=hub)

    def broken() -> None:
        raise RuntimeError(SECRET)

    app.add_api_route("/api/v1/broken", broken)
    app.add_api_route("/ngsi-ld/v1/broken", broken)
    transport = httpx.ASGITransport(app=app, raise_app_exceptions=False)
    async with httpx.AsyncClient(transport=transport, base_url="http://hub.test") as api:
        with caplog.at_level(logging.ERROR, logger="api.problems"):
            response = await api.get("/api/v1/broken")
            ngsi = await api.get("/ngsi-ld/v1/broken")
    assert response.status_code == 500
    assert response.headers["content-type"] == "application/problem+json"
    assert response.json() == {
        "type": "https://nordhub.eu/problems/internal-error",
        "title": "Internal error",
        "status": 500,
        "detail": "the hub failed to answer this request; the error is in its log",
        "instance": "/api/v1/broken",
    }
    assert ngsi.json()["type"] == "https://uri.etsi.org/ngsi-ld/errors/InternalError"
    for body in (response.text, ngsi.text):
        assert "hunter2" not in body
        assert "Traceback" not in body
        assert "RuntimeError" not in body
    assert "hunter2" in caplog.text  # the operator finds it in the log
