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


def record_deletions(
    conn: Connection,
    tenant: str,
    entity_id: str,
    attrs: dict[str, str],
    *,
    at: datetime,
    dataset_id: str | None = None,
) -> None:
    """Keep the deletion of attributes (name → attribute type) as instances with ``deletedAt`` = ``at``; of their
    instance of ``dataset_id`` only when one is given (None: the default instance, or the whole attribute).

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
        for attr, kind in attrs.items()
    ]
    if rows:
        conn.execute(temporal_deletions.insert(), rows)


def attribute_type(attribute: Any) -> str:
    """The type of an attribute as stored (a multi-instance attribute: its first instance's)."""
    first = attribute[0] if isinstance(attribute, list) and attribute else attribute
    kind = first.get("type") if isinstance(first, dict) else None
    return kind if isinstance(kind, str) else "Property"


def record_entity_deletion(conn: Connection, tenant: str, stored: str, *, at: datetime) -> None:
    """Keep the deletion of an entity: a deletedAt instance for each of its attributes (and its scope), and its
    type, so that ``timeproperty=deletedAt`` still finds it once it is gone."""
    entity = orjson.loads(stored)
    attrs = {name: attribute_type(value) for name, value in entity.items() if name not in ("id", "type", "@context")}
    record_deletions(conn, tenant, entity["id"], attrs, at=at)
    gone = temporal_deleted_entities
    conn.execute(delete(gone).where(gone.c.tenant == tenant, gone.c.id == entity["id"]))
    row = {
        "tenant": tenant,
        "id": entity["id"],
        "type": type_column(entity["type"]),
        "deleted_at": at.timestamp(),
    }
    conn.execute(gone.insert(), [row])
