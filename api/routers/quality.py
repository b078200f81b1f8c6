"""Metadata quality (MQA), licence verdicts and duplicate candidates of the federated catalogue.

Scores use the link checker's cache for the two URL indicators (a URL not checked yet earns nothing; the hub's own
URLs, under ``NORDHUB_BASE_URL``, count as answering: the hub serves them and its guard would refuse them) and a
structural check of DCAT-AP's mandatory properties for "DCAT-AP compliant" (``catalog.mqa.mandatory_fields_present``,
not SHACL per dataset). The MQA lists are read from the schema store (``<data_dir>/schemas/mqa/vocabs``).
"""

from __future__ import annotations

from collections import defaultdict
from collections.abc import Iterator, Mapping
from dataclasses import dataclass
from typing import Annotated, Any

from fastapi import APIRouter, Body, Depends, Query
from pydantic import BaseModel, Field
from sqlalchemy import Connection

from api.state import HubState, hub_state
from catalog.dedup import find_candidates
from catalog.licence_verdicts import combine, normalise_licence
from catalog.linkcheck import cached_results, distribution_urls
from catalog.model import Dataset
from catalog.mqa import (
    MqaScore,
    MqaVocabularies,
    aggregate,
    dqv_measurements,
    load_mqa_vocabularies,
    mandatory_fields_present,
    score_dataset,
)
from catalog.store import dataset_from_dict, get_dataset, list_datasets
from hub.errors import BadRequest, NotFound

router = APIRouter(prefix="/api/v1", tags=["quality and licences"])
State = Annotated[HubState, Depends(hub_state)]
PAGE = 1000
COMPLIANCE = "structural: DCAT-AP 3.0.1 mandatory properties present (not SHACL per dataset)"


@dataclass(frozen=True, slots=True)
class _Stored:
    """A stored dataset with where it lives: its city and the sources that still list it."""

    dataset: Dataset
    city: str
    sources: tuple[str, ...]


def _stored(row: Mapping[str, Any]) -> _Stored:
    sources = tuple(p["source_id"] for p in row["provenance"] if not p["removed"])
    return _Stored(dataset_from_dict(row["dataset"]), row["city_id"], sources)


def _scope(conn: Connection, city: str | None, source: str | None) -> Iterator[_Stored]:
    offset = 0
    while rows := list_datasets(conn, city_id=city, source_id=source, limit=PAGE, offset=offset):
        yield from (_stored(row) for row in rows)
        offset += PAGE


def _check_scope(state: HubState, city: str | None, source: str | None) -> None:
    if city is not None and all(c.id != city for c in state.registry.cities):
        raise NotFound(f"no city {city!r}")
    if source is not None and all(s.id != source for _c, s in state.registry.sources()):
        raise NotFound(f"no source {source!r}")


def _vocab(state: HubState) -> MqaVocabularies:
    return load_mqa_vocabularies(state.settings.data_dir / "schemas" / "mqa" / "vocabs")


def _links(state: HubState, conn: Connection, urls: list[str]) -> dict[str, bool]:
    """The link checker's answers; the hub's own URLs (its generated records) are served here, so they answer."""
    links = {url: result.ok for url, result in cached_results(conn, urls).items()}
    own = state.settings.base_url.rstrip("/") + "/"
    links.update((url, True) for url in urls if url.startswith(own))
    return links


def _score(ds: Dataset, links: Mapping[str, bool], vocab: MqaVocabularies) -> MqaScore:
    return score_dataset(ds, link_status=links, compliant=mandatory_fields_present(ds), vocab=vocab)


def _brief(scores: list[MqaScore]) -> dict[str, Any]:
    summary = aggregate(scores)
    return {
        "datasets": summary.datasets,
        "points": round(summary.points, 2),
        "band": summary.band and summary.band.value,
    }


