"""catalog.search on SQLite (FTS5) and PostgreSQL (tsvector): the demo CKAN and DCAT catalogues harvested, then full
text in Danish, Norwegian and Swedish, accent folding both ways, exact facet counts, every filter, sorting, paging,
removal, quality bands, datasets missing mandatory fields, and the migration indexing what was already harvested."""

from __future__ import annotations

import uuid
from collections import Counter
from collections.abc import Callable
from datetime import UTC, datetime

import pytest
from sqlalchemy import Connection

from catalog.model import Dataset, Distribution
from catalog.search import (
    Clause,
    Facet,
    SearchQuery,
    SearchResult,
    SortKey,
    TimeRange,
    find_uri,
    index_datasets,
    remove_from_index,
    search,
    set_quality,
)
from catalog.search_tables import (
    dataset_facets,
    fold,
    format_code,
    is_hvd,
    is_open,
    licence_code,
    package_id,
    package_name,
    primary,
    theme_code,
    utc_stamp,
    words,
)
from catalog.store import dataset_from_dict, list_datasets, mark_removed, upsert_datasets
from harvester.run import Harvester
from hub.cities import Registry
from hub.db import Database

pytestmark = pytest.mark.anyio
SOURCES = ("aarhus-ckan-demo", "copenhagen-ckan-demo", "oslo-dcat-demo", "tromso-dcat-demo", "stockholm-dcat-demo")
CITIES = {"aarhus": 40, "copenhagen": 40, "tromso": 28, "oslo": 20, "stockholm": 10}
T0 = datetime(2025, 11, 23, 12, 0, tzinfo=UTC)
EVERYTHING = 1000


@pytest.fixture
async def harvested(db: Database, harvester: Harvester) -> Database:
    """The demo catalogues of two Danish CKAN cities, two Norwegian DCAT cities and Stockholm, harvested."""
    for source in SOURCES:
        report = await harvester.run(source)
        assert report.ok, (source, report)
    return db


@pytest.fixture
def countries(demo_cities: Registry) -> dict[str, str]:
    return {c.id: c.country for c in demo_cities.cities}


def stored(conn: Connection) -> dict[str, tuple[str, Dataset]]:
    """Every published dataset by URI: (city, dataset), to compute what a search must answer."""
    return {r["uri"]: (r["city_id"], dataset_from_dict(r["dataset"])) for r in list_datasets(conn, limit=EVERYTHING)}


def find(conn: Connection, countries: dict[str, str], **kwargs: object) -> SearchResult:
    query = SearchQuery(countries=countries, **{"limit": EVERYTHING, **kwargs})  # type: ignore[arg-type]
    return search(conn, query)


def uris(result: SearchResult) -> set[str]:
    return {hit.uri for hit in result.hits}


def where(datasets: dict[str, tuple[str, Dataset]], test: Callable[[str, Dataset], bool]) -> set[str]:
    return {uri for uri, (city, ds) in datasets.items() if test(city, ds)}


def text_of(ds: Dataset) -> list[str]:
    texts = [*ds.title.values(), *ds.description.values(), *(k for ks in ds.keywords.values() for k in ks)]
    return [w for t in texts for w in words(t)]


# ------------------------------------------------------------------------------------------------ pure parts


@pytest.mark.parametrize(
    ("text", "folded"),
    [
        ("Tromsø", "tromso"),
        ("TROMSØ", "tromso"),
        ("København", "kobenhavn"),
        ("Ærøskøbing", "aeroskobing"),
        ("Århus", "arhus"),
        ("Malmö Göteborg", "malmo goteborg"),
        ("Þingvellir Reykjavíkurborg", "thingvellir reykjavikurborg"),
        ("Garðabær", "gardabaer"),
        ("Straße", "strasse"),
        ("Jyväskylä", "jyvaskyla"),
        ("Tromso", "tromso"),
    ],
)
def test_folding_is_case_and_accent_blind(text: str, folded: str) -> None:
    assert fold(text) == folded


def test_words_are_what_both_databases_index() -> None:
    assert words("Luftkvalitet: NO2, PM2,5 & støv_partikler (Tromsø/Bodø)") == [
        "luftkvalitet", "no2", "pm2", "5", "stov", "partikler", "tromso", "bodo",
    ]  # fmt: skip


