"""The ``ckan`` source kind: the package transform on real CKAN payloads, and the adapter against the demo portal
in-process (paging, incremental runs, organization filter) and against misbehaving servers."""

from __future__ import annotations

from collections.abc import AsyncIterator, Callable
from datetime import UTC, datetime
from pathlib import Path
from typing import Any
from urllib.parse import parse_qs, urlsplit

import httpx
import orjson
import pytest

from harvester.demo_city import build_app
from harvester.demo_city_ckan import demo_packages
from harvester.http import HttpClient
from harvester.sources import adapter_for
from harvester.sources.ckan import CkanAdapter, action_url
from harvester.sources.ckan_transform import content_hash, dataset_from_ckan, site_root
from hub.cities import City, Source, SourceKind
from hub.errors import ConfigError, PayloadInvalid, SourceHTTPError
from hub.settings import Settings
from schemas.findings import Severity
from tests.conftest import DEMO_BASE, DEMO_HOST, FIXED_CLOCK

pytestmark = pytest.mark.anyio

DEMO_CKAN = "https://demo.ckan.org/api/3/action/"
AARHUS = City.model_validate(
    {
        "id": "aarhus",
        "name": "Aarhus",
        "name_en": "Aarhus",
        "country": "DK",
        "municipality_code": "751",
        "bbox": [9.98, 56.02, 10.36, 56.32],
        "licence": "http://creativecommons.org/licenses/by/4.0/",
    }
)


def _load(path: Path) -> Any:
    return orjson.loads(path.read_bytes())


@pytest.fixture
def search_results(shared_data: Path) -> list[dict[str, Any]]:
    doc = _load(shared_data / "real" / "ckan-demo" / "package_search__demo.ckan.org__2017.json")
    results = doc["result"]["results"]
    assert isinstance(results, list)
    return results


# ------------------------------------------------------------------------------------------------ transform


def test_real_package_search_results_become_datasets(search_results: list[dict[str, Any]]) -> None:
    records = [dataset_from_ckan(pkg, portal_url=DEMO_CKAN) for pkg in search_results]
    assert [r.findings for r in records] == [[], [], []]
    datasets = [r.dataset for r in records if r.dataset is not None]
    assert [r.entity for r in records] == [None, None, None]
    assert [d.uri for d in datasets] == [
        "https://demo.ckan.org/dataset/62513382-3b26-4bc8-9096-40b6ce8383c0",
        "https://demo.ckan.org/dataset/9c3036b8-f6ac-4a4e-9036-5a3cc90c3900",
        "https://demo.ckan.org/dataset/17be64bb-da74-4195-9bb8-565c39846af2",
    ]
    assert [r.record_id for r in records] == [d.uri for d in datasets]
    plants, hk, italy = datasets
    assert plants.title == {"": "100 Validated Species of Plants"}
    assert plants.keywords == {"": ["flower", "image recognition", "machine learning"]}
    assert plants.licence == "other-open"
    assert plants.issued == "2017-08-05T03:16:52.857800"  # metadata_created, never the harvest time
    assert plants.modified == "2017-08-05T03:19:33.886925"
    assert plants.contact_point == {"fn": "TKKIM", "email": "misoh049@gmail.com"}
    assert plants.publisher is None  # no organization
    assert plants.identifier == "62513382-3b26-4bc8-9096-40b6ce8383c0"
    [csv] = plants.distributions
    assert csv.access_url.endswith("/download/validated_100_species.csv")
    assert csv.download_url == csv.access_url  # an upload: a file
    assert csv.format == "CSV"
    assert csv.media_type is None
    assert csv.issued == "2017-08-05T03:17:44.192463"
    assert csv.uri == plants.uri + "/resource/bf4d5116-634e-43f2-a41c-9ae22d362083"
    assert hk.licence == "cc-by"
    assert hk.extra["license_url"] == "http://www.opendefinition.org/licenses/cc-by"
    assert hk.landing_page is not None
    assert hk.landing_page.startswith("http://www.legco.gov.hk/")
    assert italy.publisher is not None
    assert italy.publisher.name == {"": "SDB"}
    assert italy.publisher.uri is None  # the organization has no URI: none is minted
    assert italy.extra["organization"] == "sdb"
    assert italy.extra["extras"] == {"Anno": "2016"}


