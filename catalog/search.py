"""Search over the catalogue, the only code that issues SQL on the search tables (``catalog.search_tables``).

``catalog.store`` keeps the index current in the harvest's own transaction: :func:`index_datasets` for every
dataset it creates or rewrites, :func:`remove_from_index` for every dataset no source vouches for any more.

Text is folded in Python (``catalog.search_tables.fold``) before either database sees it, so SQLite FTS5 and
PostgreSQL's ``simple`` configuration index the same words and ``Tromsø`` finds ``Tromso`` and back. Every word of a
query must match; results are ranked by bm25 (SQLite) or ``ts_rank`` (PostgreSQL), title above keywords above
description.
Filters and facets use normalised codes: EU data-theme and file-type codes (``TRAN``, ``CSV``), SPDX licence ids
(``CC-BY-4.0``; an unknown licence keeps its compared spelling), casefolded keywords, MQA quality bands.
A city's country comes from the registry the caller passes in :attr:`SearchQuery.countries`.
"""

from __future__ import annotations

import dataclasses
import functools
from collections import Counter, defaultdict
from collections.abc import Collection, Iterator, Mapping, Sequence
from dataclasses import dataclass, field
from datetime import UTC, datetime
from enum import StrEnum
from typing import Any

import orjson
from sqlalchemy import (
    CTE,
    BindParameter,
    ColumnElement,
    CompoundSelect,
    Connection,
    Float,
    FromClause,
    Integer,
    Select,
    String,
    UnaryExpression,
    and_,
    bindparam,
    cast,
    column,
    delete,
    func,
    literal,
    literal_column,
    null,
    or_,
    select,
    table,
    true,
    union_all,
    update,
)
from sqlalchemy.dialects import postgresql, sqlite

from catalog.model import Dataset
from catalog.search_tables import (
    DEFAULT_FACETS,
    FTS_TABLE,
    MANY_VALUED,
    Facet,
    dataset_facets,
    documents,
    facets,
    folded,
    is_hvd,
    is_open,
    normalise,
    package_id,
    package_name,
    primary,
    utc_stamp,
    words,
)

__all__ = [
    "DEFAULT_FACETS",
    "MANY_VALUED",
    "QUALITY_BANDS",
    "Clause",
    "Facet",
    "SearchHit",
    "SearchQuery",
    "SearchResult",
    "SortKey",
    "TimeRange",
    "find_uri",
    "index_datasets",
    "remove_from_index",
    "search",
    "set_quality",
]

QUALITY_BANDS = ("excellent", "good", "sufficient", "bad")
CHUNK = 500


class SortKey(StrEnum):
    """What results can be ordered by (and, for the three times, filtered by with a :class:`TimeRange`)."""

    RELEVANCE = "relevance"  # only when there is a text query
    MODIFIED = "modified"  # the publisher's dct:modified; datasets without one come last either way
    CHANGED = "changed"  # when the hub last rewrote the dataset (CKAN's metadata_modified)
    CREATED = "created"  # when the hub first saw it (CKAN's metadata_created)
    TITLE = "title"
    NAME = "name"


@dataclass(frozen=True, slots=True)
class Clause:
    """Datasets with any of ``values`` (normalised with :func:`normalise`) for ``facet``; clauses are ANDed."""

    facet: Facet
    values: tuple[str, ...]


@dataclass(frozen=True, slots=True)
class TimeRange:
    """``low <= field <= high``, either bound open; ``field`` is a :class:`SortKey` with a time."""

    field: SortKey
    low: datetime | None = None
    high: datetime | None = None


@dataclass(frozen=True, slots=True)
class SearchQuery:
    """A search: words (all must match), filters, order, the page, and which facets to count."""

    text: str = ""
    clauses: tuple[Clause, ...] = ()
    ranges: tuple[TimeRange, ...] = ()
    open: bool | None = None
    hvd: bool | None = None
    sort: tuple[tuple[SortKey, bool], ...] = ((SortKey.RELEVANCE, True), (SortKey.MODIFIED, True))  # (key, desc)
    offset: int = 0
    limit: int = 20  # 0: counts and facets only
    facets: tuple[Facet, ...] = DEFAULT_FACETS
    facet_limit: int = 50
    countries: Mapping[str, str] = field(default_factory=dict)  # city id → country code