def test_codes_are_normalised() -> None:
    eu = "http://publications.europa.eu/resource/authority/"
    assert theme_code(f"{eu}data-theme/TRAN") == "TRAN"
    assert theme_code("tran") == "TRAN"
    assert theme_code("https://example.org/themes/parking") == "https://example.org/themes/parking"
    assert [format_code(f) for f in (f"{eu}file-type/GEOJSON", "GeoJSON", ".csv", "text/csv", "xlsx")] == [
        "GEOJSON", "GEOJSON", "CSV", "CSV", "XLSX",
    ]  # fmt: skip
    assert format_code("https://www.iana.org/assignments/media-types/application/json") == "JSON"
    assert format_code("Shapefile") == "SHP"
    assert licence_code("cc-by") == ("CC-BY-4.0", True)
    assert licence_code("https://creativecommons.org/licenses/by/4.0/deed.no") == ("CC-BY-4.0", True)
    assert licence_code("http://data.norge.no/nlod/no/2.0") == ("NLOD-2.0", True)
    assert licence_code("other-open") == ("other-open", False)
    assert utc_stamp("2024-05-01") == "2024-05-01T00:00:00Z"
    assert utc_stamp("2024-05-01T12:00:00+02:00") == "2024-05-01T10:00:00Z"
    assert utc_stamp("2023-03-01T08:00:00.123456") == "2023-03-01T08:00:00Z"
    assert utc_stamp("2024") == "2024-01-01T00:00:00Z"
    assert utc_stamp("soon") is None


def test_package_name_and_id_are_stable_slugs_of_the_uri() -> None:
    uri = "https://www.tromso.kommune.no/datasets/Brøyting"
    name = package_name(uri)
    assert name.startswith("tromso-kommune-no-datasets-broyting-")
    assert len(name) <= 100
    assert name == package_name(uri)
    assert name != package_name(uri + "/")  # the hash keeps names of different URIs apart
    assert package_id(uri) == str(uuid.uuid5(uuid.NAMESPACE_URL, uri))


def test_open_and_hvd_flags() -> None:
    base = Dataset(uri="https://x.example/d", title={"en": "x"})
    assert not is_open(base)  # no licence named: not open
    assert is_open(Dataset(uri="u", title={}, licence="cc-by"))
    mixed = Dataset(uri="u", title={}, licence="cc-by", distributions=[Distribution("a", licence="cc-by-nc")])
    assert not is_open(mixed)  # one distribution under an unknown (here non-commercial) licence
    assert is_hvd(Dataset(uri="u", title={}, applicable_legislation=["http://data.europa.eu/eli/reg_impl/2023/138/oj"]))
    assert not is_hvd(base)


# --------------------------------------------------------------------------------------- the harvested demo


async def test_full_text_in_danish_norwegian_and_swedish(harvested: Database, countries: dict[str, str]) -> None:
    with harvested.connect() as conn:
        data = stored(conn)
        danish = find(conn, countries, text="Trafiktællinger")
        norwegian = find(conn, countries, text="ladestasjoner elbil")
        swedish = find(conn, countries, text="Laddplatser")
    assert {data[u][0] for u in uris(danish)} == {"aarhus", "copenhagen"}
    assert uris(danish) == where(data, lambda _c, ds: "trafiktaellinger" in text_of(ds))
    assert len(uris(danish)) == 2
    assert uris(norwegian) == where(data, lambda _c, ds: {"ladestasjoner", "elbil"} <= set(text_of(ds)))
    assert {data[u][0] for u in uris(norwegian)} <= {"oslo", "tromso"}
    assert uris(norwegian)
    assert uris(swedish) == {"https://stockholm.se/datasets/laddplatser"}
    assert swedish.total == 1
    assert swedish.hits[0].score is not None
    assert swedish.hits[0].score > 0


