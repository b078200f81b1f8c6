"""Deletion history (GS CIM 009 clause 4.5, ``deletedAt``): an attribute or an entity deleted through the API
leaves instances that carry ``deletedAt`` in ``ngsi_temporal_deletions`` (apart from the observed instances), and a
deleted entity its type in ``ngsi_temporal_deleted_entities``. ``ngsi.temporal`` reads them
back for ``timeproperty=deletedAt``; with ``ngsi.store`` these are the only modules writing those tables.
"""

from __future__ import annotations

from datetime import datetime
from typing import Any

import orjson
from sqlalchemy import Connection, delete

from ngsi.provision import NULL
from ngsi.tables import temporal_deleted_entities, temporal_deletions, type_column

DELETED_VALUES = {"LanguageProperty": {"@none": NULL}, "ListProperty": [NULL]}


# (attribute, its type, datasetId - None: the default instance) of one attribute instance deleted
Deleted = tuple[str, str, str | None]


def record_deletions(conn: Connection, tenant: str, entity_id: str, deleted: list[Deleted], *, at: datetime) -> None:
    """Keep the deletion of attribute instances as instances with ``deletedAt`` = ``at``, one per instance, each
    with its datasetId.

    The value is NGSI-LD's null in the attribute's form (``urn:ngsi-ld:null``; a LanguageProperty's language map
    ``{"@none": "urn:ngsi-ld:null"}``; the entity's ``scope``: no scope, ``[]``). They stay apart from observed
    values: never aggregated, and returned only with ``timeproperty=deletedAt``."""
    ts = at.timestamp()
    rows = [
        {
            "tenant": tenant,
            "entity_id": entity_id,
            "attr": attr,
            "ts": ts,
            "kind": kind,
            "value": orjson.dumps([] if attr == "scope" else DELETED_VALUES.get(kind, NULL)).decode(),
            "dataset_id": dataset_id,
        }
        for attr, kind, dataset_id in deleted
    ]
    if rows:
        conn.execute(temporal_deletions.insert(), rows)


def removed_instances(before: dict[str, Any], after: dict[str, Any]) -> list[Deleted]:
    """The attribute instances (and the scope) of the entity ``before`` that the entity ``after`` no longer holds,
    matched by datasetId: what a write (a merge's null, a replace, a deletion of attributes or of the entity)
    deleted."""
    deleted: list[Deleted] = []
    for name, attr in before.items():
        if name in _NOT_ATTRIBUTES:
            continue
        kept = {dataset for dataset, _kind in _instances(after[name])} if name in after else set()
        deleted.extend((name, kind, dataset) for dataset, kind in _instances(attr) if dataset not in kept)
    return deleted


_NOT_ATTRIBUTES = frozenset({"id", "type", "@context", "expiresAt", "createdAt", "modifiedAt", "deletedAt"})


def _instances(attr: Any) -> list[tuple[str | None, str]]:
    """(datasetId, type) of each instance of a stored attribute: one, or an array of them (the scope: one)."""
    several = isinstance(attr, list) and bool(attr) and all(isinstance(i, dict) for i in attr)
    items = attr if several else [attr]
    return [(i.get("datasetId") if isinstance(i, dict) else None, attribute_type(i)) for i in items]


def attribute_type(attribute: Any) -> str:
    """The type of an attribute as stored (a multi-instance attribute: its first instance's)."""
    first = attribute[0] if isinstance(attribute, list) and attribute else attribute
    kind = first.get("type") if isinstance(first, dict) else None
    return kind if isinstance(kind, str) else "Property"


def record_entity_deletion(conn: Connection, tenant: str, stored: str, *, at: datetime) -> None:
    """Keep the deletion of an entity: a deletedAt instance for each of its attribute instances (and its scope),
    and its type, so that ``timeproperty=deletedAt`` still finds it once it is gone."""
    entity = orjson.loads(stored)
    record_deletions(conn, tenant, entity["id"], removed_instances(entity, {}), at=at)
    gone = temporal_deleted_entities
    conn.execute(delete(gone).where(gone.c.tenant == tenant, gone.c.id == entity["id"]))
    row = {
        "tenant": tenant,
        "id": entity["id"],
        "type": type_column(entity["type"]),
        "deleted_at": at.timestamp(),
    }
    conn.execute(gone.insert(), [row])