@router.get("/quality", summary="MQA of the catalogue, a city or a source: the weighted share per indicator")
def quality_summary(
    state: State,
    city: Annotated[str | None, Query(description="Only this city's datasets")] = None,
    source: Annotated[str | None, Query(description="Only the datasets this source lists")] = None,
) -> dict[str, Any]:
    _check_scope(state, city, source)
    vocab = _vocab(state)
    with state.db.connect() as conn:
        stored = list(_scope(conn, city, source))
        urls = distribution_urls(s.dataset for s in stored)
        links = _links(state, conn, urls)
    scores = [_score(s.dataset, links, vocab) for s in stored]
    by_city: dict[str, list[MqaScore]] = defaultdict(list)
    by_source: dict[str, list[MqaScore]] = defaultdict(list)
    for item, score in zip(stored, scores, strict=True):
        by_city[item.city].append(score)
        for source_id in item.sources:
            by_source[source_id].append(score)
    return {
        "scope": {"city": city, "source": source},
        **aggregate(scores).to_json(),
        "compliance_check": COMPLIANCE,
        "links": {"urls": len(urls), "checked": len(links), "ok": sum(links.values())},
        "by_city": {key: _brief(value) for key, value in sorted(by_city.items())},
        "by_source": {key: _brief(value) for key, value in sorted(by_source.items())},
    }


@router.get("/quality/datasets/{uri:path}", summary="One dataset's MQA with every indicator and its DQV measurements")
def dataset_quality(state: State, uri: str) -> dict[str, Any]:
    vocab = _vocab(state)
    with state.db.connect() as conn:
        row = get_dataset(conn, uri)
        if row is None:
            raise NotFound(f"no dataset {uri!r}")
        ds = dataset_from_dict(row["dataset"])
        urls = distribution_urls([ds])
        checks = cached_results(conn, urls)
        links = _links(state, conn, urls)
    score = _score(ds, links, vocab)
    return {
        **score.to_json(),
        "compliance_check": COMPLIANCE,
        "links": [r.to_json() for r in checks.values()],
        "measurements": [{"metric": m, "computed_on": on, "value": v} for m, on, v in dqv_measurements(score)],
    }


class CombineRequest(BaseModel):
    datasets: list[str] = Field(description="URIs of stored datasets")


def _publisher(ds: Dataset) -> str | None:
    """The publisher's name in the first language it gave (its own), as the licensor named in attributions."""
    if ds.publisher is None:
        return None
    return next((name for name in ds.publisher.name.values() if name.strip()), None) or ds.publisher.uri


def _country(state: HubState, city_id: str) -> str | None:
    try:
        return state.registry.city(city_id).country
    except KeyError:
        return None


@router.post("/licences/combine", summary="Can these datasets be combined, under which licence, with what credit")
def combine_licences(state: State, request: Annotated[CombineRequest, Body()]) -> dict[str, Any]:
    uris = list(dict.fromkeys(request.datasets))
    if not uris:
        raise BadRequest("give at least one dataset URI in 'datasets'")
    with state.db.connect() as conn:
        rows = {uri: get_dataset(conn, uri) for uri in uris}
    missing = [uri for uri, row in rows.items() if row is None]
    if missing:
        raise NotFound("no dataset " + ", ".join(repr(uri) for uri in missing))
    items = []
    for uri, row in rows.items():
        assert row is not None
        ds = dataset_from_dict(row["dataset"])
        items.append((uri, ds.licence, _publisher(ds), _country(state, row["city_id"])))
    return combine(items).to_json()


@router.get("/licences/normalise", summary="The one licence record a licence text denotes, or why none")
def normalise(value: Annotated[str, Query(description="A licence URL, CKAN id, SPDX id, EU code or name")]) -> Any:
    return {"value": value, **normalise_licence(value).to_json()}


@router.get("/dedup/candidates", summary="Datasets under different URIs that look the same (flagged, not merged)")
def dedup_candidates(
    state: State, city: Annotated[str | None, Query(description="Only groups with a dataset of this city")] = None
) -> dict[str, Any]:
    if city is not None:
        _check_scope(state, city, None)
    with state.db.connect() as conn:
        stored = {s.dataset.uri: s for s in _scope(conn, None, None)}
    groups = find_candidates(s.dataset for s in stored.values())
    if city is not None:
        groups = [g for g in groups if any(stored[uri].city == city for uri in g.uris)]
    return {
        "groups": [
            {
                **group.to_json(),
                "datasets": [
                    {"uri": uri, "city": stored[uri].city, "sources": list(stored[uri].sources)} for uri in group.uris
                ],
            }
            for group in groups
        ],
        "count": len(groups),
    }