async def test_accents_fold_both_ways(harvested: Database, countries: dict[str, str]) -> None:
    with harvested.connect() as conn:
        data = stored(conn)
        accented, plain = find(conn, countries, text="Tromsø"), find(conn, countries, text="tromso")
        danish, danish_plain = find(conn, countries, text="København"), find(conn, countries, text="KOBENHAVN")
    tromso = where(data, lambda city, _ds: city == "tromso")
    assert uris(accented) == uris(plain) == tromso
    assert accented.total == 28
    copenhagen = where(data, lambda _c, ds: "kobenhavn" in text_of(ds))
    assert uris(danish) == uris(danish_plain) == copenhagen
    assert danish.total == 28
    assert {data[u][0] for u in copenhagen} == {"copenhagen"}


async def test_unaccented_text_is_found_by_an_accented_query(db: Database, countries: dict[str, str]) -> None:
    plain = Dataset(uri="https://x.example/a", title={"en": "Tromso bike stations"}, keywords={"en": ["Kobenhavn"]})
    accented = Dataset(uri="https://x.example/b", title={"nb": "Bysykler i Tromsø"}, description={"da": "København"})
    with db.begin() as conn:
        index_datasets(conn, [(plain.uri, "tromso", plain), (accented.uri, "tromso", accented)], now=T0)
    with db.connect() as conn:
        assert uris(find(conn, countries, text="Tromsø")) == {plain.uri, accented.uri}
        assert uris(find(conn, countries, text="Tromso")) == {plain.uri, accented.uri}
        assert uris(find(conn, countries, text="københavn")) == {plain.uri, accented.uri}
        assert uris(find(conn, countries, text="tromsø bike")) == {plain.uri}  # every word must match


async def test_facets_count_exactly(harvested: Database, countries: dict[str, str]) -> None:
    with harvested.connect() as conn:
        data = stored(conn)
        everything = find(conn, countries, limit=0)
        danish = find(conn, countries, text="trafik", facets=(Facet.CITY, Facet.FORMAT, Facet.KEYWORD))
    assert everything.total == len(data) == 138
    assert dict(everything.facets[Facet.CITY]) == CITIES
    assert everything.facets[Facet.COUNTRY] == [("DK", 80), ("NO", 48), ("SE", 10)]
    for facet in (Facet.THEME, Facet.FORMAT, Facet.LICENCE):
        expected = Counter(v for _c, ds in data.values() for v in dataset_facets(ds)[facet])
        assert dict(everything.facets[facet]) == dict(expected), facet
    assert dict(everything.facets[Facet.LICENCE]) == {"CC-BY-4.0": 60, "NLOD-2.0": 48, "CC0-1.0": 20, "ODbL-1.0": 10}
    assert everything.facets[Facet.QUALITY] == []
    assert everything.hits == []  # limit 0: counts only
    matched = where(data, lambda _c, ds: "trafik" in text_of(ds))
    assert danish.total == len(matched)
    assert dict(danish.facets[Facet.CITY]) == Counter(data[u][0] for u in matched)
    formats = Counter(f for u in matched for f in dataset_facets(data[u][1])[Facet.FORMAT])
    assert dict(danish.facets[Facet.FORMAT]) == dict(formats)
    keywords = Counter(k for u in matched for k in dataset_facets(data[u][1])[Facet.KEYWORD])
    assert dict(danish.facets[Facet.KEYWORD]) == dict(keywords)
    assert keywords["trafik"] > 0
    assert set(danish.facets) == {Facet.CITY, Facet.FORMAT, Facet.KEYWORD}


def has(facet: Facet, value: str) -> Callable[[str, Dataset], bool]:
    return lambda _city, ds: value in dataset_facets(ds)[facet]


