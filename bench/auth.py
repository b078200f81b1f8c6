"""The cost of checking a bearer key on every request (no cache, so revocation acts at once).

Prints the time per request of opening a connection and looking the key up among 10,001 keys, beside a floor
measured in the same run: opening a connection and running ``SELECT 1``.
"""

from __future__ import annotations

import tempfile
import time
from collections.abc import Callable
from datetime import UTC, datetime

from sqlalchemy import Connection, delete, text

from hub import auth
from hub.auth_tables import auth_keys
from hub.db import Database

KEYS = 10_000
REQUESTS = 5_000


def _per_request(db: Database, action: Callable[[Connection], object]) -> float:
    started = time.perf_counter()
    for _ in range(REQUESTS):
        with db.connect() as conn:
            action(conn)
    return (time.perf_counter() - started) / REQUESTS * 1e6


def _measure(db: Database, label: str) -> None:
    db.upgrade()
    now = datetime.now(UTC)
    with db.begin() as conn:
        for i in range(KEYS):
            auth.create_key(conn, role=auth.Role.ADMIN, city=None, label=f"bench {i}", now=now)
        _key_id, token = auth.create_key(conn, role=auth.Role.OFFICER, city="oslo", label="bench me", now=now)
    floor = _per_request(db, lambda c: c.execute(text("SELECT 1")).scalar())
    lookup = _per_request(db, lambda c: auth.authenticate(c, token, now=now))
    print(
        f"auth ({label}): key lookup among {KEYS + 1:,} keys {lookup:.0f} µs/request; floor (SELECT 1) {floor:.0f} µs"
    )


def main(pg: str | None = None) -> None:
    with tempfile.TemporaryDirectory() as tmp:
        db = Database(f"sqlite:///{tmp}/auth.db")
        _measure(db, "SQLite")
        db.dispose()
    if pg is not None:
        db = Database(pg)
        try:
            _measure(db, "PostgreSQL")
        finally:
            with db.begin() as conn:  # the bench database is shared with the other benchmarks: leave no keys
                conn.execute(delete(auth_keys).where(auth_keys.c.label.like("bench %")))
            db.dispose()


if __name__ == "__main__":
    main()