def test_package_show_and_package_search_give_the_same_dataset(
    search_results: list[dict[str, Any]], shared_data: Path
) -> None:
    shown = _load(shared_data / "real" / "ckan-demo" / "package_show__demo.ckan.org__62513382.json")["result"]
    from_show = dataset_from_ckan(shown, portal_url=DEMO_CKAN).dataset
    from_search = dataset_from_ckan(search_results[0], portal_url=DEMO_CKAN).dataset
    assert from_show == from_search
    assert from_show is not None
    assert from_show.content_hash == content_hash(search_results[0])
    assert from_show.content_hash != content_hash(search_results[1])


def test_ckanext_dcat_full_dataset(shared_data: Path) -> None:
    pkg = _load(shared_data / "dcat-ap" / "examples" / "ckan_full_dataset_dcat_ap.json")
    record = dataset_from_ckan(pkg, portal_url="https://data.example.org/api/3/action/")
    ds = record.dataset
    assert ds is not None
    assert record.findings == []
    assert ds.uri == "https://data.example.org/dataset/test-dataset-shacl"  # no id: the name
    assert ds.title == {"en": "Test DCAT dataset"}  # the first of the package's languages
    assert ds.languages == ["en", "ca", "es"]
    assert ds.identifier == "xx-some-dataset-id-yy"
    assert ds.issued == "2024-05-01"
    assert ds.modified == "2024-05-05"
    assert ds.themes == [f"https://example.org/uri/theme{i}" for i in (1, 2, 3)]
    assert ds.keywords == {"en": ["Tag 1", "Tag 2"]}
    assert ds.publisher is not None
    assert ds.publisher.name == {"en": "Test Publisher"}
    assert ds.publisher.uri == "http://example.org/publisher-id"
    assert ds.contact_point == {"fn": "Contact 1", "email": "contact1@example.org", "url": "https://example.org"}
    assert ds.access_rights == "Statement about access rights"
    assert ds.spatial == ["https://sws.geonames.org/6361390/"]
    assert ds.temporal == ("1905-03-01", "2013-01-05")
    assert ds.conforms_to == ["Standard 1", "Standard 2"]
    assert ds.applicable_legislation[0] == "http://data.europa.eu/eli/reg_impl/2023/138/oj"
    assert ds.landing_page == "http://example.org/ds1"
    assert ds.extra["frequency"] == "monthly"
    assert orjson.loads(ds.extra["spatial_geometry"][0])["type"] == "Polygon"
    [dist] = ds.distributions
    assert dist.access_url == "https://example.com/data.csv"
    assert dist.download_url == "https://example.com/data.csv"
    assert dist.byte_size == 12323
    assert dist.licence == "http://creativecommons.org/licenses/by/3.0/"
    assert dist.rights == "Some stament about rights"
    assert (dist.issued, dist.modified) == ("2024-05-01T01:20:33", "2024-05-05T09:33:20")
    assert dist.title == {"en": "Resource 1"}


def _package(**changes: Any) -> dict[str, Any]:
    pkg: dict[str, Any] = {
        "id": "0f3c9a3e-1111-4222-8333-944455556666",
        "name": "trafiktaellinger",
        "title": "Trafiktællinger",
        "notes": "Årsdøgntrafik",
        "metadata_created": "2019-01-02T03:04:05.000006",
        "metadata_modified": "2024-02-03T04:05:06.000007",
        "extras": [{"key": "language", "value": '["da"]'}],
        "groups": [{"name": "transport", "title": "Transport"}],
        "resources": [{"id": "r1", "url": "https://portal.opendata.dk/api/3/action/datastore_search?resource_id=r1"}],
        "tracking_summary": {"total": 12, "recent": 3},
    }
    pkg.update(changes)
    return pkg