async def test_each_filter(harvested: Database, countries: dict[str, str]) -> None:
    closed = Dataset(uri="https://x.example/closed", title={"sv": "Stängd"}, licence="cc-by-nc")
    unlicensed = Dataset(uri="https://x.example/unlicensed", title={"sv": "Utan licens"})
    with harvested.begin() as conn:  # every demo dataset is openly licensed: two that are not
        upsert_datasets(conn, source_id="extra", city_id="stockholm", datasets=[closed, unlicensed], now=T0)
    eu = "http://publications.europa.eu/resource/authority/data-theme/"
    since = datetime(2025, 1, 1, tzinfo=UTC)
    cases: list[tuple[dict[str, object], Callable[[str, Dataset], bool]]] = [
        ({"clauses": (Clause(Facet.CITY, ("oslo", "stockholm")),)}, lambda c, _d: c in ("oslo", "stockholm")),
        ({"clauses": (Clause(Facet.COUNTRY, ("no",)),)}, lambda c, _d: c in ("oslo", "tromso")),
        ({"clauses": (Clause(Facet.THEME, (eu + "TRAN",)),)}, has(Facet.THEME, "TRAN")),
        ({"clauses": (Clause(Facet.KEYWORD, ("Parkering",)),)}, has(Facet.KEYWORD, "parkering")),
        ({"clauses": (Clause(Facet.FORMAT, ("geojson",)),)}, has(Facet.FORMAT, "GEOJSON")),
        ({"clauses": (Clause(Facet.LICENCE, ("cc-by",)),)}, has(Facet.LICENCE, "CC-BY-4.0")),
        ({"open": True}, lambda _c, d: is_open(d)),
        ({"open": False}, lambda _c, d: d.uri in (closed.uri, unlicensed.uri)),
        ({"hvd": True}, lambda _c, d: is_hvd(d)),
        ({"hvd": False}, lambda _c, d: not is_hvd(d)),
        ({"ranges": (TimeRange(SortKey.MODIFIED, low=since),)}, lambda _c, d: (utc_stamp(d.modified) or "") >= "2025"),
        (
            {"clauses": (Clause(Facet.CITY, ("aarhus",)), Clause(Facet.FORMAT, ("XLSX", "PDF")))},
            lambda c, d: c == "aarhus" and bool({"XLSX", "PDF"} & set(dataset_facets(d)[Facet.FORMAT])),
        ),
    ]
    with harvested.connect() as conn:
        data = stored(conn)
        for kwargs, test in cases:
            expected = where(data, test)
            result = find(conn, countries, **kwargs)
            assert uris(result) == expected, kwargs
            assert result.total == len(expected)
            assert 0 < len(expected) < len(data), kwargs  # each case really filters
        assert find(conn, countries, clauses=(Clause(Facet.CITY, ("nowhere",)),)).total == 0


async def test_sorting_and_paging(harvested: Database, countries: dict[str, str]) -> None:
    with harvested.connect() as conn:
        newest = find(conn, countries, sort=((SortKey.MODIFIED, True),)).hits
        titles = find(conn, countries, sort=((SortKey.TITLE, False),), clauses=(Clause(Facet.CITY, ("oslo",)),)).hits
        names = find(conn, countries, sort=((SortKey.NAME, True),)).hits
        everything = [h.uri for h in find(conn, countries, text="kommune").hits]
        pages = [find(conn, countries, text="kommune", offset=o, limit=7) for o in range(0, len(everything) + 7, 7)]
        scores = [h.score or 0.0 for h in find(conn, countries, text="parkering").hits]
        data = stored(conn)
    stamps = [h.modified or "" for h in newest]
    assert stamps == sorted(stamps, reverse=True)
    assert stamps[0] > stamps[-1]
    oslo_titles = [" ".join(words(primary(data[h.uri][1].title))) for h in titles]
    assert oslo_titles == sorted(oslo_titles)
    assert len(oslo_titles) == 20
    assert [h.name for h in names] == sorted((h.name for h in names), reverse=True)
    assert set(everything) == where(data, lambda _c, ds: "kommune" in text_of(ds))
    assert len(everything) > 40
    assert [u for page in pages for u in (h.uri for h in page.hits)] == everything
    assert all(page.total == len(everything) for page in pages)
    assert pages[-1].hits == []
    assert scores == sorted(scores, reverse=True)
    assert len(scores) == 6
    assert scores[-1] > 0


