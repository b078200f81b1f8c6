"""Single attribute instances of the history, by their instanceId (GS CIM 009 clauses 5.6.14 and 5.6.15): find
one, modify its value and observedAt in place (recording when, ``modified_at``), or delete it; the hourly
aggregates of the hours it left and entered are recounted from the instances in the same transaction.

An instanceId is ``urn:ngsi-ld:attribute:instance:<pk>``, the row's key in ``ngsi_temporal_instances``: stable for
as long as the instance exists, and nothing to store beside it.
"""

from __future__ import annotations

from dataclasses import dataclass
from datetime import UTC, datetime
from typing import Any

import orjson
from sqlalchemy import Connection, delete, func, literal_column, select, update

from hub.errors import BadRequestData
from ngsi import projection, temporal_hours
from ngsi.tables import temporal_instances

INSTANCE_PREFIX = "urn:ngsi-ld:attribute:instance:"


def instance_id(pk: int) -> str:
    """The instanceId of the instance stored with this key."""
    return f"{INSTANCE_PREFIX}{pk}"


def instance_pk(text: str) -> int | None:
    """The key an instanceId names; None when it is not one this hub gave (so no instance has it)."""
    digits = text.removeprefix(INSTANCE_PREFIX)
    if digits == text or not digits.isascii() or not digits.isdigit() or len(digits) > 18:
        return None
    return int(digits)


def numeric(value: Any) -> float | None:
    """The number an instance's value is, for the aggregates (booleans are not numbers here)."""
    return float(value) if isinstance(value, int | float) and not isinstance(value, bool) else None


@dataclass(frozen=True, slots=True)
class StoredInstance:
    """One stored instance: its key, attribute, observed time and datasetId (None: the default instance)."""

    pk: int
    tenant: str
    entity_id: str
    attr: str
    ts: float
    dataset_id: str | None


def find_instance(conn: Connection, tenant: str, entity_id: str, attr: str, pk: int) -> StoredInstance | None:
    """The instance with this key, when it is one of this attribute of this entity (else None)."""
    t = temporal_instances.c
    row = conn.execute(
        select(t.ts, t.dataset_id).where(t.pk == pk, t.tenant == tenant, t.entity_id == entity_id, t.attr == attr)
    ).first()
    return None if row is None else StoredInstance(pk, tenant, entity_id, attr, row.ts, row.dataset_id)


def modify_instance(conn: Connection, found: StoredInstance, value: Any, ts: float | None) -> None:
    """Replace the instance's value, and its observedAt when ``ts`` is given; another instance of the attribute
    (and datasetId) already observed at ``ts`` is a 400, as two instances at one instant are one instance."""
    if ts is not None and ts != found.ts and _taken(conn, found, ts):
        raise BadRequestData(f"attribute {found.attr!r} already has an instance observed at that observedAt")
    _count_every_instance(conn)
    now = datetime.now(UTC).timestamp()
    changes = {"value": orjson.dumps(value).decode(), "value_num": numeric(value), "modified_at": now}
    if ts is not None:
        changes["ts"] = ts
    conn.execute(update(temporal_instances).where(temporal_instances.c.pk == found.pk).values(**changes))
    _recount(conn, found, [found.ts] if ts is None else [found.ts, ts])


def delete_instance(conn: Connection, found: StoredInstance) -> None:
    """Forget the instance."""
    _count_every_instance(conn)
    conn.execute(delete(temporal_instances).where(temporal_instances.c.pk == found.pk))
    _recount(conn, found, [found.ts])
    if conn.dialect.name == "sqlite":
        # SQLite numbers a new row after the highest left: the mark must not stay above numbers it will reuse.
        projection.set_hours_upto(conn, projection.catch_up_hours(conn))


def _taken(conn: Connection, found: StoredInstance, ts: float) -> bool:
    t = temporal_instances.c
    same_dataset = func.coalesce(t.dataset_id, literal_column("''")) == (found.dataset_id or "")
    where = (t.tenant == found.tenant, t.entity_id == found.entity_id, t.attr == found.attr, t.ts == ts)
    return conn.execute(select(t.pk).where(*where, same_dataset)).first() is not None


def _count_every_instance(conn: Connection) -> None:
    """SQLite: every instance counted in its hours before one is changed and its hours recounted (the replay adds
    instances by key, and would add a recounted one again)."""
    if conn.dialect.name == "sqlite":
        projection.catch_up_hours(conn)


def _recount(conn: Connection, found: StoredInstance, times: list[float]) -> None:
    hours = [(found.tenant, found.entity_id, found.attr, temporal_hours.hour_of(ts)) for ts in times]
    temporal_hours.recompute(conn, hours)
