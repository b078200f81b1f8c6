"""``nordhub keys``: create, list and revoke API keys (mounted by ``hub.cli``).

The command line stands for the operator: it needs no key, and its changes are audited as actor ``cli``.
"""

from __future__ import annotations

from datetime import UTC, datetime, timedelta
from typing import Annotated

import typer

from hub import auth, officers
from hub.auth import Role
from hub.cities import load_cities
from hub.cli_support import guarded, load_settings
from hub.db import Database
from hub.errors import ConfigError

app = typer.Typer(help="Create, list and revoke API keys of admins and city data officers.", no_args_is_help=True)
CLI_ACTOR = "cli"


def _db() -> Database:
    db = Database(guarded(load_settings).database_url)
    guarded(db.upgrade)
    return db


def _known_city(city: str) -> None:
    registry = load_cities(load_settings().cities_file)
    if city not in {c.id for c in registry.cities}:
        raise ConfigError(f"unknown city {city!r}; member cities: {', '.join(c.id for c in registry.cities)}")


@app.command("create")
def create(
    role: Annotated[Role, typer.Option(help="admin or officer.")],
    label: Annotated[str, typer.Option(help="Who or what holds the key (shown in the audit log).")],
    city: Annotated[str | None, typer.Option(help="The officer's city (officer keys only).")] = None,
    expires_days: Annotated[int | None, typer.Option("--expires-days", min=1, help="Expire after N days.")] = None,
) -> None:
    """Create a key and print it: this is the only time it is shown (only its hash is stored)."""
    if city is not None:
        guarded(lambda: _known_city(city))
    now = datetime.now(UTC)
    expires = now + timedelta(days=expires_days) if expires_days else None
    db = _db()

    def store() -> tuple[int, str]:
        with db.begin() as conn:
            key_id, token = auth.create_key(conn, role=role, city=city, label=label, now=now, expires_at=expires)
            after = auth.get_key(conn, key_id, now=now)
            officers.record(conn, officers.Change(CLI_ACTOR, None, city, "key.create", f"key {key_id}", None, after))
        return key_id, token

    key_id, token = guarded(store)
    typer.echo(f"key {key_id} ({role.value}{' of ' + city if city else ''}, {label}); shown once, keep it safe:")
    typer.echo(token)


@app.command("list")
def list_command() -> None:
    """List every key (id, role, city, label, state); never the key itself."""
    db = _db()
    with db.connect() as conn:
        keys = auth.list_keys(conn, now=datetime.now(UTC))
    for key in keys:
        state = "revoked" if key["revoked_at"] else "active" if key["active"] else "expired"
        expires = f" expires {key['expires_at']}" if key["expires_at"] else ""
        typer.echo(f"{key['id']:>5}  {key['role']:<8} {key['city'] or '-':<14} {state:<8} {key['label']}{expires}")


@app.command("revoke")
def revoke(key_id: Annotated[int, typer.Argument(help="The key's id (see `nordhub keys list`).")]) -> None:
    """Revoke a key: it stops working on the next request."""
    db = _db()
    now = datetime.now(UTC)

    def store() -> None:
        with db.begin() as conn:
            before = auth.revoke_key(conn, key_id, now=now)
            after = auth.get_key(conn, key_id, now=now)
            change = officers.Change(CLI_ACTOR, None, before["city"], "key.revoke", f"key {key_id}", before, after)
            officers.record(conn, change)

    guarded(store)
    typer.echo(f"key {key_id} revoked")
