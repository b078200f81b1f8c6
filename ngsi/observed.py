"""Which observed values of a written entity are new: the temporal instances a write records.

A harvest compares every entity with its stored JSON. Parsing that JSON is the costliest step of an update
(4 µs of the ~50 µs a moved GBFS station costs, bench/harvest_pipeline.py), and a hub that harvests a feed every
minute parses, each time, the very JSON it wrote the minute before. So each process remembers, for the entities
it wrote, the observed values of the JSON it wrote, keyed by the entity and checked against a hash of the stored
JSON: a stored JSON that another process, another database or a rolled-back transaction left different misses
and is parsed, as is any attribute that was not observed in the remembered write.
"""

from __future__ import annotations

import functools
import threading
from collections.abc import Iterator
from datetime import datetime
from itertools import islice
from typing import Any

import orjson

# Entities remembered per process (~150 bytes each for a GBFS station: ~30 MB at the cap). Past the cap the
# oldest half is forgotten; an entity forgotten is parsed once on its next write, as after a restart.
MEMORY_CAP = 200_000
# What carries the value of an attribute that is not a Property (a Property's is "value"): its history records it
# as the temporal API's POST does, and reads render it by the attribute's type (api/temporal_read.py).
OTHER_VALUE_MEMBERS = ("object", "objectList", "valueList", "languageMap", "json", "vocab")