def test_the_packages_own_uri_wins_over_the_portal_uri() -> None:
    extra_uri = _package(extras=[{"key": "uri", "value": "https://data.aarhus.dk/dataset/trafik"}])
    field_uri = _package(uri="https://example.dk/ds/1", extras=[{"key": "uri", "value": "https://x.dk/2"}])
    relative = _package(extras=[{"key": "uri", "value": "dataset/trafik"}])
    portal = "https://portal.opendata.dk/api/3/action/"
    assert dataset_from_ckan(extra_uri, portal_url=portal).record_id == "https://data.aarhus.dk/dataset/trafik"
    assert dataset_from_ckan(field_uri, portal_url=portal).record_id == "https://example.dk/ds/1"
    fallback = dataset_from_ckan(relative, portal_url=portal)
    assert fallback.record_id == "https://portal.opendata.dk/dataset/0f3c9a3e-1111-4222-8333-944455556666"
    assert [(f.rule, f.severity) for f in fallback.findings] == [("ckan.uri-not-absolute", Severity.WARNING)]


def test_language_groups_and_api_resources() -> None:
    ds = dataset_from_ckan(_package(), portal_url="https://portal.opendata.dk/api/3/action").dataset
    assert ds is not None
    assert ds.title == {"da": "Trafiktællinger"}  # the ckanext-dcat language extra (a JSON list)
    assert ds.themes == []  # "transport" is a label, not a theme URI
    assert ds.extra["groups"] == ["transport"]
    assert ds.distributions[0].download_url is None  # an API call, not a file
    themed = _package(groups=[{"name": "x", "uri": "http://publications.europa.eu/resource/authority/data-theme/TRAN"}])
    themed_ds = dataset_from_ckan(themed, portal_url="https://portal.opendata.dk/").dataset
    assert themed_ds is not None
    assert themed_ds.themes == ["http://publications.europa.eu/resource/authority/data-theme/TRAN"]


def test_content_hash_ignores_volatile_keys_only() -> None:
    assert content_hash(_package()) == content_hash(_package(tracking_summary={"total": 99, "recent": 0}))
    assert content_hash(_package()) != content_hash(_package(title="Cykeltællinger"))
    assert content_hash(_package()).startswith("sha256:")


DEMO_DATASET = "https://demo.ckan.org/dataset/"


@pytest.mark.parametrize(
    ("pkg", "rules", "record_id"),
    [
        (_package(id=None, name=""), ["ckan.missing-id"], "/result/results/4"),
        (_package(title="  "), ["ckan.missing-title"], DEMO_DATASET + "0f3c9a3e-1111-4222-8333-944455556666"),
        (_package(id="", title=None), ["ckan.missing-title"], DEMO_DATASET + "trafiktaellinger"),
        (_package(id=None, name=None, uri="https://x.dk/ds/1"), ["ckan.missing-id"], "https://x.dk/ds/1"),
        ("not a package", ["ckan.not-an-object"], "/result/results/4"),
        (_package(uri="https://example.dk/" + "x" * 600), ["ckan.uri-too-long"], "/result/results/4"),
    ],
)
def test_unusable_packages_are_quarantined_not_raised(pkg: Any, rules: list[str], record_id: str) -> None:
    record = dataset_from_ckan(pkg, portal_url=DEMO_CKAN, pointer="/result/results/4")
    assert record.dataset is None
    assert record.entity is None
    assert not record.usable
    assert [f.rule for f in record.findings] == rules
    assert all(f.severity is Severity.ERROR for f in record.findings)
    assert record.record_id == record_id  # named by its URI when it has one: quarantined, not gone upstream


def test_a_resource_without_url_is_skipped_with_a_warning() -> None:
    pkg = _package(resources=[{"id": "r1", "url": ""}, {"id": "r2", "url": "https://x.dk/data.geojson"}])
    record = dataset_from_ckan(pkg, portal_url=DEMO_CKAN, pointer="/p")
    assert record.dataset is not None
    assert [d.access_url for d in record.dataset.distributions] == ["https://x.dk/data.geojson"]
    assert record.dataset.distributions[0].download_url == "https://x.dk/data.geojson"  # looks like a file
    assert [(f.rule, f.pointer) for f in record.findings] == [("ckan.resource-without-url", "/p/resources/0/url")]


