"""SQLite WAL checkpoints run on their own thread (hub/checkpoint.py), not inside the writer's commit."""

from __future__ import annotations

import time
from pathlib import Path

from sqlalchemy import text

from hub.db import Database


def test_commits_wake_the_checkpoint_thread_and_dispose_stops_it(tmp_path: Path) -> None:
    db = Database(f"sqlite:///{tmp_path / 'hub.db'}")
    assert db.checkpointer is not None
    with db.begin() as conn:
        conn.execute(text("CREATE TABLE t (x TEXT)"))
    with db.begin() as conn:
        conn.execute(text("INSERT INTO t VALUES (:x)"), [{"x": "y" * 500} for _ in range(2000)])
    deadline = time.monotonic() + 10
    while db.checkpointer.checkpoints == 0 and time.monotonic() < deadline:
        time.sleep(0.01)
    assert db.checkpointer.checkpoints >= 1
    with db.connect() as conn:
        assert conn.exec_driver_sql("PRAGMA wal_autocheckpoint").scalar() == 50_000  # the safety net stays
    thread = db.checkpointer._thread
    db.dispose()
    assert thread is not None
    assert not thread.is_alive()


def test_an_in_memory_database_has_no_checkpoint_thread() -> None:
    db = Database("sqlite:///:memory:")
    assert db.checkpointer is None
    db.dispose()
