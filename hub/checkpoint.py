"""SQLite: WAL checkpoints on a thread of their own, off the path of the transaction that wrote the pages.

In WAL mode a commit appends the transaction's pages to the write-ahead log; a checkpoint copies them into the
database file (and syncs it). By default SQLite runs that checkpoint inside the first commit that finds the log over
1,000 pages — so a harvest commit of 20,000 stations also paid for copying its own ~30 MB into the database file:
a tenth of the harvest's time (bench/harvest_pipeline.py). Here a commit only wakes this thread, which runs a
PASSIVE checkpoint on its own connection (it never blocks readers or the next writer, and copies what no reader
still needs) while the hub goes on, on the machine's other core.

The automatic checkpoint is not switched off, only raised to AUTOCHECKPOINT_PAGES: should this thread fall behind
or stop, a commit still checkpoints once the log is that large, so the log cannot grow without bound.
"""

from __future__ import annotations

import logging
import sqlite3
import threading
from typing import Any

log = logging.getLogger(__name__)

AUTOCHECKPOINT_PAGES = 50_000  # ~200 MB of 4 KiB pages: the safety net if the thread falls behind
IDLE_SECONDS = 30.0  # the thread ends after this long without a commit (and starts again with the next one)


class Checkpointer:
    """Wakes on commits and checkpoints one SQLite database file."""

    def __init__(self, path: str) -> None:
        self.path = path
        self._wake = threading.Event()
        self._lock = threading.Lock()
        self._thread: threading.Thread | None = None
        self._closed = False
        self.checkpoints = 0

    def poke(self, *_args: Any) -> None:
        """A transaction committed (an engine ``commit`` event): checkpoint soon."""
        if self._closed:
            return
        self._wake.set()
        with self._lock:
            if self._thread is None or not self._thread.is_alive():
                self._thread = threading.Thread(target=self._run, name="nordhub-sqlite-checkpoint", daemon=True)
                self._thread.start()

    def close(self) -> None:
        """Stop the thread after a last checkpoint (the engine is being disposed)."""
        self._closed = True
        self._wake.set()
        thread = self._thread
        if thread is not None and thread is not threading.current_thread():
            thread.join(timeout=10)

    def _run(self) -> None:
        try:
            conn = sqlite3.connect(self.path, timeout=30, check_same_thread=False)
        except sqlite3.Error:
            log.exception("the checkpoint thread cannot open %s", self.path)
            return
        try:
            while self._wake.wait(timeout=IDLE_SECONDS):
                self._wake.clear()
                self._checkpoint(conn)
                if self._closed:
                    return
        finally:
            conn.close()

    def _checkpoint(self, conn: sqlite3.Connection) -> None:
        try:
            conn.execute("PRAGMA wal_checkpoint(PASSIVE)").fetchall()
            self.checkpoints += 1
        except sqlite3.Error:  # busy or locked: the next commit wakes us again, and the safety net stays
            log.debug("passive checkpoint of %s did not run", self.path, exc_info=True)