@pytest.mark.parametrize(
    ("url", "site"),
    [
        ("https://portal.opendata.dk/api/3/action/", "https://portal.opendata.dk"),
        ("https://hri.fi/data/api/3/action", "https://hri.fi/data"),
        ("https://x.org/api/action/package_search", "https://x.org"),
        ("https://x.org/", "https://x.org"),
    ],
)
def test_site_root(url: str, site: str) -> None:
    assert site_root(url) == site


def test_action_urls() -> None:
    assert action_url("https://x.org/api/3/action/", "package_search") == "https://x.org/api/3/action/package_search"
    assert action_url("https://x.org/api/3/action", "package_search") == "https://x.org/api/3/action/package_search"
    assert action_url("https://x.org/api/3/action/package_search", "package_show") == (
        "https://x.org/api/3/action/package_show"
    )


# ------------------------------------------------------------------------------------------------- adapter


class Recording(httpx.AsyncBaseTransport):
    """Passes requests on and remembers their URLs."""

    def __init__(self, inner: httpx.AsyncBaseTransport) -> None:
        self.inner = inner
        self.urls: list[httpx.URL] = []

    async def handle_async_request(self, request: httpx.Request) -> httpx.Response:
        self.urls.append(request.url)
        return await self.inner.handle_async_request(request)


@pytest.fixture
def recording() -> Recording:
    return Recording(httpx.ASGITransport(app=build_app(clock=lambda: FIXED_CLOCK)))


@pytest.fixture
async def client(settings: Settings, recording: Recording) -> AsyncIterator[HttpClient]:
    async with HttpClient(settings, transport=recording, allow_hosts=[DEMO_HOST], backoff_base=0) as http:
        yield http


def ckan_source(**options: Any) -> Source:
    return Source.model_validate(
        {
            "id": "aarhus-ckan-demo",
            "kind": "ckan",
            "url": f"{DEMO_BASE}/ckan/api/3/action/",
            "schedule": "every 1h",
            "options": options,
        }
    )


def packages_of(organization: str) -> list[dict[str, Any]]:
    return [p for p in demo_packages() if p["organization"]["name"] == organization]


def test_ckan_is_registered() -> None:
    assert isinstance(adapter_for(SourceKind.CKAN), CkanAdapter)


async def test_paging_with_seven_rows_lists_every_package_once(client: HttpClient, recording: Recording) -> None:
    batch = await CkanAdapter().harvest(client, AARHUS, ckan_source(organization="city-of-aarhus", rows=7))
    expected = {p["id"] for p in packages_of("city-of-aarhus")}
    assert len(expected) == 40
    datasets = [r.dataset for r in batch.records if r.dataset is not None]
    assert len(datasets) == 40
    assert {d.extra["ckan_id"] for d in datasets} == expected
    assert len({d.uri for d in datasets}) == 40
    assert batch.complete is True
    assert batch.findings == []
    queries = [parse_qs(url.query.decode()) for url in recording.urls]
    assert [q["start"] for q in queries] == [[str(s)] for s in range(0, 40, 7)]  # 6 pages, the last one short
    assert all(q["rows"] == ["7"] and q["fq"] == ["organization:city-of-aarhus"] for q in queries)
    assert batch.bytes > 40 * 1000
    modified = [d.modified for d in datasets]
    assert modified == sorted(modified)  # listed oldest change first, so edits during paging are not skipped


async def test_datasets_keep_the_portals_uris_and_dates(client: HttpClient) -> None:
    batch = await CkanAdapter().harvest(client, AARHUS, ckan_source(organization="city-of-aarhus"))
    by_id = {p["id"]: p for p in packages_of("city-of-aarhus")}
    for record in batch.records:
        ds = record.dataset
        assert ds is not None
        pkg = by_id[ds.extra["ckan_id"]]
        assert ds.uri == f"{DEMO_BASE}/ckan/dataset/{pkg['id']}"
        assert ds.modified == pkg["metadata_modified"]
        assert ds.licence in {"cc-by", "cc-by-4.0", "odc-odbl", "cc-zero"}
        assert ds.publisher is not None
        assert ds.publisher.name == {"da": "Aarhus Kommune"}
        assert 1 <= len(ds.distributions) <= 3
        assert all(d.access_url.startswith(f"{DEMO_BASE}/ckan/") for d in ds.distributions)


