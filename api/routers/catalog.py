"""The federated catalogue in DCAT-AP 3.0.1: ``/catalog``, ``/catalog/{city}`` and ``/datasets/{id}``.

Representations by ``Accept`` or by extension (the extension wins): Turtle (``.ttl``, the default), JSON-LD
(``.jsonld``), RDF/XML (``.rdf``), N-Triples (``.nt``); a dataset also as the hub's JSON (its default). Catalogue
pages are Hydra ``PartialCollectionView``s (``?page=&per_page=``, at most 1000 a page) and can be limited to what the
hub changed since an instant (``?modified_since=``). ``?profile=dcat-ap-no`` writes DCAT-AP-NO 2.0 for a Norwegian
city's sub-catalogue or a Norwegian dataset. Documents are streamed: pyoxigraph serialises them piece by piece.
"""

from __future__ import annotations

from collections.abc import Callable
from dataclasses import dataclass
from datetime import UTC, date, datetime
from typing import Annotated, Any, ClassVar
from urllib.parse import urlencode

import orjson
import pyoxigraph as ox
from fastapi import APIRouter, Depends, Header, Query, Request
from fastapi.responses import Response, StreamingResponse
from sqlalchemy import Connection

from api.accept import accept_ranges
from api.state import HubState, hub_state
from catalog.dcat_out import DcatWriter, OutputProfile, Quality, missing_mandatory
from catalog.linkcheck import cached_status
from catalog.model import Dataset
from catalog.mqa import (
    MqaVocabularies,
    dqv_measurements,
    load_mqa_vocabularies,
    mandatory_fields_present,
    score_dataset,
)
from catalog.own import OWN_PREFIX, OwnItem, listed, own_item, sdm_schemas
from catalog.publish import (
    CataloguePage,
    Selection,
    StoredDataset,
    page_chunks,
    read_page,
    serialise,
    stored_dataset,
    stored_row,
    write_location,
    write_own,
    write_stored,
)
from catalog.store import dataset_to_json
from hub.cities import City
from hub.errors import PROBLEM_BASE, BadRequest, NordhubError, NotFound
from schemas.dcat_normalise import Vocabularies, load_vocabularies

router = APIRouter(tags=["catalogue"])
MAX_PER_PAGE = 1000
MAX_PAGE = 1_000_000
DEFAULT_PER_PAGE = 100
JSON = "application/json"


class NotAcceptable(NordhubError):
    """No representation the client accepts (or the profile it asked for cannot express the resource)."""

    status: ClassVar[int] = 406
    problem_type: ClassVar[str] = PROBLEM_BASE + "not-acceptable"
    title: ClassVar[str] = "Not acceptable"


@dataclass(frozen=True, slots=True)
class Syntax:
    """A representation: its media type, its extension and the pyoxigraph format (None: the hub's JSON)."""

    media_type: str
    extension: str
    rdf: ox.RdfFormat | None


TURTLE = Syntax("text/turtle", "ttl", ox.RdfFormat.TURTLE)
SYNTAXES = (
    TURTLE,
    Syntax("application/ld+json", "jsonld", ox.RdfFormat.JSON_LD),
    Syntax("application/rdf+xml", "rdf", ox.RdfFormat.RDF_XML),
    Syntax("application/n-triples", "nt", ox.RdfFormat.N_TRIPLES),
)
JSON_SYNTAX = Syntax(JSON, "json", None)
RDF_RESPONSES: dict[int | str, dict[str, Any]] = {
    200: {"description": "DCAT-AP in the negotiated RDF syntax", "content": {s.media_type: {} for s in SYNTAXES}}
}


def _accepted(accept: str) -> list[str]:
    """The media ranges of an Accept header, most preferred first (q=0 ranges dropped)."""
    ranked = [(-q, position, media) for position, (media, q) in enumerate(accept_ranges(accept)) if q > 0]
    return [media for _q, _p, media in sorted(ranked)]


def negotiate(accept: str | None, extension: str | None, offered: tuple[Syntax, ...], default: Syntax) -> Syntax:
    """The representation for an extension (which wins) or an Accept header; 406 when none is acceptable."""
    if extension is not None:
        for syntax in offered:
            if syntax.extension == extension:
                return syntax
        raise NotFound(f"no representation with extension .{extension}: {', '.join(s.extension for s in offered)}")
    if not accept:
        return default
    for media in _accepted(accept):
        if media in ("*/*", default.media_type.split("/")[0] + "/*"):
            return default
        for syntax in offered:
            if syntax.media_type == media:
                return syntax
    media_types = ", ".join(s.media_type for s in offered)
    raise NotAcceptable(f"cannot answer with any of {accept!r}; offered are {media_types}")


def parse_since(text: str | None) -> datetime | None:
    """An ISO 8601 date (midnight UTC) or date-time (UTC when it has no zone); 400 when malformed."""
    if text is None:
        return None
    try:
        if len(text) == 10:
            return datetime.combine(date.fromisoformat(text), datetime.min.time(), UTC)
        moment = datetime.fromisoformat(text.replace("Z", "+00:00"))
    except ValueError:
        raise BadRequest(f"modified_since {text!r} is not an ISO 8601 date or date-time") from None
    return moment if moment.tzinfo is not None else moment.replace(tzinfo=UTC)


