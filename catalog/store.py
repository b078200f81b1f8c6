"""The only code that issues SQL on the catalogue tables.

Writes are bulk SQLAlchemy Core statements in the caller's transaction (the caller's connection). A dataset is
keyed by its publisher's URI; each source that lists it has a provenance row. The rules:

- "unchanged" means the content hash equals what this source delivered last time (or, for a source new to the
  dataset, what is stored): the dataset row is not rewritten, only ``last_seen`` and the provenance are touched.
- A changed description replaces the stored one unless the stored one says it is newer (the publisher's
  ``modified``), so a stale copy on a national portal does not overwrite the city's fresher one.
- A dataset is removed only when every source that vouched for it has stopped listing it; one that reappears is
  un-removed and counts as updated.
"""

from __future__ import annotations

import dataclasses
import hashlib
from collections.abc import Collection, Iterator, Mapping, Sequence
from dataclasses import dataclass, field
from datetime import datetime
from enum import StrEnum
from typing import Any

import orjson
from sqlalchemy import Connection, and_, bindparam, func, select, update
from sqlalchemy.dialects import postgresql, sqlite

from catalog.model import Agent, Dataset, Distribution
from catalog.search import index_datasets, remove_from_index
from catalog.tables import datasets as catalog_datasets
from catalog.tables import provenance

CHUNK = 500  # URIs per IN (...) lookup; stays under SQLite's bound-parameter limit
INDEX_SLICE = 1000  # datasets whose search rows are built and written at once
WRITE_SLICE = 2000  # datasets planned and written at once


class Change(StrEnum):
    """What an upsert did to one dataset."""

    CREATED = "created"
    UPDATED = "updated"
    UNCHANGED = "unchanged"


@dataclass(slots=True)
class DatasetUpsert:
    """Which dataset URIs a batch created, updated or left unchanged; ``duplicates`` were listed twice."""

    created: list[str] = field(default_factory=list)
    updated: list[str] = field(default_factory=list)
    unchanged: list[str] = field(default_factory=list)
    duplicates: list[str] = field(default_factory=list)


# ---------------------------------------------------------------------------------------------- serialisation


def _compact(value: Any) -> Any:
    """Drop None and empty containers from dicts, recursively; defaults are restored when reading back."""
    if isinstance(value, dict):
        kept = {k: _compact(v) for k, v in value.items()}
        return {k: v for k, v in kept.items() if v is not None and v != {} and v != [] and v != ()}
    if isinstance(value, list | tuple):
        return [_compact(v) for v in value]
    return value


def dataset_to_json(ds: Dataset) -> str:
    """The dataset and its distributions as compact JSON (None and empty fields left out)."""
    return orjson.dumps(_compact(dataclasses.asdict(ds))).decode()


def _known(cls: type[Any], data: dict[str, Any]) -> dict[str, Any]:
    # Fields written by a newer version of the model are ignored rather than failing the read.
    names = {f.name for f in dataclasses.fields(cls)}
    return {k: v for k, v in data.items() if k in names}


def dataset_from_dict(data: dict[str, Any]) -> Dataset:
    """A Dataset from the dict form of ``dataset_to_json``."""
    values = _known(Dataset, data)
    if isinstance(values.get("publisher"), dict):
        values["publisher"] = Agent(**_known(Agent, values["publisher"]))
    values["distributions"] = [Distribution(**_known(Distribution, d)) for d in values.get("distributions", [])]
    if values.get("temporal") is not None:
        start, end = values["temporal"]
        values["temporal"] = (start, end)
    return Dataset(**values)


def dataset_from_json(text: str | bytes) -> Dataset:
    """The inverse of ``dataset_to_json``."""
    data = orjson.loads(text)
    if not isinstance(data, dict):
        raise ValueError("a stored dataset must be a JSON object")
    return dataset_from_dict(data)


def _hash(ds: Dataset, data: str) -> str:
    return ds.content_hash or "sha256:" + hashlib.sha256(data.encode()).hexdigest()


def _chunks(items: Sequence[str], size: int = CHUNK) -> Iterator[Sequence[str]]:
    for start in range(0, len(items), size):
        yield items[start : start + size]


# -------------------------------------------------------------------------------------------------- writing