async def test_incremental_run_asks_only_for_later_packages(client: HttpClient, recording: Recording) -> None:
    since = datetime(2024, 6, 1, tzinfo=UTC)
    source = ckan_source(organization="city-of-aarhus", rows=10)
    batch = await CkanAdapter().harvest_since(client, AARHUS, source, since=since)
    expected = {p["id"] for p in packages_of("city-of-aarhus") if p["metadata_modified"] >= "2024-06-01"}
    assert 0 < len(expected) < 40
    assert {r.dataset.extra["ckan_id"] for r in batch.records if r.dataset} == expected
    assert batch.complete is False  # an incremental run cannot see deletions
    fq = parse_qs(recording.urls[0].query.decode())["fq"]
    assert fq == ["organization:city-of-aarhus AND metadata_modified:[2024-06-01T00:00:00Z TO *]"]


async def test_incremental_run_with_nothing_new(client: HttpClient) -> None:
    since = datetime(2026, 1, 1, 12, tzinfo=UTC)
    source = ckan_source(organization="city-of-aarhus")
    batch = await CkanAdapter().harvest_since(client, AARHUS, source, since)  # positionally, as harvester.run does
    assert batch.records == []
    assert batch.complete is False


async def test_organization_filter_and_the_whole_portal(client: HttpClient, recording: Recording) -> None:
    odense = await CkanAdapter().harvest(client, AARHUS, ckan_source(organization="city-of-odense"))
    assert {r.dataset.extra["organization"] for r in odense.records if r.dataset} == {"city-of-odense"}
    assert len(odense.records) == 40
    everything = await CkanAdapter().harvest(client, AARHUS, ckan_source(rows=5000))
    assert len(everything.records) == 200
    last = parse_qs(recording.urls[-1].query.decode())
    assert last["rows"] == ["1000"]  # bounded to 1..1000
    assert "fq" not in last


@pytest.mark.parametrize("options", [{"rows": "many"}, {"rows": True}, {"organization": "city of aarhus"}])
async def test_bad_options_are_config_errors(client: HttpClient, options: dict[str, Any]) -> None:
    with pytest.raises(ConfigError, match="aarhus-ckan-demo"):
        await CkanAdapter().harvest(client, AARHUS, ckan_source(**options))


Handler = Callable[[httpx.Request], httpx.Response]


async def harvest_with(settings: Settings, handler: Handler, **options: Any) -> Any:
    async with HttpClient(settings, transport=httpx.MockTransport(handler), allow_hosts=[DEMO_HOST]) as http:
        return await CkanAdapter().harvest(http, AARHUS, ckan_source(**options))


async def test_ckan_error_envelope_is_payload_invalid(settings: Settings) -> None:
    def handler(request: httpx.Request) -> httpx.Response:
        error = {"__type": "Validation Error", "rows": ["Must be a natural number"]}
        return httpx.Response(200, json={"help": "x", "success": False, "error": error})

    with pytest.raises(PayloadInvalid) as caught:
        await harvest_with(settings, handler)
    assert f"{DEMO_BASE}/ckan/api/3/action/package_search?" in caught.value.detail
    assert "Validation Error: rows: Must be a natural number" in caught.value.detail


async def test_ckan_error_message_is_named(settings: Settings) -> None:
    def handler(request: httpx.Request) -> httpx.Response:
        error = {"__type": "Search Query Error", "message": "Search Index Error: bad fq"}
        return httpx.Response(200, json={"success": False, "error": error})

    with pytest.raises(PayloadInvalid, match="CKAN reports an error: Search Query Error: Search Index Error: bad fq"):
        await harvest_with(settings, handler)


