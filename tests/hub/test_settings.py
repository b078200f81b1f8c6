"""Settings: every field documented in the README, typed, with a default; parsed from NORDHUB_* variables."""

from __future__ import annotations

import re
from pathlib import Path

import pytest
from pydantic import ValidationError

from hub.settings import Settings

README = Path(__file__).resolve().parents[2] / "README.md"
ROW = re.compile(r"^\| `NORDHUB_([A-Z_]+)` \| ([^|]+) \| ([^|]+) \| ([^|]+) \|$")


def _readme_rows() -> dict[str, tuple[str, str, str]]:
    rows = {}
    for line in README.read_text(encoding="utf-8").splitlines():
        match = ROW.match(line)
        if match:
            rows[match.group(1).lower()] = (match.group(2).strip(), match.group(3).strip(), match.group(4).strip())
    return rows


def test_readme_configuration_table_matches_settings() -> None:
    rows = _readme_rows()
    assert set(rows) == set(Settings.model_fields), "README configuration table and Settings differ"
    for name, field in Settings.model_fields.items():
        assert field.description, f"{name} has no description"
        assert field.annotation is not None
        assert rows[name][2], f"{name} has no meaning in the README"
        default = field.default_factory() if field.default_factory else field.default  # type: ignore[call-arg]
        shown = rows[name][1].strip("`").lower()
        if default in ([], None):
            assert shown in ("(empty)", "none")
        else:
            assert shown.removeprefix("./") == str(default).lower(), f"README default of {name}: {shown}"


def test_environment_overrides_with_prefix(monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.setenv("NORDHUB_DATABASE_URL", "postgresql+psycopg://u@h/db")
    monkeypatch.setenv("NORDHUB_SCHEDULER_ENABLED", "false")
    monkeypatch.setenv("NORDHUB_HTTP_READ_TIMEOUT", "12.5")
    settings = Settings()
    assert settings.database_url == "postgresql+psycopg://u@h/db"
    assert settings.scheduler_enabled is False
    assert settings.http_read_timeout == 12.5


def test_bad_values_are_rejected_with_the_field_name(monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.setenv("NORDHUB_LOG_LEVEL", "CHATTY")
    with pytest.raises(ValidationError, match="log_level"):
        Settings()


def test_nothing_is_created_at_import(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.chdir(tmp_path)
    Settings()
    assert list(tmp_path.iterdir()) == []
