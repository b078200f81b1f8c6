"""The ``datastore`` source kind: a CKAN datastore table, paged, mapped row by row onto Smart Data Model entities.

The table is read with ``datastore_search?resource_id=…&limit=…&offset=…`` until ``offset`` reaches the table's
``total`` or a page comes back empty; the offset advances by the rows actually received, since CKAN caps ``limit``
at its ``rows_max``. Rows become entities through the declarative mapping of ``options.mapping``
(:mod:`harvester.sources.datastore_mapping`, documented in ``docs/sources.md``).
"""

from __future__ import annotations

import os
from collections.abc import AsyncIterator, Mapping, Sequence
from dataclasses import dataclass
from typing import Any, ClassVar
from urllib.parse import urlencode, urlsplit

from pydantic import BaseModel, ConfigDict, Field

from harvester.http import FetchResult, HttpClient
from harvester.sources.base import HarvestBatch, Record
from harvester.sources.datastore_mapping import (
    DatastoreMapping,
    TableContext,
    table_records,
    validate_options,
)
from harvester.sources.gbfs import parse_json
from hub.cities import City, Source, SourceKind
from hub.errors import PayloadInvalid
from schemas.findings import Finding, Severity

SEARCH_ACTION = "datastore_search"


class DatastoreOptions(BaseModel):
    """``options`` of a datastore source."""

    model_config = ConfigDict(extra="forbid")

    resource_id: str = Field(min_length=1)
    mapping: DatastoreMapping
    page_size: int = Field(default=1000, ge=1, le=32000)  # 32000 is CKAN's default rows_max


@dataclass(frozen=True, slots=True)
class DatastorePage:
    """One page of a table: where it starts, its rows, the table's total as the page states it, and its size."""

    url: str
    offset: int
    rows: list[Any]
    total: int | None
    size: int


def search_url(url: str, resource_id: str, **params: int) -> str:
    """The ``datastore_search`` URL of a resource; ``url`` may be the action itself or the API's action base."""
    if not urlsplit(url).path.rstrip("/").endswith(SEARCH_ACTION):
        url = url.rstrip("/") + "/" + SEARCH_ACTION
    query = urlencode({"resource_id": resource_id, **params})
    return f"{url}{'&' if '?' in url else '?'}{query}"


def ckan_error(error: Any) -> str:
    """The message of a CKAN error object: ``message``, else its field errors (validation), else its type."""
    if not isinstance(error, dict):
        return str(error or "no message")
    if error.get("message"):
        return str(error["message"])
    fields = "; ".join(f"{k}: {v}" for k, v in error.items() if k not in ("__type", "message"))
    return f"{error.get('__type', 'error')}: {fields}" if fields else str(error.get("__type", "no message"))


def page_rows(result: FetchResult) -> tuple[list[Any], int | None]:
    """The rows and the table total of a CKAN envelope; PayloadInvalid for ``success: false`` or another shape."""
    doc = parse_json(result)
    if doc.get("success") is False:
        raise PayloadInvalid(f"GET {result.url}: CKAN answered success=false: {ckan_error(doc.get('error'))}")
    body = doc.get("result")
    rows = body.get("records") if isinstance(body, dict) else None
    if not isinstance(body, dict) or not isinstance(rows, list):
        raise PayloadInvalid(f"GET {result.url}: not a datastore_search answer (no result.records array)")
    total = body.get("total")
    return rows, total if isinstance(total, int) and not isinstance(total, bool) else None


async def datastore_pages(
    client: HttpClient, url: str, resource_id: str, *, page_size: int, headers: Mapping[str, str]
) -> AsyncIterator[DatastorePage]:
    """Every page of a table, in order; stops at ``total``, at an empty page, or at a short page without a total."""
    offset = 0
    while True:
        result = await client.get(search_url(url, resource_id, limit=page_size, offset=offset), headers)
        rows, total = page_rows(result)
        yield DatastorePage(result.url, offset, rows, total, len(result.content))
        offset += len(rows)
        if not rows or (total is not None and offset >= total) or (total is None and len(rows) < page_size):
            return


def _observed(record: Record) -> str:
    entity = record.entity or {}
    times = [a["observedAt"] for a in entity.values() if isinstance(a, dict) and isinstance(a.get("observedAt"), str)]
    return max(times, default="")


def latest_per_entity(records: Sequence[Record]) -> tuple[list[Record], list[Finding]]:
    """One record per entity: the latest observation wins (the later row on a tie); a log table of readings
    would otherwise write one entity several times in one batch. Returns the kept records and a note."""
    latest: dict[str, int] = {}
    for position, record in enumerate(records):
        if record.entity is None:
            continue
        previous = latest.get(record.record_id)
        if previous is None or _observed(record) >= _observed(records[previous]):
            latest[record.record_id] = position
    kept = [r for i, r in enumerate(records) if r.entity is None or latest.get(r.record_id) == i]
    superseded = len(records) - len(kept)
    if not superseded:
        return kept, []
    message = f"{superseded} rows were older readings of entities the table also holds newer rows for"
    return kept, [Finding("datastore.superseded", Severity.INFO, "/records", message)]


class DatastoreAdapter:
    """Harvests one CKAN datastore table through the declarative mapping in the source's options."""

    kind: ClassVar[SourceKind] = SourceKind.DATASTORE

    async def harvest(self, client: HttpClient, city: City, source: Source) -> HarvestBatch:
        options = validate_options(DatastoreOptions, source.id, source.options)
        context = TableContext(city.id, source_url=search_url(source.url, options.resource_id))
        records: list[Record] = []
        size = 0
        pages = datastore_pages(
            client,
            source.url,
            options.resource_id,
            page_size=options.page_size,
            headers=source.header_values(os.environ),
        )
        async for page in pages:
            records += table_records(page.rows, options.mapping, context, start=page.offset)
            size += page.size
        kept, findings = latest_per_entity(records)
        return HarvestBatch(records=kept, bytes=size, findings=findings)
