"""The demo city's CKAN portal: forty Danish packages per city, answered like CKAN's Action API does."""

from __future__ import annotations

from collections import Counter
from datetime import datetime
from typing import Any

import anyio
import httpx
import orjson
import pytest

from harvester.demo_city import build_app, demo_sources
from harvester.demo_city_ckan import DEMO_ORGANIZATIONS, demo_packages, sources

BASE = "http://demo.test"
API = "/ckan/api/3/action"
DANISH_CITIES = ["aarhus", "copenhagen", "odense", "vejle", "aalborg"]


def get(*paths: str, clock: float = 1_763_900_000.0) -> list[httpx.Response]:
    """GET every path from a fresh demo app, in-process."""

    async def fetch() -> list[httpx.Response]:
        transport = httpx.ASGITransport(app=build_app(clock=lambda: clock))
        async with httpx.AsyncClient(transport=transport, base_url=BASE) as client:
            return [await client.get(path) for path in paths]

    return anyio.run(fetch)


def result_of(response: httpx.Response) -> Any:
    assert response.status_code == 200, response.text
    body = response.json()
    assert body["success"] is True
    assert body["help"] == f"{BASE}/ckan/api/3/action/help_show?name={response.url.path.rsplit('/', 1)[1]}"
    return body["result"]


def test_forty_packages_per_danish_city() -> None:
    packages = demo_packages()
    assert Counter(p["organization"]["name"] for p in packages) == {f"city-of-{c}": 40 for c in DANISH_CITIES}
    assert len({p["id"] for p in packages}) == len({p["name"] for p in packages}) == 200
    assert {p["license_id"] for p in packages} == {"cc-by", "cc-by-4.0", "odc-odbl", "cc-zero"}
    formats = Counter(r["format"] for p in packages for r in p["resources"])
    assert set(formats) == {"CSV", "JSON", "GeoJSON", "XLSX"}
    assert {len(p["resources"]) for p in packages} == {1, 2, 3}
    titles = {p["title"] for p in packages}
    assert {
        "Trafiktællinger i Aarhus",
        "Luftkvalitet: målestationer i København",
        "Budget 2024, Vejle Kommune",
    } <= titles
    assert all(p["notes"] for p in packages)


def test_the_catalogue_is_deterministic_and_ignores_the_clock() -> None:
    path = f"{API}/package_search?rows=1000"
    first, later = get(path, clock=1_700_000_000.0)[0], get(path, clock=1_800_000_000.0)[0]
    assert first.content == later.content
    modified = sorted(p["metadata_modified"] for p in demo_packages())
    assert modified[0] >= "2016-01-01"
    assert modified[-1] <= "2025-11-15"
    assert len({m[:4] for m in modified}) >= 6  # spread over years: incremental runs see subsets


def test_paging_with_rows_and_start_covers_everything_once() -> None:
    paths = [
        f"{API}/package_search?fq=organization:city-of-vejle&rows=7&start={s}&sort=name%20asc" for s in range(0, 42, 7)
    ]
    results = [result_of(r) for r in get(*paths)]
    assert {r["count"] for r in results} == {40}
    names = [p["name"] for r in results for p in r["results"]]
    assert [len(r["results"]) for r in results] == [7, 7, 7, 7, 7, 5]
    assert len(names) == len(set(names)) == 40
    assert names == sorted(names)
    assert all(n.endswith("-vejle") for n in names)


def test_metadata_modified_range_and_organization_filters() -> None:
    fq = "organization:city-of-aalborg AND metadata_modified:[2024-01-01T00:00:00Z TO *]"
    closed = "metadata_modified:[2020-01-01T00:00:00Z TO 2021-01-01T00:00:00Z]"
    tags = "tags:parkering AND res_format:GeoJSON"
    search = f"{API}/package_search?rows=1000&fq="
    later, window, tagged = (result_of(r) for r in get(search + fq, search + closed, search + tags))
    expected = [
        p["id"]
        for p in demo_packages()
        if p["organization"]["name"] == "city-of-aalborg" and p["metadata_modified"] >= "2024-01-01"
    ]
    assert 0 < later["count"] == len(expected) < 40
    assert sorted(p["id"] for p in later["results"]) == sorted(expected)
    assert all("2020-01-01" <= p["metadata_modified"] <= "2021-01-01" for p in window["results"])
    assert window["count"] == sum("2020-01-01" <= p["metadata_modified"] < "2021" for p in demo_packages())
    assert tagged["count"] > 0
    assert all(any(r["format"] == "GeoJSON" for r in p["resources"]) for p in tagged["results"])


