"""Who may do what: officers act on their own city only, admins on everything, readers read; keys are hashed,
revocation and expiry take effect on the next request, and 401/403 never reveal another city's objects."""

from __future__ import annotations

import hashlib
from datetime import UTC, datetime, timedelta
from typing import Any

import httpx
import pytest
from sqlalchemy import select

from api.app import create_app
from api.state import HubState
from harvester import store as runs
from hub import auth
from hub.auth_tables import auth_keys
from hub.db import Database
from tests.conftest import KeyMaker

pytestmark = pytest.mark.anyio
ETSI = "https://uri.etsi.org/ngsi-ld/errors/"
ENTITIES = "/ngsi-ld/v1/entities"


def parking(city: str, n: int) -> dict[str, Any]:
    return {
        "id": f"urn:ngsi-ld:OffStreetParking:{city}:{n}",
        "type": "OffStreetParking",
        "availableSpotNumber": {"type": "Property", "value": n},
    }


def bearer(token: str) -> dict[str, str]:
    return {"Authorization": f"Bearer {token}"}


def quarantined_run(db: Database, city: str, source: str, record_id: str = "") -> int:
    """A finished run of ``city`` with one invalid item."""
    now = datetime.now(UTC)
    with db.begin() as conn:
        run_id = runs.start_run(conn, source_id=source, city_id=city, kind="gbfs", dry_run=False, now=now)
        finding = {"rule": "gbfs.coordinates", "severity": "error", "pointer": "/lat", "message": "secret-ish"}
        runs.add_items(conn, run_id, [runs.ItemRow(record_id or f"urn:x:{city}:1", runs.ItemStatus.INVALID, [finding])])
        counts = {"invalid": 1}
        runs.finish_run(conn, run_id, status=runs.RunStatus.SUCCEEDED_WITH_ERRORS, now=now, counts=counts, size=1)
    return run_id


async def test_writes_need_a_key_and_a_bad_key_is_401(api: httpx.AsyncClient) -> None:
    missing = await api.post(ENTITIES, json=parking("oslo", 1), headers={"NGSILD-Tenant": "oslo"})
    assert missing.status_code == 401
    assert missing.headers["www-authenticate"].startswith("Bearer")
    assert missing.headers["content-type"] == "application/problem+json"
    assert missing.json()["type"] == "https://nordhub.eu/problems/unauthorized"
    assert missing.headers["ngsild-tenant"] == "oslo"
    bad = await api.post(ENTITIES, json=parking("oslo", 1), headers={"NGSILD-Tenant": "oslo", **bearer("nh_guess")})
    assert bad.status_code == 401
    basic = await api.post(ENTITIES, json=parking("oslo", 1), headers={"Authorization": "Basic b3NsbzpvZmZpY2Vy"})
    assert basic.status_code == 401
    temporal = await api.post("/ngsi-ld/v1/temporal/entities", json=parking("oslo", 1))
    assert temporal.status_code == 401
    assert (await api.delete(f"{ENTITIES}/urn:ngsi-ld:OffStreetParking:oslo:1")).status_code == 401
    batch = await api.post(f"{ENTITIES[:-9]}/entityOperations/upsert", json=[parking("oslo", 1)])
    assert batch.status_code == 401


async def test_officer_writes_only_into_its_own_tenant(api: httpx.AsyncClient, make_key: KeyMaker) -> None:
    oslo = bearer(make_key("officer", "oslo"))
    own = await api.post(ENTITIES, json=parking("oslo", 1), headers={"NGSILD-Tenant": "oslo", **oslo})
    assert own.status_code == 201, own.text
    foreign = await api.post(ENTITIES, json=parking("oslo", 2), headers={"NGSILD-Tenant": "aarhus", **oslo})
    assert foreign.status_code == 403
    assert foreign.json()["type"] == "https://nordhub.eu/problems/forbidden"
    default = await api.post(ENTITIES, json=parking("oslo", 3), headers=oslo)
    assert default.status_code == 403
    assert "NGSILD-Tenant: oslo" in default.json()["detail"]
    admin = bearer(make_key("admin"))
    assert (await api.post(ENTITIES, json=parking("oslo", 3), headers=admin)).status_code == 201
    assert (
        await api.post(ENTITIES, json=parking("aarhus", 3), headers={"NGSILD-Tenant": "aarhus", **admin})
    ).status_code == 201
    # nothing of Oslo's refused writes landed anywhere
    assert (
        await api.get(f"{ENTITIES}/urn:ngsi-ld:OffStreetParking:oslo:2", headers={"NGSILD-Tenant": "aarhus"})
    ).status_code == 404


