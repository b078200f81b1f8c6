"""The only code that issues SQL on ``ngsi_ld_contexts``: the @contexts added at run time."""

from __future__ import annotations

from dataclasses import dataclass
from datetime import datetime

from sqlalchemy import Connection, delete, or_, select, update

from ngsi.tables import ld_contexts


@dataclass(frozen=True, slots=True)
class StoredContext:
    id: str
    url: str
    kind: str
    body: str
    created_at: datetime


def _row(row: object) -> StoredContext:
    return StoredContext(*row)  # type: ignore[misc]  # a Row unpacks to the selected columns in order


_COLUMNS = (ld_contexts.c.id, ld_contexts.c.url, ld_contexts.c.kind, ld_contexts.c.body, ld_contexts.c.created_at)


def find(conn: Connection, key: str) -> StoredContext | None:
    """The context stored under an id or a URL, or None."""
    found = conn.execute(select(*_COLUMNS).where(or_(ld_contexts.c.id == key, ld_contexts.c.url == key))).first()
    return _row(found) if found is not None else None


def all_contexts(conn: Connection) -> list[StoredContext]:
    return [_row(r) for r in conn.execute(select(*_COLUMNS).order_by(ld_contexts.c.created_at, ld_contexts.c.url))]


def put(conn: Connection, context: StoredContext) -> None:
    """Store a context; one already stored under the same URL is replaced (body and kind), keeping its id."""
    changed = conn.execute(
        update(ld_contexts)
        .where(ld_contexts.c.url == context.url)
        .values(kind=context.kind, body=context.body, created_at=context.created_at)
    ).rowcount
    if not changed:
        conn.execute(
            ld_contexts.insert().values(
                id=context.id,
                url=context.url,
                kind=context.kind,
                body=context.body,
                created_at=context.created_at,
            )
        )


def remove(conn: Connection, context_id: str) -> bool:
    return bool(conn.execute(delete(ld_contexts).where(ld_contexts.c.id == context_id)).rowcount)