@dataclass(frozen=True, slots=True)
class SearchHit:
    """One dataset of the page, with what the index knows of it (the dataset itself is in ``catalog.store``)."""

    uri: str
    city_id: str
    name: str
    package_id: str
    score: float | None  # higher is better; None without a text query
    modified: str | None
    first_seen: datetime
    changed_at: datetime
    open: bool
    hvd: bool
    quality_band: str | None
    quality_score: int | None


@dataclass(frozen=True, slots=True)
class SearchResult:
    """The number of matches, one page of them, and the facet counts over all of them."""

    total: int
    hits: list[SearchHit]
    facets: dict[Facet, list[tuple[str, int]]]  # value → count, largest first, for each facet asked for


# -------------------------------------------------------------------------------------------------- writing


def _chunks(items: Sequence[str]) -> Iterator[Sequence[str]]:
    for start in range(0, len(items), CHUNK):
        yield items[start : start + CHUNK]


def _document(uri: str, city_id: str, ds: Dataset, values: dict[Facet, list[str]]) -> dict[str, Any]:
    title = folded(ds.title.values())
    codes = [f"{f.value}:{v}" for f in (Facet.THEME, Facet.FORMAT, Facet.LICENCE) for v in values[f]]
    return {
        "uri": uri,
        "city_id": city_id,
        "name": package_name(uri),
        "package_id": package_id(uri),
        "title_folded": title,
        "keywords_folded": folded(k for ks in ds.keywords.values() for k in ks),
        "text_folded": folded(ds.description.values()),
        "title_sort": " ".join(words(primary(ds.title)))[:200],
        "facet_codes": orjson.dumps(codes).decode(),
        "modified": utc_stamp(ds.modified),
        "open": is_open(ds),
        "hvd": is_hvd(ds),
        "quality_band": None,
        "quality_score": None,
    }


def index_datasets(
    conn: Connection,
    datasets: Sequence[tuple[str, str, Dataset]],
    *,
    now: datetime,
    dates: Mapping[str, tuple[datetime, datetime]] | None = None,
) -> None:
    """(Re)index ``(uri, city id, dataset)`` triples in the caller's transaction; the later of a URI listed twice wins.

    A re-indexed dataset keeps its first-seen time and quality band; ``dates`` gives (first seen, changed at) per URI
    when indexing stored datasets, else a new dataset is first seen ``now`` and every one is changed ``now``.
    """
    latest = {uri: (city_id, ds) for uri, city_id, ds in datasets}
    if not latest:
        return
    kept = _kept(conn, list(latest))
    remove_from_index(conn, list(latest))
    rows, pairs = [], {}
    for uri, (city_id, ds) in latest.items():
        values = dataset_facets(ds)
        previous = kept.get(uri, {})
        first_seen, changed_at = (dates or {}).get(uri) or (previous.get("first_seen", now), now)
        times = {"first_seen": first_seen, "changed_at": changed_at}
        rows.append({**_document(uri, city_id, ds, values), **previous, **times})
        pairs[uri] = [(facet.value, value) for facet, listed in values.items() for value in listed]
    insert = (postgresql.insert if conn.dialect.name == "postgresql" else sqlite.insert)(documents)
    inserted = conn.execute(insert.on_conflict_do_nothing().returning(documents.c.id, documents.c.uri), rows)
    facet_rows = [
        {"doc_id": row.id, "facet": facet, "value": value} for row in inserted for facet, value in pairs[row.uri]
    ]
    if facet_rows:
        conn.execute(facets.insert(), facet_rows)