def _profile(text: str | None, *, norwegian: bool, what: str) -> OutputProfile:
    try:
        profile = OutputProfile(text or OutputProfile.DCAT_AP.value)
    except ValueError:
        known = ", ".join(p.value for p in OutputProfile)
        raise BadRequest(f"unknown profile {text!r}; known: {known}") from None
    if profile is OutputProfile.DCAT_AP_NO and not norwegian:
        raise BadRequest(f"profile dcat-ap-no is for Norwegian cities and datasets, not {what}")
    return profile


def _writer(state: HubState, profile: OutputProfile) -> DcatWriter:
    folder = state.settings.data_dir / "schemas" / "mqa" / "vocabs"
    synced = (folder / "file-types.csv").is_file()
    vocabularies = load_vocabularies(folder) if synced else Vocabularies()
    quality = _quality(state, load_mqa_vocabularies(folder)) if synced else None
    return DcatWriter(base_url=state.settings.base_url, profile=profile, vocabularies=vocabularies, quality=quality)


def _quality(state: HubState, vocab: MqaVocabularies) -> Quality:
    """The MQA of a dataset as DQV measurements, with the link checker's cached answers for its URLs."""

    def measure(ds: Dataset) -> list[tuple[str, str, float | bool]]:
        urls = [u for d in ds.distributions for u in (d.access_url, d.download_url) if u]
        with state.db.connect() as conn:
            links = cached_status(conn, urls)
        own = state.settings.base_url.rstrip("/")
        links.update({u: True for u in urls if u.startswith(own)})  # the hub answers for its own endpoints
        score = score_dataset(ds, link_status=links, compliant=mandatory_fields_present(ds), vocab=vocab)
        return dqv_measurements(score)

    return measure


def _stream(chunks: Any, syntax: Syntax) -> StreamingResponse:
    assert syntax.rdf is not None
    return StreamingResponse(serialise(chunks, syntax.rdf), media_type=syntax.media_type, headers={"Vary": "Accept"})


def _link(state: HubState, path: str, params: dict[str, str], per_page: int) -> Callable[[int], str]:
    base = state.settings.base_url.rstrip("/") + path

    def link(number: int) -> str:
        return f"{base}?{urlencode({**params, 'page': number, 'per_page': per_page})}"

    return link


@dataclass(frozen=True, slots=True)
class PageQuery:
    page: int
    per_page: int
    modified_since: str | None
    profile: str | None

    def check(self) -> None:
        if not 1 <= self.page <= MAX_PAGE:
            raise BadRequest(f"page must be between 1 and {MAX_PAGE} (got {self.page})")
        if not 1 <= self.per_page <= MAX_PER_PAGE:
            raise BadRequest(f"per_page must be between 1 and {MAX_PER_PAGE} (got {self.per_page})")


def page_query(
    page: Annotated[int, Query(description="Page number, from 1")] = 1,
    per_page: Annotated[int, Query(description=f"Datasets a page, 1..{MAX_PER_PAGE}")] = DEFAULT_PER_PAGE,
    modified_since: Annotated[str | None, Query(description="ISO 8601 date or date-time")] = None,
    profile: Annotated[str | None, Query(description="dcat-ap (default) or dcat-ap-no")] = None,
) -> PageQuery:
    query = PageQuery(page, per_page, modified_since, profile)
    query.check()
    return query


def _catalogue(
    request: Request, state: HubState, query: PageQuery, city: City | None, syntax: Syntax
) -> StreamingResponse:
    norwegian = city is not None and city.country == "NO"
    profile = _profile(query.profile, norwegian=norwegian, what=f"catalogue {city.id if city else 'of the hub'}")
    since = parse_since(query.modified_since)
    params = {k: v for k, v in (("modified_since", query.modified_since), ("profile", query.profile)) if v}
    link = _link(state, request.url.path, params, query.per_page)
    with state.db.connect() as conn:
        page = read_page(
            conn,
            base_url=state.settings.base_url,
            registry=state.registry,
            city=city,
            sel=Selection(city.id if city else None, since),
            number=query.page,
            size=query.per_page,
            link=link,
            contact=state.settings.contact,
        )
    _check_page(page)
    return _stream(page_chunks(page, _writer(state, profile)), syntax)


def _check_page(page: CataloguePage) -> None:
    if page.number > page.last:
        raise NotFound(f"page {page.number} is past the last page ({page.last}) of {page.size} a page")


State = Annotated[HubState, Depends(hub_state)]
Paging = Annotated[PageQuery, Depends(page_query)]
Accept = Annotated[str | None, Header()]


@router.get("/catalog", summary="The hub's federated DCAT-AP catalogue, paged", responses=RDF_RESPONSES)
def catalog(request: Request, state: State, query: Paging, accept: Accept = None) -> Response:
    return _catalogue(request, state, query, None, negotiate(accept, None, SYNTAXES, TURTLE))


