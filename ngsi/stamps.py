"""Attribute-level system timestamps: the ``createdAt`` and ``modifiedAt`` of each attribute (GS CIM 009 4.8).

``options=sysAttrs`` shows them on every attribute, and ``orderBy=a.createdAt`` / ``a.modifiedAt`` orders by them
(4.23). An attribute is created when a write first gives the entity that attribute, and modified when a write
changes anything in it (its value, a sub-attribute, an instance); a write that leaves it as it was keeps its stamps.

Where they are kept: ``ngsi_entities.attr_stamps``, a JSON object ``{attribute: [created, modified]}`` in epoch
milliseconds (an attribute that has or had several instances adds those of each instance, once a write changed one
of them: ``[created, modified, {datasetId or @none: [created, modified]}]``; the first two are the attribute's, which
orderBy reads), written for the entities the API writes (``EntityWrite.track``). NULL means that every attribute
carries the entity's own ``createdAt`` and ``modifiedAt``: a new entity (all its attributes are created with it),
and a harvested one. A harvest replaces a changed entity whole; tracking each attribute there would cost a parse
of the stored JSON and a comparison per attribute of every moved entity, about a tenth of the harvest's update
rate (bench/harvest_pipeline.py), for timestamps that its ``observedAt`` and its history already tell.
"""

from __future__ import annotations

from datetime import UTC, datetime, timedelta
from typing import Any

import orjson

from ngsi.representation import ENTITY_MEMBERS, NONE_DATASET

_EPOCH = datetime(1970, 1, 1, tzinfo=UTC)
_MS = timedelta(milliseconds=1)
ATTRIBUTE_STAMPS = ("createdAt", "modifiedAt")  # orderBy=a.createdAt names them as if they were sub-attributes


def epoch_ms(moment: datetime) -> int:
    """A timestamp as kept in ``attr_stamps``; naive datetimes are UTC (SQLite's UTCDateTime gives aware ones)."""
    if moment.tzinfo is None:
        moment = moment.replace(tzinfo=UTC)
    return (moment - _EPOCH) // _MS  # truncated, as the entity's own createdAt is shown (ngsi/shaping.py)


def epoch_ms_of(seconds: float) -> int:
    """Epoch seconds (microsecond precision) as :func:`epoch_ms` truncates them."""
    return round(seconds * 1_000_000) // 1000


def iso(ms: int) -> str:
    """Epoch milliseconds as NGSI-LD's DateTime (UTC, milliseconds, ``Z``)."""
    return datetime.fromtimestamp(ms / 1000, UTC).isoformat(timespec="milliseconds").replace("+00:00", "Z")


def _by_dataset(attr: Any) -> dict[str, Any]:
    """datasetId (``@none``: the default instance) → instance of an attribute (one instance or an array)."""
    items = attr if isinstance(attr, list) else [attr]
    return {str(i.get("datasetId", NONE_DATASET)) if isinstance(i, dict) else NONE_DATASET: i for i in items}


def _changed(old: Any, attr: Any, stamp: list[Any], now: int) -> list[Any]:
    """The stamps of an attribute a write changed: its own (created, now), then, when it has or had several
    instances, those of each instance by datasetId (a third item: ``{datasetId: [created, modified]}``)."""
    changed: list[Any] = [stamp[0], now]
    if not isinstance(attr, list) and not isinstance(old, list) and len(stamp) < 3:
        return changed
    kept: dict[str, list[int]] = stamp[2] if len(stamp) > 2 else {}
    before = _by_dataset(old)
    instances: dict[str, list[int]] = {}
    for dataset, instance in _by_dataset(attr).items():
        if dataset not in before:
            instances[dataset] = [now, now]
            continue
        own = kept.get(dataset, stamp[:2])
        instances[dataset] = list(own) if before[dataset] == instance else [own[0], now]
    return [*changed, instances]


def written(
    before: dict[str, Any] | None,
    entity: dict[str, Any],
    prior: str | None,
    created: datetime | None,
    modified: datetime | None,
    now: int,
) -> str | None:
    """The ``attr_stamps`` of ``entity`` written at ``now`` (epoch ms) over ``before`` (the stored entity, None when
    new), whose stamps were ``prior`` (``attr_stamps``; None: the entity's ``created``/``modified`` for all)."""
    if before is None:
        return None  # every attribute is created with the entity
    kept: dict[str, list[Any]] = orjson.loads(prior) if prior else {}
    fallback = [epoch_ms(created), epoch_ms(modified)] if created and modified else [now, now]
    stamps: dict[str, list[Any]] = {}
    for name, attr in entity.items():
        if name in ENTITY_MEMBERS:
            continue
        old = before.get(name)
        if old is None:
            stamps[name] = [now, now]
            continue
        stamp = kept.get(name, fallback)
        stamps[name] = stamp if old == attr else _changed(old, attr, stamp, now)
    return orjson.dumps(stamps).decode()


def renamed(stamps: str | None, name: Any) -> str | None:
    """``attr_stamps`` with its attribute names translated by ``name`` (stored → the request's terms)."""
    if not stamps:
        return stamps
    table: dict[str, Any] = orjson.loads(stamps)
    return orjson.dumps({name(key): value for key, value in table.items()}).decode()


def with_attribute_stamps(entity: dict[str, Any], stamps: str | None, created: str, modified: str) -> dict[str, Any]:
    """``entity`` with ``createdAt`` and ``modifiedAt`` on each attribute (each instance of a multi-instance one: its
    own when kept, else the attribute's); ``created``/``modified`` are the entity's, for the attributes ``stamps``
    does not name."""
    table: dict[str, list[Any]] = orjson.loads(stamps) if stamps else {}
    shown: dict[str, Any] = {}
    for name, attr in entity.items():
        if name in ENTITY_MEMBERS or not isinstance(attr, dict | list):
            shown[name] = attr
            continue
        stamp = table.get(name)
        members = {"createdAt": iso(stamp[0]), "modifiedAt": iso(stamp[1])} if stamp else None
        members = members or {"createdAt": created, "modifiedAt": modified}
        instances: dict[str, list[int]] = stamp[2] if stamp and len(stamp) > 2 else {}
        if isinstance(attr, dict):
            shown[name] = {**attr, **_instance_members(attr, instances, members)}
        else:
            shown[name] = [
                {**item, **_instance_members(item, instances, members)} if isinstance(item, dict) else item
                for item in attr
            ]
    return shown


def _instance_members(
    instance: dict[str, Any], instances: dict[str, list[int]], attribute: dict[str, str]
) -> dict[str, str]:
    """An instance's createdAt and modifiedAt: its own when kept (by datasetId), else the attribute's."""
    own = instances.get(str(instance.get("datasetId", NONE_DATASET)))
    return {"createdAt": iso(own[0]), "modifiedAt": iso(own[1])} if own else attribute