def _kept(conn: Connection, uris: Sequence[str]) -> dict[str, dict[str, Any]]:
    """What re-indexing keeps: first seen and the quality band, by URI."""
    kept: dict[str, dict[str, Any]] = {}
    cols = (documents.c.uri, documents.c.first_seen, documents.c.quality_band, documents.c.quality_score)
    for chunk in _chunks(uris):
        for row in conn.execute(select(*cols).where(documents.c.uri.in_(chunk))).mappings():
            kept[row["uri"]] = {k: v for k, v in row.items() if k != "uri"}
    return kept


def remove_from_index(conn: Connection, uris: Collection[str]) -> None:
    """Take these datasets out of search, in the caller's transaction."""
    for chunk in _chunks(sorted(uris)):
        ids = select(documents.c.id).where(documents.c.uri.in_(chunk))
        conn.execute(delete(facets).where(facets.c.doc_id.in_(ids)))
        conn.execute(delete(documents).where(documents.c.uri.in_(chunk)))


def set_quality(conn: Connection, uri: str, band: str | None, score: int | None) -> bool:
    """Record a dataset's MQA band (one of :data:`QUALITY_BANDS`) and score; False when it is not indexed."""
    if band is not None and band not in QUALITY_BANDS:
        raise ValueError(f"quality band {band!r} is not one of {', '.join(QUALITY_BANDS)}")
    stmt = update(documents).where(documents.c.uri == uri).values(quality_band=band, quality_score=score)
    return bool(conn.execute(stmt).rowcount)


# -------------------------------------------------------------------------------------------------- reading


def find_uri(conn: Connection, ref: str) -> str | None:
    """The URI of the indexed dataset whose CKAN name, CKAN id or URI is ``ref``."""
    cond = or_(documents.c.name == ref, documents.c.package_id == ref, documents.c.uri == ref)
    found = conn.execute(select(documents.c.uri).where(cond).limit(1)).scalar()
    return str(found) if found is not None else None


_TIMES = {SortKey.MODIFIED: documents.c.modified, SortKey.CHANGED: documents.c.changed_at}
_TIMES |= {SortKey.CREATED: documents.c.first_seen}
_ORDER = {**_TIMES, SortKey.TITLE: documents.c.title_sort, SortKey.NAME: documents.c.name}
_HIT_COLUMNS = [documents.c[f.name] for f in dataclasses.fields(SearchHit) if f.name != "score"]
_HITS = select(documents.c.id, *_HIT_COLUMNS).where(documents.c.id.in_(bindparam("ids", expanding=True)))
_KIND = String(16)


@dataclass(frozen=True, slots=True)
class _Shape:
    """What the SQL of a search depends on; everything else is a parameter, so statements are built once a shape."""

    dialect: str
    text: bool
    clauses: tuple[Facet, ...]
    flags: tuple[bool, bool]  # open, hvd filtered
    ranges: tuple[tuple[SortKey, bool, bool], ...]  # field, low given, high given
    sort: tuple[tuple[SortKey, bool], ...]
    facets: frozenset[Facet]
    page: bool


def search(conn: Connection, query: SearchQuery) -> SearchResult:
    """One page of the datasets matching ``query``, best first, with the total and the facet counts.

    One statement answers it all: the matches (with their rank) are gathered once, then the page, the total and
    each facet are read from them; theme, format and licence are counted from each match's ``facet_codes``.
    """
    terms = words(query.text)
    shape = _Shape(
        conn.dialect.name,
        bool(terms),
        tuple(c.facet for c in query.clauses),
        (query.open is not None, query.hvd is not None),
        tuple((r.field, r.low is not None, r.high is not None) for r in query.ranges),
        query.sort,
        frozenset(query.facets) | ({Facet.CITY} if Facet.COUNTRY in query.facets else set()),
        query.limit > 0,
    )
    page: list[tuple[int, int, float | None]] = []
    found: dict[str, Counter[str]] = defaultdict(Counter)
    for kind, value, n, rank in conn.execute(_statement(shape), _params(query, terms)):
        if kind == "page":
            page.append((int(n), int(value), rank))
        elif kind == "codes":
            facet, _, code = value.partition(":")
            found[facet][code] += int(n)
        else:
            found[kind][value or ""] += int(n)
    return SearchResult(total=found["total"][""], hits=_hits(conn, sorted(page)), facets=_counts(query, found))


