"""``GET /api/v1/datasets``: full-text search over the federated catalogue, with filters, facets and paging.

Every filter takes several values (repeated, or comma-separated) and matches any of them; different filters must
all match. Values are normalised as the index stores them: ``licence=cc-by`` finds CC BY 4.0 however a publisher
spelled it, ``format=geojson`` finds ``GEOJSON``, ``theme`` takes EU data-theme codes or IRIs. An unknown
parameter, a ``per_page`` over 100 or an unreadable value is a 400 problem naming it; an ``Accept`` the API cannot
answer (it speaks JSON) is a 406.
"""

from __future__ import annotations

from collections.abc import Mapping
from datetime import UTC, datetime
from typing import Annotated, Any

import orjson
from fastapi import APIRouter, Depends, Header, Query, Request
from fastapi.responses import Response

from api.state import HubState, hub_state
from catalog import store
from catalog.search import QUALITY_BANDS, Clause, Facet, SearchHit, SearchQuery, SortKey, TimeRange, search
from catalog.search_tables import dataset_facets
from hub.errors import PROBLEM_BASE, BadRequest, NordhubError
from schemas.licences import canonical_licence

router = APIRouter(prefix="/api/v1", tags=["catalogue search"])
JSON = "application/json"
MAX_PER_PAGE = 100
MAX_PAGE = 1_000_000
SORTS: dict[str, tuple[SortKey, bool]] = {
    "relevance": (SortKey.RELEVANCE, True),
    "modified": (SortKey.MODIFIED, False),
    "-modified": (SortKey.MODIFIED, True),
    "title": (SortKey.TITLE, False),
    "-title": (SortKey.TITLE, True),
}
FILTERS = {
    "city": Facet.CITY,
    "country": Facet.COUNTRY,
    "theme": Facet.THEME,
    "keyword": Facet.KEYWORD,
    "format": Facet.FORMAT,
    "licence": Facet.LICENCE,
    "quality": Facet.QUALITY,
}
PARAMETERS = frozenset({"q", "open", "hvd", "modified_since", "sort", "page", "per_page", *FILTERS})
State = Annotated[HubState, Depends(hub_state)]
Many = Annotated[list[str] | None, Query()]


class NotAcceptableMedia(NordhubError):
    """The client accepts no media type this API answers with."""

    status = 406
    problem_type = PROBLEM_BASE + "not-acceptable"
    title = "Not acceptable"


def accepts_json(accept: str | None) -> bool:
    """True when an ``Accept`` header admits JSON (no header does; a range with ``q=0`` does not)."""
    for part in (accept or "*/*").split(","):
        media, *params = (p.strip().lower() for p in part.split(";"))
        refused = any(p.replace(" ", "") in ("q=0", "q=0.0", "q=0.00", "q=0.000") for p in params)
        if media in (JSON, "application/*", "*/*") and not refused:
            return True
    return False


def _values(raw: list[str] | None) -> tuple[str, ...]:
    return tuple(v.strip() for item in raw or () for v in item.split(",") if v.strip())


def _since(value: str | None) -> datetime | None:
    if value is None:
        return None
    try:
        moment = datetime.fromisoformat(value.strip())
    except ValueError:
        raise BadRequest(f"modified_since {value!r} is not an ISO 8601 date or date-time") from None
    return moment if moment.tzinfo else moment.replace(tzinfo=UTC)


def _clauses(filters: dict[str, tuple[str, ...]]) -> tuple[Clause, ...]:
    bad = [q for q in filters.get("quality", ()) if q.lower() not in QUALITY_BANDS]
    if bad:
        raise BadRequest(f"quality {', '.join(map(repr, bad))} is not one of {', '.join(QUALITY_BANDS)}")
    return tuple(Clause(FILTERS[name], values) for name, values in filters.items() if values)


def _sort(sort: str | None, text: str) -> tuple[tuple[SortKey, bool], ...]:
    if sort is not None and sort not in SORTS:
        raise BadRequest(f"sort {sort!r} is not one of {', '.join(SORTS)}")
    first = SORTS[sort or ("relevance" if text.strip() else "-modified")]
    return (first, (SortKey.MODIFIED, True)) if first[0] is SortKey.RELEVANCE else (first,)