async def test_403_does_not_say_whether_another_citys_entity_exists(api: httpx.AsyncClient, make_key: KeyMaker) -> None:
    admin, oslo = bearer(make_key("admin")), bearer(make_key("officer", "oslo"))
    aarhus = {"NGSILD-Tenant": "aarhus"}
    assert (await api.post(ENTITIES, json=parking("aarhus", 1), headers={**aarhus, **admin})).status_code == 201
    existing = await api.delete(f"{ENTITIES}/urn:ngsi-ld:OffStreetParking:aarhus:1", headers={**aarhus, **oslo})
    guessed = await api.delete(f"{ENTITIES}/urn:ngsi-ld:OffStreetParking:aarhus:999", headers={**aarhus, **oslo})
    assert existing.status_code == guessed.status_code == 403
    assert existing.json()["detail"] == guessed.json()["detail"]
    patch = await api.patch(
        f"{ENTITIES}/urn:ngsi-ld:OffStreetParking:aarhus:1/attrs",
        json={"availableSpotNumber": {"type": "Property", "value": 0}},
        headers={**aarhus, **oslo},
    )
    assert patch.status_code == 403
    still = await api.get(f"{ENTITIES}/urn:ngsi-ld:OffStreetParking:aarhus:1", headers=aarhus)
    assert still.json()["availableSpotNumber"]["value"] == 1


async def test_officer_cannot_write_another_citys_id_space(api: httpx.AsyncClient, make_key: KeyMaker) -> None:
    oslo = {"NGSILD-Tenant": "oslo", **bearer(make_key("officer", "oslo"))}
    single = await api.post(ENTITIES, json=parking("aarhus", 1), headers=oslo)
    assert single.status_code == 403
    assert "'aarhus'" in single.json()["detail"]
    batch = await api.post(
        "/ngsi-ld/v1/entityOperations/upsert", json=[parking("oslo", 5), parking("aarhus", 5)], headers=oslo
    )
    assert batch.status_code == 207
    body = batch.json()
    assert body["success"] == ["urn:ngsi-ld:OffStreetParking:oslo:5"]
    [error] = body["errors"]
    assert error["entityId"] == "urn:ngsi-ld:OffStreetParking:aarhus:5"
    assert error["error"]["status"] == 403
    deleted = await api.post(
        "/ngsi-ld/v1/entityOperations/delete", json=["urn:ngsi-ld:OffStreetParking:aarhus:5"], headers=oslo
    )
    assert deleted.json()["errors"][0]["error"]["status"] == 403
    temporal = await api.post("/ngsi-ld/v1/temporal/entities", json=parking("aarhus", 6), headers=oslo)
    assert temporal.status_code == 403
    # an id outside every member city's id space is the officer's own business
    other = await api.post(ENTITIES, json={**parking("oslo", 7), "id": "urn:ngsi-ld:Thing:x7"}, headers=oslo)
    assert other.status_code == 201


async def test_revoked_key_stops_working_on_the_next_request(
    api: httpx.AsyncClient, admin_auth: dict[str, str]
) -> None:
    created = await api.post(
        "/api/v1/keys", json={"role": "officer", "city": "oslo", "label": "Kari"}, headers=admin_auth
    )
    assert created.status_code == 201, created.text
    key = bearer(created.json()["key"])
    headers = {"NGSILD-Tenant": "oslo", **key}
    assert (await api.post(ENTITIES, json=parking("oslo", 1), headers=headers)).status_code == 201
    revoked = await api.delete(f"/api/v1/keys/{created.json()['id']}", headers=admin_auth)
    assert revoked.status_code == 200
    assert revoked.json()["active"] is False
    after = await api.post(ENTITIES, json=parking("oslo", 2), headers=headers)
    assert after.status_code == 401
    assert after.json()["detail"] == "the API key is unknown, revoked or expired"


async def test_expired_key_is_401(api: httpx.AsyncClient, db: Database) -> None:
    then = datetime.now(UTC) - timedelta(hours=2)
    with db.begin() as conn:
        _id, token = auth.create_key(
            conn, role=auth.Role.ADMIN, city=None, label="old", now=then, expires_at=then + timedelta(hours=1)
        )
    response = await api.get("/api/v1/keys", headers=bearer(token))
    assert response.status_code == 401


async def test_key_is_shown_once_and_only_its_hash_is_stored(
    api: httpx.AsyncClient, db: Database, admin_auth: dict[str, str]
) -> None:
    created = (await api.post("/api/v1/keys", json={"role": "admin", "label": "ops"}, headers=admin_auth)).json()
    token = created["key"]
    assert token.startswith("nh_")
    assert len(token) >= 3 + 43
    listed = (await api.get("/api/v1/keys", headers=admin_auth)).json()
    [mine] = [k for k in listed if k["id"] == created["id"]]
    assert "key" not in mine
    assert "key_hash" not in mine
    assert token not in str(listed)
    with db.connect() as conn:
        row = conn.execute(select(auth_keys).where(auth_keys.c.id == created["id"])).mappings().one()
    assert row["key_hash"] == hashlib.sha256(token.encode()).hexdigest()
    assert token not in [str(v) for v in row.values()]