@dataclass(slots=True)
class _Plan:
    """The statements one upsert needs, gathered before any is issued."""

    new_datasets: list[dict[str, Any]] = field(default_factory=list)
    changed: list[dict[str, Any]] = field(default_factory=list)
    seen_values: list[dict[str, Any]] = field(default_factory=list)  # rows kept as they are; only last_seen moves
    new_provenance: list[dict[str, Any]] = field(default_factory=list)
    touched_provenance: list[dict[str, Any]] = field(default_factory=list)


def _stored(conn: Connection, source_id: str, uris: Sequence[str]) -> tuple[dict[str, Any], dict[str, str]]:
    """Stored dataset rows and this source's provenance hashes for ``uris``."""
    rows: dict[str, Any] = {}
    hashes: dict[str, str] = {}
    for chunk in _chunks(uris):
        stmt = select(
            catalog_datasets.c.uri,
            catalog_datasets.c.content_hash,
            catalog_datasets.c.modified,
            catalog_datasets.c.removed,
        )
        rows.update({row.uri: row for row in conn.execute(stmt.where(catalog_datasets.c.uri.in_(chunk)))})
        prov = select(provenance.c.dataset_uri, provenance.c.content_hash).where(
            and_(provenance.c.source_id == source_id, provenance.c.dataset_uri.in_(chunk))
        )
        hashes.update({row.dataset_uri: row.content_hash for row in conn.execute(prov)})
    return rows, hashes


def _is_stale(incoming: str | None, stored: str | None) -> bool:
    """True when the stored description says it was modified after the incoming one (ISO 8601 strings)."""
    return incoming is not None and stored is not None and stored[:19] > incoming[:19]


def _unique(batch: Sequence[Dataset], result: DatasetUpsert) -> dict[str, Dataset]:
    by_uri: dict[str, Dataset] = {}
    for ds in batch:
        if ds.uri in by_uri:
            result.duplicates.append(ds.uri)
        by_uri[ds.uri] = ds  # the later listing wins: paged sources list a dataset edited mid-harvest again
    return by_uri


def upsert_datasets(
    conn: Connection,
    *,
    source_id: str,
    city_id: str,
    datasets: Sequence[Dataset],
    now: datetime,
    run_id: int | None = None,
) -> DatasetUpsert:
    """Create or update the datasets one source listed, and its provenance rows, in the caller's transaction."""
    result = DatasetUpsert()
    by_uri = _unique(datasets, result)
    uris = list(by_uri)
    # Planned and written a slice at a time: the JSON and bound rows of a whole national catalogue at once added about
    # 50 MB to the peak of a 28,000-dataset harvest (492 -> 443 MB, bench/dcat_large.py).
    for start in range(0, len(uris), WRITE_SLICE):
        _upsert_slice(conn, uris[start : start + WRITE_SLICE], by_uri, result, source_id, city_id, now, run_id)
    return result


def _upsert_slice(
    conn: Connection,
    uris: Sequence[str],
    by_uri: Mapping[str, Dataset],
    result: DatasetUpsert,
    source_id: str,
    city_id: str,
    now: datetime,
    run_id: int | None,
) -> None:
    rows, source_hashes = _stored(conn, source_id, uris)
    plan = _Plan()
    for uri in uris:
        ds = by_uri[uri]
        data = dataset_to_json(ds)
        digest = _hash(ds, data)
        values = {"b_uri": uri, "data": data, "content_hash": digest, "issued": ds.issued, "modified": ds.modified}
        prov = {"b_uri": uri, "content_hash": digest}
        (plan.touched_provenance if uri in source_hashes else plan.new_provenance).append(prov)
        change = _classify(rows.get(uri), source_hashes.get(uri), digest, ds.modified)
        if change is Change.CREATED:
            plan.new_datasets.append(values)
            result.created.append(uri)
        elif change is Change.UPDATED:
            plan.changed.append(values)
            result.updated.append(uri)
        else:
            plan.seen_values.append(values)
            result.unchanged.append(uri)
    _write_datasets(conn, plan, city_id=city_id, now=now)
    _write_provenance(conn, plan, source_id=source_id, city_id=city_id, now=now, run_id=run_id)
    rewritten = [v["b_uri"] for v in plan.new_datasets + plan.changed]
    # Indexed in slices: the search rows of a whole national catalogue at once would double the harvest's memory.
    for start in range(0, len(rewritten), INDEX_SLICE):
        index_datasets(conn, [(uri, city_id, by_uri[uri]) for uri in rewritten[start : start + INDEX_SLICE]], now=now)