@pytest.mark.parametrize(
    ("body", "message"),
    [
        (b"<html>maintenance</html>", "invalid JSON"),
        (b"[1, 2]", "expected a CKAN response object, got list"),
        (b'{"success": true, "result": {"count": 3}}', "has no results list"),
    ],
)
async def test_bodies_that_are_not_ckan_answers(settings: Settings, body: bytes, message: str) -> None:
    def handler(request: httpx.Request) -> httpx.Response:
        return httpx.Response(200, content=body, headers={"content-type": "application/json"})

    with pytest.raises(PayloadInvalid, match=message):
        await harvest_with(settings, handler)


def _fake_package(n: int) -> dict[str, Any]:
    return {"id": f"pkg-{n}", "name": f"pakke-{n}", "title": f"Pakke {n}", "metadata_modified": f"2024-01-{n:02d}"}


async def test_a_server_ignoring_start_stops_paging_with_a_warning(settings: Settings) -> None:
    starts: list[str] = []

    def handler(request: httpx.Request) -> httpx.Response:
        starts.append(request.url.params["start"])
        first_page = [_fake_package(n) for n in range(1, 5)]
        return httpx.Response(200, json={"success": True, "result": {"count": 10, "results": first_page}})

    batch = await harvest_with(settings, handler, rows=4)
    assert starts == ["0", "4"]
    assert [r.record_id for r in batch.records] == [f"{DEMO_BASE}/ckan/dataset/pkg-{n}" for n in range(1, 5)]
    assert [f.rule for f in batch.findings] == ["ckan.start-ignored"]
    assert batch.findings[0].severity is Severity.WARNING
    assert batch.complete is False  # the rest was never seen: nothing may be marked removed


async def test_a_server_capping_rows_is_paged_to_the_end(settings: Settings) -> None:
    catalogue = [_fake_package(n) for n in range(1, 11)]

    def handler(request: httpx.Request) -> httpx.Response:
        start = int(request.url.params["start"])
        return httpx.Response(200, json={"success": True, "result": {"count": 10, "results": catalogue[start:][:3]}})

    batch = await harvest_with(settings, handler, rows=100)
    assert len(batch.records) == 10
    assert batch.complete is True


async def test_a_package_edited_while_paging_is_kept_once_in_its_later_version(settings: Settings) -> None:
    pages = {
        "0": [_fake_package(1), _fake_package(2)],
        "2": [_fake_package(3), {**_fake_package(1), "title": "Pakke 1, rettet", "metadata_modified": "2024-02-01"}],
    }

    def handler(request: httpx.Request) -> httpx.Response:
        results = pages.get(request.url.params["start"], [])
        return httpx.Response(200, json={"success": True, "result": {"count": 4, "results": results}})

    batch = await harvest_with(settings, handler, rows=2)
    titles = [r.dataset.title[""] for r in batch.records if r.dataset]
    assert titles == ["Pakke 2", "Pakke 3", "Pakke 1, rettet"]
    assert batch.complete is False  # 3 distinct packages of the 4 counted: one may have been skipped
    assert [f.rule for f in batch.findings] == ["ckan.listing-short"]


async def test_a_broken_package_is_one_quarantined_record(settings: Settings) -> None:
    def handler(request: httpx.Request) -> httpx.Response:
        results = [_fake_package(1), {"id": "pkg-2", "name": "pakke-2"}, _fake_package(3)]
        return httpx.Response(200, json={"success": True, "result": {"count": 3, "results": results}})

    batch = await harvest_with(settings, handler)
    assert [r.usable for r in batch.records] == [True, False, True]
    assert batch.records[1].record_id == f"{DEMO_BASE}/ckan/dataset/pkg-2"
    assert [f.pointer for f in batch.records[1].findings] == ["/result/results/1/title"]
    assert batch.complete is True


async def test_a_missing_portal_answers_with_its_http_status(client: HttpClient) -> None:
    source = Source.model_validate(
        {"id": "x", "kind": "ckan", "url": f"{DEMO_BASE}/nowhere/api/3/action/", "schedule": "every 1h"}
    )
    with pytest.raises(SourceHTTPError, match="HTTP 404") as caught:
        await CkanAdapter().harvest(client, AARHUS, source)
    assert caught.value.http_status == 404
    assert urlsplit(caught.value.detail.split()[1]).path == "/nowhere/api/3/action/package_search"
