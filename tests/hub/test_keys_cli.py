"""``nordhub keys``: create prints the key once, list never shows it, revoke takes effect; all audited."""

from __future__ import annotations

from datetime import UTC, datetime
from pathlib import Path

from hub import auth, officers
from hub.db import Database
from tests.hub.test_cli import _env, _run


def test_keys_create_list_revoke(tmp_path: Path, database_url: str) -> None:
    env = _env(tmp_path, database_url)
    created = _run(["keys", "create", "--role", "officer", "--city", "aarhus", "--label", "Aarhus data team"], env)
    assert created.returncode == 0, created.stderr
    token = created.stdout.strip().splitlines()[-1]
    assert token.startswith("nh_")
    db = Database(database_url)
    with db.connect() as conn:
        found = auth.authenticate(conn, token, now=datetime.now(UTC))
    assert found is not None
    assert found.city == "aarhus"
    assert found.role is auth.Role.OFFICER
    listed = _run(["keys", "list"], env)
    assert "Aarhus data team" in listed.stdout
    assert "active" in listed.stdout
    assert token not in listed.stdout
    revoked = _run(["keys", "revoke", str(found.key_id)], env)
    assert revoked.returncode == 0, revoked.stderr
    with db.connect() as conn:
        assert auth.authenticate(conn, token, now=datetime.now(UTC)) is None
        actions = [e["action"] for e in officers.audit_entries(conn, city="aarhus", limit=10, offset=0)]
    assert actions == ["key.revoke", "key.create"]
    assert "revoked" in _run(["keys", "list"], env).stdout
    db.dispose()


def test_keys_create_refuses_unknown_city_and_missing_city(tmp_path: Path, database_url: str) -> None:
    env = _env(tmp_path, database_url)
    unknown = _run(["keys", "create", "--role", "officer", "--city", "atlantis", "--label", "x"], env)
    assert unknown.returncode == 1
    assert unknown.stderr.strip().splitlines() == [unknown.stderr.strip()]
    assert "unknown city 'atlantis'" in unknown.stderr
    no_city = _run(["keys", "create", "--role", "officer", "--label", "x"], env)
    assert no_city.returncode == 1
    assert "an officer key needs a city" in no_city.stderr
    assert _run(["keys", "revoke", "4242"], env).stderr.strip() == "nordhub: error: no key 4242"