async def test_key_management_is_for_admins(api: httpx.AsyncClient, make_key: KeyMaker) -> None:
    oslo = bearer(make_key("officer", "oslo"))
    assert (await api.get("/api/v1/keys")).status_code == 401
    assert (await api.get("/api/v1/keys", headers=oslo)).status_code == 403
    escalate = await api.post("/api/v1/keys", json={"role": "admin", "label": "me"}, headers=oslo)
    assert escalate.status_code == 403
    admin = bearer(make_key("admin"))
    no_city = await api.post("/api/v1/keys", json={"role": "officer", "label": "x"}, headers=admin)
    assert no_city.status_code == 400
    unknown = await api.post("/api/v1/keys", json={"role": "officer", "city": "atlantis", "label": "x"}, headers=admin)
    assert unknown.status_code == 404


async def test_anonymous_writes_setting_lets_ngsi_writes_through_only(hub: HubState, make_key: KeyMaker) -> None:
    settings = hub.settings.model_copy(update={"anonymous_writes": True})
    hub.settings = settings
    app = create_app(settings, state=hub)
    async with httpx.AsyncClient(transport=httpx.ASGITransport(app=app), base_url="http://hub.test") as api:
        assert (await api.post(ENTITIES, json=parking("oslo", 1))).status_code == 201
        assert (
            await api.post(ENTITIES, json=parking("aarhus", 1), headers={"NGSILD-Tenant": "aarhus"})
        ).status_code == 201
        assert (await api.get("/api/v1/keys")).status_code == 401
        # a key that is sent is still checked
        assert (await api.post(ENTITIES, json=parking("oslo", 2), headers=bearer("nh_nope"))).status_code == 401


async def test_quarantine_is_for_the_runs_city(api: httpx.AsyncClient, db: Database, make_key: KeyMaker) -> None:
    aarhus_run = quarantined_run(db, "aarhus", "aarhus-opendatadk")
    oslo_run = quarantined_run(db, "oslo", "oslo-bysykkel")
    oslo = bearer(make_key("officer", "oslo"))
    for path in ("items?state=invalid", "errors.csv"):
        assert (await api.get(f"/api/v1/runs/{aarhus_run}/{path}")).status_code == 401
        foreign = await api.get(f"/api/v1/runs/{aarhus_run}/{path}", headers=oslo)
        guessed = await api.get(f"/api/v1/runs/{aarhus_run + 1000}/{path}", headers=oslo)
        assert foreign.status_code == guessed.status_code == 403
        assert foreign.json()["detail"] == guessed.json()["detail"]
        assert "secret-ish" not in foreign.text
        own = await api.get(f"/api/v1/runs/{oslo_run}/{path}", headers=oslo)
        assert own.status_code == 200
        assert "secret-ish" in own.text
    # summaries stay public, without the quoted errors
    public = (await api.get(f"/api/v1/runs/{aarhus_run}")).json()
    assert public["counts"] == {"invalid": 1}
    assert public["first_error"] is None
    assert public["last_error"] is None
    assert (await api.get(f"/api/v1/runs/{aarhus_run}", headers=oslo)).json()["first_error"] is None
    mine = (await api.get(f"/api/v1/runs/{oslo_run}", headers=oslo)).json()
    assert mine["first_error"]["message"] == "secret-ish"


async def test_json_ld_contexts_are_added_and_deleted_by_admins_only(
    api: httpx.AsyncClient, make_key: KeyMaker, admin_auth: dict[str, str]
) -> None:
    document = {"@context": {"bikes": "https://smartdatamodels.org/dataModel.Transportation/availableBikeNumber"}}
    anonymous = await api.post("/ngsi-ld/v1/jsonldContexts", json=document)
    assert anonymous.status_code == 401
    oslo = {"Authorization": f"Bearer {make_key('officer', 'oslo')}", "NGSILD-Tenant": "oslo"}
    officer = await api.post("/ngsi-ld/v1/jsonldContexts", json=document, headers=oslo)
    assert officer.status_code == 403
    assert "admin key" in officer.json()["detail"]
    added = await api.post("/ngsi-ld/v1/jsonldContexts", json=document, headers=admin_auth)
    assert added.status_code == 201
    url = added.headers["Location"]
    assert (await api.delete("/ngsi-ld/v1/jsonldContexts/" + url, headers=oslo)).status_code == 403
    assert (await api.delete("/ngsi-ld/v1/jsonldContexts/" + url, headers=admin_auth)).status_code == 204