@router.get("/catalog.{ext}", summary="The hub's catalogue in the format of the extension", responses=RDF_RESPONSES)
def catalog_ext(request: Request, state: State, query: Paging, ext: str) -> Response:
    return _catalogue(request, state, query, None, negotiate(None, ext, SYNTAXES, TURTLE))


@router.get(
    "/catalog/{city}",
    summary="A city's sub-catalogue (also /catalog/{city}.ttl and the like)",
    responses=RDF_RESPONSES,
)
def city_catalogue(request: Request, state: State, query: Paging, city: str, accept: Accept = None) -> Response:
    city_id, dot, ext = city.partition(".")
    try:
        member = state.registry.city(city_id)
    except KeyError:
        raise NotFound(f"no city {city_id!r}") from None
    syntax = negotiate(accept, ext if dot else None, SYNTAXES, TURTLE)
    return _catalogue(request, state, query, member, syntax)


@dataclass(frozen=True, slots=True)
class Found:
    """A dataset the hub can show: harvested (``row`` and ``stored``) or hub-described (``own``)."""

    city: City | None
    dataset: Dataset
    row: dict[str, Any] | None = None
    stored: StoredDataset | None = None
    own: OwnItem | None = None


@router.get(
    "/datasets/{dataset_id:path}",
    summary="One dataset: DCAT-AP in any RDF format, or the hub's JSON",
    responses=RDF_RESPONSES,
)
def dataset(state: State, dataset_id: str, accept: Accept = None, profile: str | None = None) -> Response:
    """A dataset by its URI (percent-encoded or not); hub-described ones also by ``ngsi-ld/{city}/{type}``."""
    offered = (*SYNTAXES, JSON_SYNTAX)
    base = state.settings.base_url.rstrip("/")
    uri = dataset_id if "://" in dataset_id or dataset_id.startswith("urn:") else f"{base}/datasets/{dataset_id}"
    with state.db.connect() as conn:
        found, syntax = _resolve(conn, state, uri), None
        if found is None and "." in uri.rsplit("/", 1)[-1]:
            stem, ext = uri.rsplit(".", 1)
            found = _resolve(conn, state, stem)
            syntax = negotiate(None, ext, offered, JSON_SYNTAX) if found is not None else None
    if found is None:
        raise NotFound(f"no dataset {uri!r}")
    syntax = syntax or negotiate(accept, None, offered, JSON_SYNTAX)
    norwegian = found.city is not None and found.city.country == "NO"
    out_profile = _profile(profile, norwegian=norwegian, what=f"dataset {found.dataset.uri}")
    if syntax.rdf is None:
        return Response(orjson.dumps(_json(found, out_profile)), media_type=JSON, headers={"Vary": "Accept"})
    writer = _writer(state, out_profile)
    if not _write_dataset(writer, found):
        notes = "; ".join(f.message for f in missing_mandatory(found.dataset, out_profile))
        raise NotAcceptable(f"dataset {found.dataset.uri} cannot be written in {out_profile}: {notes}")
    return _stream([writer.take()], syntax)


def _resolve(conn: Connection, state: HubState, uri: str) -> Found | None:
    base = state.settings.base_url.rstrip("/")
    if uri.startswith(base + OWN_PREFIX):
        city_id, _, entity_type = uri[len(base + OWN_PREFIX) :].partition("/")
        groups = listed(conn, registry=state.registry, base_url=base, tenants=[city_id])
        group = next((g for g in groups if g.type == entity_type), None)
        if group is None:
            return None
        contact = state.settings.contact
        item = own_item(conn, group, registry=state.registry, base_url=base, schemas=sdm_schemas(), contact=contact)
        return Found(state.registry.city(city_id), item.dataset, own=item)
    row = stored_row(conn, uri)
    if row is None:
        return None
    stored = stored_dataset(row, base_url=base, registry=state.registry)
    city = next((c for c in state.registry.cities if c.id == row["city_id"]), None)
    return Found(city, stored.dataset, row=row, stored=stored)


def _write_dataset(writer: DcatWriter, found: Found) -> bool:
    """Write the dataset's document; False when the profile cannot express it."""
    if found.stored is not None:
        return not write_stored(writer, found.stored)
    assert found.own is not None
    if found.city is not None:
        write_location(writer, writer.base_url, found.city)
    return not write_own(writer, found.own)


def _json(found: Found, profile: OutputProfile) -> dict[str, Any]:
    """The hub's JSON of a dataset: the stored record and every path it arrived by, or the hub's description."""
    findings = [f.to_dict() for f in missing_mandatory(found.dataset, profile)]
    if found.row is not None:
        record = {k: v for k, v in found.row.items() if k not in ("data", "provenance")}
        data = orjson.loads(found.row["data"])
        return {**record, "dataset": data, "provenance": found.row["provenance"], "findings": findings}
    assert found.own is not None
    service = found.own.service
    return {
        "uri": found.dataset.uri,
        "city_id": found.own.city_id,
        "hub_described": True,
        "dataset": orjson.loads(dataset_to_json(found.dataset)),
        "data_service": {"uri": service.uri, "endpoint_url": service.endpoint_url, "tenant": found.own.city_id},
        "findings": findings,
    }