class ObservedMemory:
    """(tenant, id) → (hash of the stored JSON, {attribute: observed value}) of the entities this process wrote.

    Python's string hash (64 bits, SipHash) stands for the JSON: two different stored JSON texts of one entity
    with the same hash (odds 2⁻⁶⁴ per write) would make this write compare with the other one's values."""

    def __init__(self, cap: int = MEMORY_CAP) -> None:
        self._cap = cap
        self._values: dict[tuple[str, str], tuple[int, dict[str, Any]]] = {}
        self._lock = threading.Lock()  # for the eviction's iteration; lookups and single stores are atomic

    def lookup(self, tenant: str, entity_id: str, stored: str) -> dict[str, Any] | None:
        """The observed values of ``stored`` (the entity's stored JSON) when this process wrote that JSON."""
        known = self._values.get((tenant, entity_id))
        if known is None or known[0] != hash(stored):
            return None
        return known[1]

    def remember(self, written: list[tuple[tuple[str, str], tuple[int, dict[str, Any]]]]) -> None:
        """Keep the observed values of JSON texts a batch writes (as made by :func:`changed_instances`)."""
        with self._lock:
            self._values.update(written)
            excess = len(self._values) - self._cap
            if excess > 0:
                for key in list(islice(self._values, excess + self._cap // 2)):
                    del self._values[key]

    def clear(self) -> None:
        with self._lock:
            self._values.clear()


MEMORY = ObservedMemory()


def changed_instances(
    tenant: str, entity: dict[str, Any], data: str, previous: str | None, created: float
) -> tuple[list[tuple[Any, ...]], tuple[tuple[str, str], tuple[int, dict[str, Any]]]]:
    """Instances for every attribute with ``observedAt`` whose value (a Relationship's object…) differs from the
    stored entity ``previous`` (its JSON, None when new), and what :meth:`ObservedMemory.remember` keeps of
    ``data``, the JSON written.

    An instance is (tenant, entity id, attribute, ts, numeric value or None, JSON value, ``created`` - when the
    hub records it), and its datasetId after that when it has one (``ngsi.store.insert_history``). An attribute
    with several instances (an array, one per datasetId) or with a datasetId is compared per datasetId with the
    stored instance of the same datasetId.

    Written for speed (one call per harvested entity, bench/harvest_pipeline.py): exact type checks, no generator;
    ``previous`` is parsed only when the memory does not hold its values."""
    found: list[tuple[Any, ...]] = []
    entity_id = entity["id"]
    known = MEMORY.lookup(tenant, entity_id, previous) if previous is not None else None
    before: dict[str, Any] | None = {} if previous is None else None
    observed: dict[str, Any] = {}
    for name, attr in entity.items():
        if type(attr) is not dict or "datasetId" in attr:
            if type(attr) is list or type(attr) is dict:  # multi-instance: the slow path, never remembered
                if before is None:
                    before = orjson.loads(previous)  # type: ignore[arg-type]  # None only when new, see above
                found.extend(_dataset_instances(tenant, entity_id, name, attr, before.get(name), created))
            continue
        if "observedAt" not in attr:
            continue
        if "value" in attr:
            member = "value"
        else:  # a Relationship, ListProperty, LanguageProperty…: the member that carries its value
            member = next((m for m in OTHER_VALUE_MEMBERS if m in attr), "")
            if not member:
                continue
        value = attr[member]
        observed[name] = value
        if known is not None and name in known:
            if known[name] == value:
                continue
        else:
            if before is None:
                before = orjson.loads(previous)  # type: ignore[arg-type]  # None only when new, see above
            old = before.get(name)
            if type(old) is dict and old.get(member) == value:
                continue
        kind = type(value)
        numeric = float(value) if kind is int or kind is float else None
        found.append(
            (tenant, entity_id, name, _epoch(attr["observedAt"]), numeric, orjson.dumps(value).decode(), created)
        )
    return found, ((tenant, entity_id), (hash(data), observed))


def _by_dataset(attr: Any) -> dict[str | None, dict[str, Any]]:
    """datasetId (None: the default instance) → instance of a stored or written attribute (one or an array)."""
    items = attr if type(attr) is list else [attr]
    return {item.get("datasetId"): item for item in items if type(item) is dict}


def _dataset_instances(
    tenant: str, entity_id: str, name: str, attr: Any, old: Any, created: float
) -> list[tuple[Any, ...]]:
    """The instances of a multi-instance attribute whose observed value differs from the stored instance of the
    same datasetId."""
    found = []
    for dataset, item, value in _moved(attr, old, observed=True):
        ts = _epoch(item["observedAt"])
        row = (tenant, entity_id, name, ts, _number(value), orjson.dumps(value).decode(), created)
        found.append(row if dataset is None else (*row, dataset))
    return found


def _moved(attr: Any, old: Any, *, observed: bool) -> Iterator[tuple[str | None, dict[str, Any], Any]]:
    """(datasetId, instance, value) of each instance of ``attr`` with ``observedAt`` (``observed``) or without
    whose value differs from that of the instance of the same datasetId in ``old`` (the stored attribute, or None)."""
    stored = _by_dataset(old) if old is not None else {}
    for dataset, item in _by_dataset(attr).items():
        if ("observedAt" in item) is not observed:
            continue
        member = "value" if "value" in item else next((m for m in OTHER_VALUE_MEMBERS if m in item), "")
        if not member:
            continue
        value = item[member]
        previous = stored.get(dataset)
        if previous is None or previous.get(member) != value:
            yield dataset, item, value


def _number(value: Any) -> float | None:
    kind = type(value)
    return float(value) if kind is int or kind is float else None


@functools.lru_cache(maxsize=4096)  # a batch's observations share a handful of instants
def _epoch(instant: str) -> float:
    return datetime.fromisoformat(instant).timestamp()


def unobserved_changes(
    tenant: str, entity: dict[str, Any], before: dict[str, Any], recorded: float
) -> list[tuple[Any, ...]]:
    """Rows of ``ngsi_temporal_changes`` for a write through the API: each attribute instance without
    ``observedAt`` whose value differs from the stored instance of the same datasetId in ``before`` (the stored
    entity; empty when new): (tenant, entity id, attribute, datasetId, JSON value, number or None, ``recorded``)."""
    rows: list[tuple[Any, ...]] = []
    for name, attr in entity.items():
        if name in _NOT_ATTRIBUTES or type(attr) not in (dict, list):
            continue
        for dataset, _item, value in _moved(attr, before.get(name), observed=False):  # observed: the history's
            rows.append((tenant, entity["id"], name, dataset, orjson.dumps(value).decode(), _number(value), recorded))
    return rows


_NOT_ATTRIBUTES = frozenset({"id", "type", "scope", "@context", "createdAt", "modifiedAt", "deletedAt", "expiresAt"})
