"""``nordhub cities export``: cities.toml with the registered sources, as TOML that ``cities check`` accepts;
conflicts named, never silently merged."""

from __future__ import annotations

from datetime import UTC, datetime
from pathlib import Path

from hub import officers
from hub.cities import Source, load_cities, parse_cities
from hub.db import Database
from tests.hub.test_cli import _env, _run


def _register(db: Database, city: str, source_id: str, *, live: bool) -> None:
    source = Source.model_validate(
        {"id": source_id, "kind": "gbfs", "url": "https://example.org/gbfs.json", "schedule": "every 5m"}
    )
    now = datetime.now(UTC)
    with db.begin() as conn:
        officers.add_registration(conn, city, source, now=now)
        if live:
            officers.update_registration(conn, source_id, now=now, status=officers.RegistrationStatus.LIVE)


def test_export_writes_the_merged_registry(tmp_path: Path, database_url: str) -> None:
    db = Database(database_url)
    db.upgrade()
    _register(db, "oslo", "oslo-registered-live", live=True)
    _register(db, "bergen", "bergen-registered-pending", live=False)
    db.dispose()
    out = tmp_path / "merged.toml"
    result = _run(["cities", "export", "--output", str(out)], _env(tmp_path, database_url))
    assert result.returncode == 0, result.stderr
    merged = parse_cities(out.read_text(encoding="utf-8"))
    base = load_cities(Path(__file__).resolve().parents[2] / "cities.toml")
    assert sum(1 for _ in merged.sources()) == sum(1 for _ in base.sources()) + 2
    city, live = merged.source("oslo-registered-live")
    assert city.id == "oslo"
    assert live.enabled
    assert live.schedule.interval_seconds == 300
    assert not merged.source("bergen-registered-pending")[1].enabled
    check = _run(["cities", "check", str(out)], _env(tmp_path, database_url))
    assert check.returncode == 0, check.stderr


def test_export_names_conflicts(tmp_path: Path, database_url: str) -> None:
    db = Database(database_url)
    db.upgrade()
    _register(db, "aarhus", "oslo-bysykkel", live=True)  # cities.toml declares it for Oslo
    db.dispose()
    result = _run(["cities", "export"], _env(tmp_path, database_url))
    assert result.returncode == 1
    assert "registered source 'oslo-bysykkel' (city 'aarhus') is also declared in cities.toml (city 'oslo')" in (
        result.stderr
    )
    merged = parse_cities(result.stdout)
    assert merged.source("oslo-bysykkel")[0].id == "oslo"
