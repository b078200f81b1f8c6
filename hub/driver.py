"""Statements run on the database driver's own cursor, for the hot paths where SQLAlchemy costs more than the
database: a page of entities, the harvest's lookup of stored entities, PostgreSQL's COPY of bulk rows.

The engine's cursor events still see what :func:`driver_rows` runs (logging, tracing, the tests' statement
counts); the connection stays SQLAlchemy's, in the caller's transaction.
"""

from __future__ import annotations

from collections.abc import Iterable
from typing import Any

from sqlalchemy import Connection


def driver_rows(conn: Connection, sql: str, values: Any) -> list[tuple[Any, ...]]:
    """Every row of ``sql`` (in the driver's paramstyle) with ``values``."""
    cursor = conn.connection.driver_connection.cursor()  # type: ignore[union-attr]
    try:
        conn.dispatch.before_cursor_execute(conn, cursor, sql, values, None, False)
        cursor.execute(sql, values)
        rows = list(cursor.fetchall())
        conn.dispatch.after_cursor_execute(conn, cursor, sql, values, None, False)
        return rows
    finally:
        cursor.close()


def copy_rows(conn: Connection, table: str, columns: str, rows: Iterable[tuple[Any, ...]]) -> None:
    """PostgreSQL: ``COPY table (columns) FROM STDIN`` of ``rows`` (psycopg 3), several times faster than an
    executemany of the same rows (bench/harvest_pipeline.py prints COPY as its PostgreSQL floor)."""
    cursor = conn.connection.driver_connection.cursor()  # type: ignore[union-attr]
    try:
        with cursor.copy(f"COPY {table} ({columns}) FROM STDIN") as copy:
            for row in rows:
                copy.write_row(row)
    finally:
        cursor.close()