def _params(query: SearchQuery, terms: list[str]) -> dict[str, Any]:
    """The values of a search's statement (see :func:`_statement` for their names)."""
    params: dict[str, Any] = {"terms": " ".join(terms), "limit": query.limit, "offset": query.offset}
    params["phrase"] = " ".join(f'"{term}"' for term in terms)  # quoted: only whole words, never FTS5 syntax
    for i, clause in enumerate(query.clauses):
        values = sorted({normalise(clause.facet, v) for v in clause.values})
        if clause.facet is Facet.COUNTRY:
            values = sorted(city for city, country in query.countries.items() if country in values)
        params[f"clause{i}"] = values
    params |= {"open": query.open, "hvd": query.hvd}
    for i, span in enumerate(query.ranges):
        params[f"low{i}"], params[f"high{i}"] = _bound(span.field, span.low), _bound(span.field, span.high)
    return params


def _bound(key: SortKey, moment: datetime | None) -> str | datetime | None:
    """A time as the column compares it: the publisher's ``modified`` is a UTC string."""
    if moment is None:
        return None
    aware = moment if moment.tzinfo else moment.replace(tzinfo=UTC)
    return utc_stamp(aware.isoformat()) if key is SortKey.MODIFIED else aware


@functools.lru_cache(maxsize=256)
def _statement(shape: _Shape) -> CompoundSelect[Any]:
    """The one statement of a search of this shape: (kind, value, count or position, score) rows."""
    source: FromClause = documents
    conds: list[ColumnElement[bool]] = []
    score: ColumnElement[Any] = cast(null(), Float)
    if shape.text and shape.dialect == "postgresql":
        tsquery = func.plainto_tsquery(literal_column("'simple'::regconfig"), bindparam("terms", type_=String))
        conds.append(documents.c.search_vector.bool_op("@@")(tsquery))
        score = func.ts_rank(documents.c.search_vector, tsquery, 1, type_=Float)  # 1: divided by 1 + log(length)
    elif shape.text:
        fts = table(FTS_TABLE, column("rowid", Integer), column("rank", Float), column(FTS_TABLE, String))
        source = fts.join(documents, documents.c.id == fts.c.rowid)
        conds.append(fts.c[FTS_TABLE].op("MATCH")(bindparam("phrase", type_=String)))
        score = -fts.c.rank
    conds += _conditions(shape)
    cols = (documents.c.id, documents.c.city_id, documents.c.quality_band, documents.c.facet_codes, *_TIMES.values())
    m = select(*cols, score.label("score")).select_from(source).where(*conds).cte("matched")
    if shape.text:  # one full-text pass, and one rank per match, for everything below
        m = m.prefix_with("MATERIALIZED")
    return union_all(*_parts(shape, m))


def _conditions(shape: _Shape) -> list[ColumnElement[bool]]:
    conds: list[ColumnElement[bool]] = []
    for i, facet in enumerate(shape.clauses):
        values: BindParameter[Any] = bindparam(f"clause{i}", expanding=True)
        if facet in (Facet.CITY, Facet.COUNTRY):
            conds.append(documents.c.city_id.in_(values))
        elif facet is Facet.QUALITY:
            conds.append(documents.c.quality_band.in_(values))
        else:
            tagged = select(facets.c.doc_id).where(facets.c.facet == facet.value, facets.c.value.in_(values))
            conds.append(documents.c.id.in_(tagged))
    for name, filtered in zip(("open", "hvd"), shape.flags, strict=True):
        if filtered:
            conds.append(documents.c[name] == bindparam(name))
    for i, (key, low, high) in enumerate(shape.ranges):
        conds += [_TIMES[key] >= bindparam(f"low{i}")] if low else []
        conds += [_TIMES[key] <= bindparam(f"high{i}")] if high else []
    return conds