def test_sort_by_modified_and_default_rows() -> None:
    [asc, default] = get(
        f"{API}/package_search?rows=1000&sort=metadata_modified%20asc,name%20asc", f"{API}/package_search"
    )
    stamps = [p["metadata_modified"] for p in result_of(asc)["results"]]
    assert stamps == sorted(stamps)
    assert len(result_of(default)["results"]) == 10  # CKAN's default rows
    assert result_of(default)["count"] == 200


def test_urls_name_the_server_asked() -> None:
    [response] = get(f"{API}/package_search?rows=1")
    package = result_of(response)["results"][0]
    resource = package["resources"][0]
    assert resource["url"].startswith(f"{BASE}/ckan/")
    assert "@@SITE@@" not in response.text


@pytest.mark.parametrize(
    ("query", "status", "kind"),
    [
        ("rows=-1", 409, "Validation Error"),
        ("start=x", 409, "Validation Error"),
        ("fq=owner:whoever", 409, "Search Query Error"),
        ("fq=metadata_modified:[yesterday TO *]", 409, "Search Query Error"),
        ("sort=popularity%20desc", 409, "Search Query Error"),
    ],
)
def test_errors_use_ckans_envelope(query: str, status: int, kind: str) -> None:
    [response] = get(f"{API}/package_search?{query}")
    assert response.status_code == status
    body = orjson.loads(response.content)
    assert body["success"] is False
    assert body["error"]["__type"] == kind


def test_package_show_by_id_or_name() -> None:
    package = demo_packages()[3]
    by_id, by_name, missing, unknown = get(
        f"{API}/package_show?id={package['id']}", f"{API}/package_show?id={package['name']}",
        f"{API}/package_show", f"{API}/package_show?id=no-such-package",
    )  # fmt: skip
    assert result_of(by_id) == result_of(by_name)
    assert result_of(by_id)["name"] == package["name"]
    assert datetime.fromisoformat(result_of(by_id)["metadata_modified"]).tzinfo is None  # CKAN's naive UTC
    assert missing.status_code == 409
    assert missing.json()["error"] == {"__type": "Validation Error", "id": ["Missing value"]}
    assert unknown.status_code == 404
    assert unknown.json()["error"] == {"__type": "Not Found Error", "message": "Not found"}


def test_organization_list() -> None:
    names, full = get(f"{API}/organization_list", f"{API}/organization_list?all_fields=true")
    assert result_of(names) == sorted(f"city-of-{c}" for c in DANISH_CITIES)
    assert {o["name"]: o["package_count"] for o in result_of(full)} == {f"city-of-{c}": 40 for c in DANISH_CITIES}
    assert {o["title"] for o in result_of(full)} >= {"Københavns Kommune", "Aarhus Kommune"}


def test_one_ckan_source_per_danish_city() -> None:
    entries = sources([], "http://127.0.0.1:8123/")
    assert [city for city, _ in entries] == [o.city_id for o in DEMO_ORGANIZATIONS]
    assert sorted(city for city, _ in entries) == sorted(DANISH_CITIES)
    aarhus = dict(entries)["aarhus"]
    assert aarhus == {
        "id": "aarhus-ckan-demo",
        "kind": "ckan",
        "url": "http://127.0.0.1:8123/ckan/api/3/action/",
        "schedule": "every 1h",
        "title": "Open Data DK: Aarhus Kommune (demo)",
        "options": {"organization": "city-of-aarhus"},
    }
    registered = demo_sources("http://127.0.0.1:8123")
    assert [s["id"] for s in registered["copenhagen"] if s["kind"] == "ckan"] == ["copenhagen-ckan-demo"]