async def test_removed_datasets_disappear_from_search(
    harvested: Database, harvester: Harvester, countries: dict[str, str]
) -> None:
    with harvested.connect() as conn:
        before = find(conn, countries, text="Laddplatser")
    assert before.total == 1
    with harvested.begin() as conn:
        keep = [u for u in stored(conn) if u != "https://stockholm.se/datasets/laddplatser"]
        dropped = mark_removed(conn, source_id="stockholm-dcat-demo", keep=keep, now=T0)
    assert dropped == ["https://stockholm.se/datasets/laddplatser"]
    with harvested.connect() as conn:
        assert find(conn, countries, text="Laddplatser").total == 0
        assert dict(find(conn, countries, limit=0).facets[Facet.CITY])["stockholm"] == 9
        assert find_uri(conn, "https://stockholm.se/datasets/laddplatser") is None
    report = await harvester.run("stockholm-dcat-demo")  # listed again upstream: back in search
    assert report.ok
    with harvested.connect() as conn:
        assert uris(find(conn, countries, text="laddplatser")) == {"https://stockholm.se/datasets/laddplatser"}


async def test_quality_bands_filter_and_count_and_survive_reindexing(
    harvested: Database, countries: dict[str, str]
) -> None:
    oslo = "https://oslo.kommune.no/datasets/"
    with harvested.begin() as conn:
        tromso = sorted(where(stored(conn), lambda c, _d: c == "tromso"))
        assert set_quality(conn, tromso[0], "excellent", 380)
        assert set_quality(conn, tromso[1], "good", 300)
        assert set_quality(conn, tromso[2], "good", 250)
        assert not set_quality(conn, oslo + "nothing-here", "bad", 10)
        with pytest.raises(ValueError, match="not one of excellent, good, sufficient, bad"):
            set_quality(conn, tromso[0], "great", 400)
        data = stored(conn)
        city, ds = data[tromso[1]]
        index_datasets(conn, [(tromso[1], city, ds)], now=T0)  # a re-harvested dataset keeps its band
    with harvested.connect() as conn:
        counted = find(conn, countries, limit=0)
        good = find(conn, countries, clauses=(Clause(Facet.QUALITY, ("good",)),))
    assert counted.facets[Facet.QUALITY] == [("good", 2), ("excellent", 1)]
    assert uris(good) == {tromso[1], tromso[2]}
    assert {(h.quality_band, h.quality_score) for h in good.hits} == {("good", 300), ("good", 250)}


async def test_datasets_missing_mandatory_fields_are_still_searchable(db: Database, countries: dict[str, str]) -> None:
    untitled = Dataset(uri="https://x.example/untitled", title={}, keywords={"sv": ["Cykelpumpar"]})
    undescribed = Dataset(uri="https://x.example/undescribed", title={"fi": "Pyöräpumput Jyväskylä"})
    bare = Dataset(uri="https://x.example/bare", title={})
    with db.begin() as conn:
        index_datasets(conn, [(d.uri, "stockholm", d) for d in (untitled, undescribed, bare)], now=T0)
    with db.connect() as conn:
        assert uris(find(conn, countries, text="cykelpumpar")) == {untitled.uri}
        assert uris(find(conn, countries, text="Jyvaskyla pyorapumput")) == {undescribed.uri}
        listing = find(conn, countries, sort=((SortKey.TITLE, False),))
        assert listing.total == 3
        assert {h.uri for h in listing.hits} == {untitled.uri, undescribed.uri, bare.uri}
        assert dict(listing.facets[Facet.LICENCE]) == {}
        assert listing.facets[Facet.FORMAT] == []
        assert find_uri(conn, package_name(bare.uri)) == bare.uri
        assert find_uri(conn, package_id(bare.uri)) == bare.uri
    with db.begin() as conn:
        remove_from_index(conn, [bare.uri])
    with db.connect() as conn:
        assert find(conn, countries).total == 2


async def test_the_migration_indexes_datasets_harvested_before_it(
    harvested: Database, countries: dict[str, str]
) -> None:
    with harvested.connect() as conn:
        before = find(conn, countries, text="parkering")
        first = find_uri(conn, before.hits[0].name)
    harvested.downgrade("0004")
    harvested.upgrade()
    with harvested.connect() as conn:
        after = find(conn, countries, text="parkering")
        assert dict(find(conn, countries, limit=0).facets[Facet.CITY]) == CITIES
    assert [h.uri for h in after.hits] == [h.uri for h in before.hits]
    assert first == before.hits[0].uri
    assert [h.changed_at for h in after.hits] == [h.changed_at for h in before.hits]