def _classify(row: Any, source_hash: str | None, digest: str, modified: str | None) -> Change:
    """What an upsert does to one dataset: see the module docstring for the rules."""
    if row is None:
        return Change.CREATED
    if row.removed:
        return Change.UPDATED
    if digest in (row.content_hash, source_hash):
        return Change.UNCHANGED  # this source sent it before, or another source stored the very same content
    own = source_hash == row.content_hash  # the stored content is this source's previous version
    return Change.UPDATED if own or not _is_stale(modified, row.modified) else Change.UNCHANGED


def _write_datasets(conn: Connection, plan: _Plan, *, city_id: str, now: datetime) -> None:
    if plan.new_datasets:
        rows = [
            {
                "uri": v["b_uri"],
                "city_id": city_id,
                "data": v["data"],
                "content_hash": v["content_hash"],
                "issued": v["issued"],
                "modified": v["modified"],
                "first_seen": now,
                "last_seen": now,
                "changed_at": now,
                "removed": False,
                "removed_at": None,
            }
            for v in plan.new_datasets
        ]
        # Two sources may bring the same new dataset at once: the first insert wins, the other's next run updates.
        conn.execute(_insert_ignoring_conflicts(conn), rows)
    if plan.changed:
        stmt = (
            update(catalog_datasets)
            .where(catalog_datasets.c.uri == bindparam("b_uri"))
            .values(
                data=bindparam("data"),
                content_hash=bindparam("content_hash"),
                issued=bindparam("issued"),
                modified=bindparam("modified"),
                last_seen=now,
                changed_at=now,
                removed=False,
                removed_at=None,
            )
        )
        conn.execute(stmt, plan.changed)
    for chunk in _chunks([v["b_uri"] for v in plan.seen_values]):
        conn.execute(update(catalog_datasets).where(catalog_datasets.c.uri.in_(chunk)).values(last_seen=now))


def _insert_ignoring_conflicts(conn: Connection) -> Any:
    if conn.dialect.name == "postgresql":
        return postgresql.insert(catalog_datasets).on_conflict_do_nothing(index_elements=[catalog_datasets.c.uri])
    return sqlite.insert(catalog_datasets).on_conflict_do_nothing(index_elements=[catalog_datasets.c.uri])


def _write_provenance(
    conn: Connection, plan: _Plan, *, source_id: str, city_id: str, now: datetime, run_id: int | None
) -> None:
    if plan.new_provenance:
        rows = [
            {
                "dataset_uri": p["b_uri"],
                "source_id": source_id,
                "city_id": city_id,
                "content_hash": p["content_hash"],
                "first_seen": now,
                "last_seen": now,
                "last_run_id": run_id,
                "removed": False,
                "removed_at": None,
            }
            for p in plan.new_provenance
        ]
        conn.execute(provenance.insert(), rows)
    if plan.touched_provenance:
        stmt = (
            update(provenance)
            .where(and_(provenance.c.dataset_uri == bindparam("b_uri"), provenance.c.source_id == source_id))
            .values(
                content_hash=bindparam("content_hash"),
                city_id=city_id,
                last_seen=now,
                last_run_id=run_id,
                removed=False,
                removed_at=None,
            )
        )
        conn.execute(stmt, plan.touched_provenance)


def mark_removed(conn: Connection, *, source_id: str, keep: Collection[str], now: datetime) -> list[str]:
    """Mark this source's provenance of every dataset not in ``keep`` removed; return those URIs, sorted.

    A dataset itself is marked removed only once no source vouches for it any more. Call this only after a complete
    (full) listing of the source: an incremental run does not list what did not change.
    """
    active = select(provenance.c.dataset_uri).where(
        and_(provenance.c.source_id == source_id, provenance.c.removed.is_(False))
    )
    keep_set = set(keep)
    dropped = sorted(uri for uri in conn.execute(active).scalars() if uri not in keep_set)
    for chunk in _chunks(dropped):
        conn.execute(
            update(provenance)
            .where(and_(provenance.c.source_id == source_id, provenance.c.dataset_uri.in_(chunk)))
            .values(removed=True, removed_at=now)
        )
        vouched = select(provenance.c.dataset_uri).where(
            and_(provenance.c.dataset_uri.in_(chunk), provenance.c.removed.is_(False))
        )
        orphans = sorted(set(chunk) - set(conn.execute(vouched).scalars()))
        if orphans:
            conn.execute(
                update(catalog_datasets)
                .where(and_(catalog_datasets.c.uri.in_(orphans), catalog_datasets.c.removed.is_(False)))
                .values(removed=True, removed_at=now)
            )
            remove_from_index(conn, orphans)
    return dropped