def _order_by(shape: _Shape, m: CTE) -> list[UnaryExpression[Any]]:
    """The page's order; the matches carry the time keys, title and name are read from the documents."""
    order = []
    for key, desc in shape.sort:
        if key is SortKey.RELEVANCE:
            order += [m.c.score.desc()] if shape.text else []
        else:
            col = m.c[_TIMES[key].name] if key in _TIMES else _ORDER[key]
            order.append((col.desc() if desc else col.asc()).nulls_last())
    return [*order, m.c.id.asc()]


def _part(kind: str, value: ColumnElement[Any], n: ColumnElement[Any], score: Any = None) -> Select[Any]:
    return select(literal(kind, _KIND), value, n, score if score is not None else cast(null(), Float))


def _parts(shape: _Shape, m: CTE) -> list[Select[Any]]:
    """The pieces of the answer: the total, the page, and each facet asked for."""
    parts = [_part("total", literal("", String), func.count()).select_from(m)]
    if shape.page:
        order = _order_by(shape, m)
        position = func.row_number().over(order_by=order).label("position")
        ranked = select(m.c.id, m.c.score, position)
        if {key for key, _ in shape.sort} & {SortKey.TITLE, SortKey.NAME}:
            ranked = ranked.select_from(m.join(documents, documents.c.id == m.c.id))
        best = ranked.order_by(*order).limit(bindparam("limit")).offset(bindparam("offset")).subquery("page")
        parts.append(_part("page", cast(best.c.id, String), best.c.position, best.c.score))
    if Facet.CITY in shape.facets:
        parts.append(_part("city", m.c.city_id, func.count()).group_by(m.c.city_id))
    if Facet.QUALITY in shape.facets:
        band = _part("quality", m.c.quality_band, func.count()).where(m.c.quality_band.is_not(None))
        parts.append(band.group_by(m.c.quality_band))
    if shape.facets & {Facet.THEME, Facet.FORMAT, Facet.LICENCE}:
        parts.append(_codes(m, shape.dialect))
    if Facet.KEYWORD in shape.facets:
        # An outer join, so that the planner walks the matches and looks their keywords up rather than the other
        # way round (it cannot tell how few the matches are); the (NULL, NULL) group of the rest is ignored.
        joined = m.outerjoin(facets, and_(facets.c.doc_id == m.c.id, facets.c.facet == Facet.KEYWORD.value))
        keywords = _part("keyword", facets.c.value, func.count()).select_from(joined)
        parts.append(keywords.group_by(facets.c.value))
    return parts


def _codes(m: CTE, dialect: str) -> Select[Any]:
    """Theme, format and licence counts: the elements of the matches' ``facet_codes`` arrays, grouped."""
    if dialect == "postgresql":
        each = func.json_array_elements_text(cast(m.c.facet_codes, postgresql.JSON))
        elements = each.table_valued("value").render_derived()
    else:
        elements = func.json_each(m.c.facet_codes).table_valued("value")
    codes = _part("codes", elements.c.value, func.count()).select_from(m.join(elements, true()))
    return codes.group_by(elements.c.value)


def _hits(conn: Connection, page: list[tuple[int, int, float | None]]) -> list[SearchHit]:
    """The page's documents, in order, from its (position, id, score) rows."""
    if not page:
        return []
    by_id = {row.id: row._mapping for row in conn.execute(_HITS, {"ids": [i for _, i, _ in page]})}
    return [
        SearchHit(**{k: v for k, v in by_id[i].items() if k != "id"}, score=score) for _, i, score in page if i in by_id
    ]


def _counts(query: SearchQuery, found: dict[str, Counter[str]]) -> dict[Facet, list[tuple[str, int]]]:
    """Each facet asked for, largest first then by value, at most ``facet_limit`` values; countries from cities."""
    if Facet.COUNTRY in query.facets:
        for city, count in found["city"].items():
            if city in query.countries:
                found["country"][query.countries[city]] += count
    return {
        f: sorted(found[f.value].items(), key=lambda item: (-item[1], item[0]))[: query.facet_limit]
        for f in query.facets
    }