def _check(request: Request, accept: str | None) -> None:
    if not accepts_json(accept):
        raise NotAcceptableMedia(f"cannot answer with any of {accept!r}: this API answers {JSON}")
    unknown = sorted(set(request.query_params) - PARAMETERS)
    if unknown:
        raise BadRequest(f"unknown query parameter(s) {', '.join(unknown)}; known are {', '.join(sorted(PARAMETERS))}")


@router.get("/datasets", summary="Search the federated catalogue: full text, filters, facets, sorting and paging")
def search_datasets(
    request: Request,
    state: State,
    q: str = "",
    city: Many = None,
    country: Many = None,
    theme: Many = None,
    keyword: Many = None,
    format: Many = None,
    licence: Many = None,
    quality: Many = None,
    open: bool | None = None,
    hvd: bool | None = None,
    modified_since: str | None = None,
    sort: str | None = None,
    page: Annotated[int, Query(ge=1, le=MAX_PAGE)] = 1,
    per_page: Annotated[int, Query(ge=1, le=MAX_PER_PAGE)] = 20,
    accept: Annotated[str | None, Header()] = None,
) -> Response:
    """Datasets matching every filter given, best first when there is a text query, newest first otherwise."""
    _check(request, accept)
    filters = dict(zip(FILTERS, map(_values, (city, country, theme, keyword, format, licence, quality)), strict=True))
    since = _since(modified_since)
    query = SearchQuery(
        text=q,
        clauses=_clauses(filters),
        ranges=(TimeRange(SortKey.MODIFIED, low=since),) if since else (),
        open=open,
        hvd=hvd,
        sort=_sort(sort, q),
        offset=(page - 1) * per_page,
        limit=per_page,
        countries={c.id: c.country for c in state.registry.cities},
    )
    with state.db.connect() as conn:
        result = search(conn, query)
        records = {r["uri"]: r for r in store.get_datasets(conn, [hit.uri for hit in result.hits])}
    body = {
        "total": result.total,
        "page": page,
        "per_page": per_page,
        "pages": -(-result.total // per_page),
        "results": [_item(hit, records[hit.uri], query.countries) for hit in result.hits if hit.uri in records],
        "facets": {facet.value: _facet(state, facet, counts) for facet, counts in result.facets.items()},
    }
    return Response(orjson.dumps(body), media_type=JSON)


def _facet(state: HubState, facet: Facet, counts: list[tuple[str, int]]) -> list[dict[str, Any]]:
    names = {c.id: c.name for c in state.registry.cities} if facet is Facet.CITY else {}
    entries: list[dict[str, Any]] = [{"value": value, "count": count} for value, count in counts]
    for entry in entries:
        if entry["value"] in names:
            entry["label"] = names[entry["value"]]
        elif facet is Facet.LICENCE and (licence := canonical_licence(entry["value"])):
            entry["label"] = licence.name
    return entries


def _item(hit: SearchHit, record: dict[str, Any], countries: Mapping[str, str]) -> dict[str, Any]:
    """One result: the dataset's own text in every language given, and its codes as the filters know them."""
    ds = store.dataset_from_dict(record["dataset"])
    codes = dataset_facets(ds)
    return {
        "uri": hit.uri,
        "name": hit.name,
        "title": ds.title,
        "description": ds.description,
        "keywords": ds.keywords,
        "city": hit.city_id,
        "country": countries.get(hit.city_id),
        "publisher": ds.publisher.name if ds.publisher else None,
        "themes": codes[Facet.THEME],
        "formats": codes[Facet.FORMAT],
        "licences": codes[Facet.LICENCE],
        "open": hit.open,
        "hvd": hit.hvd,
        "quality": {"band": hit.quality_band, "score": hit.quality_score} if hit.quality_band else None,
        "issued": ds.issued,
        "modified": ds.modified,
        "landing_page": ds.landing_page,
        "score": round(hit.score, 6) if hit.score is not None else None,
        "ckan": f"/api/3/action/package_show?id={hit.name}",
    }