# -------------------------------------------------------------------------------------------------- reading


def count_active(conn: Connection, *, source_id: str) -> int:
    """Number of datasets this source currently vouches for."""
    stmt = (
        select(func.count())
        .select_from(provenance)
        .where(and_(provenance.c.source_id == source_id, provenance.c.removed.is_(False)))
    )
    return int(conn.execute(stmt).scalar_one())


_DATASET_COLUMNS = (
    catalog_datasets.c.uri,
    catalog_datasets.c.city_id,
    catalog_datasets.c.data,
    catalog_datasets.c.content_hash,
    catalog_datasets.c.issued,
    catalog_datasets.c.modified,
    catalog_datasets.c.first_seen,
    catalog_datasets.c.last_seen,
    catalog_datasets.c.changed_at,
    catalog_datasets.c.removed,
    catalog_datasets.c.removed_at,
)


def _provenance_of(conn: Connection, uris: Sequence[str]) -> dict[str, list[dict[str, Any]]]:
    found: dict[str, list[dict[str, Any]]] = {uri: [] for uri in uris}
    for chunk in _chunks(uris):
        stmt = select(provenance).where(provenance.c.dataset_uri.in_(chunk)).order_by(provenance.c.source_id)
        for row in conn.execute(stmt).mappings():
            entry = {k: v for k, v in row.items() if k not in ("dataset_uri", "content_hash")}
            found[row["dataset_uri"]].append(entry)
    return found


def _shape(row: Any, prov: list[dict[str, Any]]) -> dict[str, Any]:
    """One stored dataset: its JSON as ``dataset``, the catalogue record's fields and its provenance."""
    record = {k: v for k, v in row.items() if k != "data"}
    return {**record, "dataset": orjson.loads(row["data"]), "provenance": prov}


def get_dataset(conn: Connection, uri: str) -> dict[str, Any] | None:
    """A stored dataset (removed ones too, flagged) with every path it arrived by, or None."""
    row = conn.execute(select(*_DATASET_COLUMNS).where(catalog_datasets.c.uri == uri)).mappings().first()
    if row is None:
        return None
    return _shape(row, _provenance_of(conn, [uri])[uri])


def get_datasets(conn: Connection, uris: Sequence[str]) -> list[dict[str, Any]]:
    """The stored datasets of ``uris`` (as ``get_dataset``), in that order; unknown URIs are left out."""
    rows: dict[str, Any] = {}
    for chunk in _chunks(uris):
        rows.update(
            (row["uri"], row)
            for row in conn.execute(select(*_DATASET_COLUMNS).where(catalog_datasets.c.uri.in_(chunk))).mappings()
        )
    prov = _provenance_of(conn, list(rows))
    return [_shape(rows[uri], prov[uri]) for uri in uris if uri in rows]


def list_datasets(
    conn: Connection,
    *,
    city_id: str | None = None,
    source_id: str | None = None,
    include_removed: bool = False,
    limit: int = 100,
    offset: int = 0,
) -> list[dict[str, Any]]:
    """Stored datasets ordered by URI, filtered by city and/or by a source that (still) lists them."""
    stmt = select(*_DATASET_COLUMNS)
    if city_id is not None:
        stmt = stmt.where(catalog_datasets.c.city_id == city_id)
    if not include_removed:
        stmt = stmt.where(catalog_datasets.c.removed.is_(False))
    if source_id is not None:
        via = [provenance.c.dataset_uri == catalog_datasets.c.uri, provenance.c.source_id == source_id]
        if not include_removed:
            via.append(provenance.c.removed.is_(False))
        stmt = stmt.where(select(provenance.c.dataset_uri).where(and_(*via)).exists())
    rows = conn.execute(stmt.order_by(catalog_datasets.c.uri).limit(limit).offset(offset)).mappings().all()
    prov = _provenance_of(conn, [row["uri"] for row in rows])
    return [_shape(row, prov[row["uri"]]) for row in rows]
