"""The stored entities that are not removed, page by page and tenant by tenant: what the index rebuilds read
(the attribute index's and the spatial index's, run by their migrations)."""

from __future__ import annotations

from collections.abc import Iterator
from typing import Any

import orjson
from sqlalchemy import Connection, select, tuple_

from ngsi.tables import entities


def live_pages(conn: Connection, *, batch: int) -> Iterator[tuple[str, list[dict[str, Any]]]]:
    """(tenant, entities) for every page of ``batch`` live entities in (tenant, id) order (keyset paging)."""
    after = ("", "")
    while True:
        stmt = (
            select(entities.c.tenant, entities.c.id, entities.c.data)
            .where(entities.c.removed.is_(False), tuple_(entities.c.tenant, entities.c.id) > after)
            .order_by(entities.c.tenant, entities.c.id)
            .limit(batch)
        )
        page = conn.execute(stmt).all()
        if not page:
            return
        for tenant in dict.fromkeys(row.tenant for row in page):
            yield tenant, [orjson.loads(row.data) for row in page if row.tenant == tenant]
        after = (page[-1].tenant, page[-1].id)
