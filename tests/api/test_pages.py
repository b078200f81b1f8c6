"""The officer page: login cookie, the city's sources, runs with report links, the quarantine, escaping and the
security headers; the cookie reads but never writes."""

from __future__ import annotations

import re

import httpx
import pytest

from hub.db import Database
from tests.api.test_authz import quarantined_run
from tests.conftest import KeyMaker

pytestmark = pytest.mark.anyio


async def login(api: httpx.AsyncClient, token: str) -> httpx.Response:
    return await api.post(
        "/pages/login", content=f"key={token}", headers={"Content-Type": "application/x-www-form-urlencoded"}
    )


def assert_secure_page(response: httpx.Response) -> None:
    csp = response.headers["content-security-policy"]
    assert "default-src 'none'" in csp
    assert "frame-ancestors 'none'" in csp
    assert "script-src" not in csp
    assert "unsafe-inline" not in csp
    assert response.headers["x-content-type-options"] == "nosniff"
    assert "<script" not in response.text.lower()


async def test_pages_need_a_key(api: httpx.AsyncClient) -> None:
    response = await api.get("/pages/cities/oslo")
    assert response.status_code == 303
    assert response.headers["location"] == "/pages/login"
    form = await api.get("/pages/login")
    assert form.status_code == 200
    assert 'name="key"' in form.text
    assert_secure_page(form)
    bad = await login(api, "nh_wrong")
    assert bad.status_code == 401
    assert "unknown, revoked or expired" in bad.text
    assert "set-cookie" not in bad.headers


async def test_officer_page_lists_sources_runs_and_quarantine(
    api: httpx.AsyncClient, db: Database, make_key: KeyMaker
) -> None:
    token = make_key("officer", "oslo", label="Kari")
    run_id = quarantined_run(db, "oslo", "oslo-bysykkel-demo", record_id="<script>alert(1)</script>")
    logged_in = await login(api, token)
    assert logged_in.status_code == 303
    assert logged_in.headers["location"] == "/pages/cities/oslo"
    cookie = logged_in.headers["set-cookie"]
    assert "HttpOnly" in cookie
    assert "SameSite=strict" in cookie or "SameSite=Strict" in cookie
    assert "Path=/" in cookie
    page = await api.get("/pages/cities/oslo")  # the client keeps the cookie
    assert page.status_code == 200, page.text
    assert_secure_page(page)
    assert "oslo-bysykkel-demo" in page.text
    assert "oslo-dcat-demo" in page.text
    assert f'href="/api/v1/runs/{run_id}/errors.csv"' in page.text
    assert "succeeded_with_errors" in page.text
    assert "&lt;script&gt;alert(1)&lt;/script&gt;" in page.text  # the quarantined record, escaped
    assert "secret-ish" in page.text
    assert "aarhus-parking-demo" not in page.text
    # the links work with the same cookie: GET reports and the quarantine
    csv = await api.get(f"/api/v1/runs/{run_id}/errors.csv")
    assert csv.status_code == 200
    assert "secret-ish" in csv.text
    # another city's page is refused, with the security headers too
    other = await api.get("/pages/cities/aarhus")
    assert other.status_code == 403
    assert_secure_page(other)
    css = await api.get("/pages/officer.css")
    assert css.headers["content-type"].startswith("text/css")


async def test_the_cookie_never_writes(api: httpx.AsyncClient, make_key: KeyMaker) -> None:
    await login(api, make_key("officer", "oslo"))
    body = {"id": "x-src", "kind": "gbfs", "url": "https://example.org/gbfs.json", "schedule": "every 1h"}
    assert (await api.post("/api/v1/cities/oslo/sources", json=body)).status_code == 401
    entity = {"id": "urn:ngsi-ld:Thing:oslo:1", "type": "Thing"}
    write = await api.post("/ngsi-ld/v1/entities", json=entity, headers={"NGSILD-Tenant": "oslo"})
    assert write.status_code == 401


async def test_revoked_key_logs_the_page_out(api: httpx.AsyncClient, make_key: KeyMaker) -> None:
    admin = {"Authorization": f"Bearer {make_key('admin')}"}
    created = (
        await api.post("/api/v1/keys", json={"role": "officer", "city": "oslo", "label": "K"}, headers=admin)
    ).json()
    await login(api, created["key"])
    assert (await api.get("/pages/cities/oslo")).status_code == 200
    await api.delete(f"/api/v1/keys/{created['id']}", headers=admin)
    after = await api.get("/pages/cities/oslo")
    assert after.status_code == 303
    assert after.headers["location"] == "/pages/login"
    logout = await api.post("/pages/logout")
    assert re.search(r"nordhub_key=(\"\")?;", logout.headers["set-cookie"])


async def test_admin_chooses_a_city(api: httpx.AsyncClient, make_key: KeyMaker) -> None:
    await login(api, make_key("admin"))
    home = await api.get("/pages/")
    assert home.status_code == 200
    assert 'href="/pages/cities/aarhus"' in home.text
    assert (await api.get("/pages/cities/aarhus")).status_code == 200
    assert (await api.get("/pages/cities/atlantis")).status_code == 404
