"""``GET /api/v1/datasets`` in-process, on the demo CKAN and DCAT catalogues: full text with accent folding, facets
with exact counts, each filter, sort, paging, and every bad request answered as a problem naming what is wrong."""

from __future__ import annotations

from typing import Any

import httpx
import pytest

from catalog.search_tables import primary
from harvester.run import Harvester

pytestmark = pytest.mark.anyio
SOURCES = ("aarhus-ckan-demo", "copenhagen-ckan-demo", "oslo-dcat-demo", "tromso-dcat-demo", "stockholm-dcat-demo")
PROBLEM = "application/problem+json"


@pytest.fixture
async def catalogue(api: httpx.AsyncClient, harvester: Harvester) -> httpx.AsyncClient:
    for source in SOURCES:
        assert (await harvester.run(source)).ok
    return api


async def get(api: httpx.AsyncClient, **params: Any) -> dict[str, Any]:
    response = await api.get("/api/v1/datasets", params=params)
    assert response.status_code == 200, response.text
    assert response.headers["content-type"] == "application/json"
    body: dict[str, Any] = response.json()
    return body


def counts(body: dict[str, Any], facet: str) -> dict[str, int]:
    return {entry["value"]: entry["count"] for entry in body["facets"][facet]}


async def test_full_text_folds_accents_both_ways(catalogue: httpx.AsyncClient) -> None:
    accented = await get(catalogue, q="Tromsø", per_page=100)
    plain = await get(catalogue, q="tromso", per_page=100)
    assert accented["total"] == plain["total"] == 28
    assert [r["uri"] for r in accented["results"]] == [r["uri"] for r in plain["results"]]
    assert {(r["city"], r["country"]) for r in accented["results"]} == {("tromso", "NO")}
    copenhagen = await get(catalogue, q="kobenhavn")
    assert copenhagen["total"] == (await get(catalogue, q="KØBENHAVN"))["total"] == 28
    assert counts(copenhagen, "city") == {"copenhagen": 28}
    swedish = await get(catalogue, q="laddplatser elbil")
    assert [r["uri"] for r in swedish["results"]] == ["https://stockholm.se/datasets/laddplatser"]
    item = swedish["results"][0]
    assert item["title"] == {"sv": "Laddplatser för elbil", "en": "EV charging points"}
    assert item["licences"] == ["CC-BY-4.0"]
    assert item["themes"] == ["ENER"]
    assert item["formats"] == ["JSON"]
    assert item["open"] is True
    assert item["hvd"] is True
    assert item["score"] > 0
    assert item["ckan"] == f"/api/3/action/package_show?id={item['name']}"


async def test_facets_count_exactly(catalogue: httpx.AsyncClient) -> None:
    body = await get(catalogue, per_page=1)
    assert body["total"] == 138
    assert body["pages"] == 138
    assert counts(body, "city") == {"aarhus": 40, "copenhagen": 40, "tromso": 28, "oslo": 20, "stockholm": 10}
    assert body["facets"]["city"][2] == {"value": "tromso", "count": 28, "label": "Tromsø"}
    assert counts(body, "country") == {"DK": 80, "NO": 48, "SE": 10}
    assert counts(body, "licence") == {"CC-BY-4.0": 60, "NLOD-2.0": 48, "CC0-1.0": 20, "ODbL-1.0": 10}
    assert body["facets"]["licence"][1]["label"] == "NLOD 2.0"
    assert counts(body, "format") == {"CSV": 72, "GEOJSON": 51, "XLSX": 41, "JSON": 32, "PDF": 5, "XML": 2}
    themes = counts(body, "theme")
    assert sum(themes.values()) == 58  # only the DCAT datasets carry EU themes: 48 Norwegian, 10 Swedish
    assert themes["ENVI"] == 15
    assert themes["TRAN"] == 13
    assert body["facets"]["quality"] == []
    narrowed = await get(catalogue, q="parkering", country="NO,SE")
    assert narrowed["total"] == 2
    assert counts(narrowed, "country") == {"NO": 1, "SE": 1}
    assert counts(narrowed, "city") == {"stockholm": 1, "tromso": 1}


@pytest.mark.parametrize(
    ("params", "total", "check"),
    [
        ({"city": ["oslo", "stockholm"]}, 30, lambda r: r["city"] in ("oslo", "stockholm")),
        ({"country": "DK"}, 80, lambda r: r["country"] == "DK"),
        ({"theme": "tran"}, 13, lambda r: "TRAN" in r["themes"]),
        ({"keyword": "Parkering"}, 6, lambda r: "parkering" in [k for ks in r["keywords"].values() for k in ks]),
        ({"format": "GeoJSON"}, 51, lambda r: "GEOJSON" in r["formats"]),
        ({"licence": "http://www.opendefinition.org/licenses/cc-zero"}, 20, lambda r: r["licences"] == ["CC0-1.0"]),
        ({"open": "true"}, 138, lambda r: r["open"] is True),
        ({"hvd": "true"}, 25, lambda r: r["hvd"] is True),
        ({"modified_since": "2025-06-01"}, 30, lambda r: r["modified"][:10] >= "2025-06-01"),
        ({"q": "trafik", "city": "aarhus", "format": "csv"}, 4,
         lambda r: "CSV" in r["formats"] and r["city"] == "aarhus"),
    ],
)  # fmt: skip
async def test_each_filter(catalogue: httpx.AsyncClient, params: dict[str, Any], total: int, check: Any) -> None:
    body = await get(catalogue, per_page=100, **params)
    assert body["total"] == total
    assert len(body["results"]) == min(total, 100)
    assert all(check(r) for r in body["results"])


async def test_sort_and_paging(catalogue: httpx.AsyncClient) -> None:
    newest = await get(catalogue, sort="-modified", per_page=100, country="NO")
    stamps = [r["modified"] for r in newest["results"]]
    assert stamps == sorted(stamps, reverse=True)
    oldest = await get(catalogue, sort="modified", per_page=100, country="NO")
    assert oldest["results"][0]["uri"] == newest["results"][-1]["uri"]
    titles = await get(catalogue, sort="title", city="stockholm")
    names = [primary(r["title"]) for r in titles["results"]]
    assert names[:4] == [
        "Adresser",
        "Badplatser och badvattenkvalitet",
        "Befolkning per stadsdel",
        "Budget och bokslut",
    ]
    pages = [await get(catalogue, q="kommune", page=p, per_page=25) for p in (1, 2, 3, 4)]
    seen = [r["uri"] for page in pages for r in page["results"]]
    whole = [r["uri"] for r in (await get(catalogue, q="kommune", per_page=100))["results"]]
    assert seen == whole
    assert len(set(seen)) == len(seen) == pages[0]["total"] == 72  # 48 Norwegian, 24 Danish budgets and accounts
    assert pages[0]["pages"] == 3
    assert pages[3]["results"] == []
    ranked = [r["score"] for r in pages[0]["results"]]
    assert ranked == sorted(ranked, reverse=True)


@pytest.mark.parametrize(
    ("query", "status", "detail"),
    [
        ("?bogus=1&q=x&also=2", 400, "unknown query parameter(s) also, bogus"),
        ("?per_page=101", 400, "query parameter 'per_page': Input should be less than or equal to 100"),
        ("?per_page=0", 400, "query parameter 'per_page'"),
        ("?page=0", 400, "query parameter 'page'"),
        ("?page=1000001", 400, "query parameter 'page': Input should be less than or equal to 1000000"),
        ("?sort=newest", 400, "sort 'newest' is not one of relevance, modified, -modified, title, -title"),
        ("?modified_since=yesterday", 400, "modified_since 'yesterday' is not an ISO 8601 date or date-time"),
        ("?quality=great", 400, "quality 'great' is not one of excellent, good, sufficient, bad"),
        ("?open=perhaps", 400, "query parameter 'open'"),
    ],
)
async def test_bad_requests_are_problems_naming_the_parameter(
    catalogue: httpx.AsyncClient, query: str, status: int, detail: str
) -> None:
    response = await catalogue.get("/api/v1/datasets" + query)
    assert response.status_code == status
    assert response.headers["content-type"] == PROBLEM
    body = response.json()
    assert body["type"] == "https://nordhub.eu/problems/bad-request"
    assert body["status"] == status
    assert detail in body["detail"]
    assert body["instance"] == "/api/v1/datasets"


@pytest.mark.parametrize(
    ("accept", "status"),
    [("text/html", 406), ("application/xml, text/csv", 406), ("application/json;q=0", 406), ("*/*", 200),
     ("application/json", 200), ("text/html, application/*;q=0.5", 200)],
)  # fmt: skip
async def test_accept_is_negotiated(catalogue: httpx.AsyncClient, accept: str, status: int) -> None:
    response = await catalogue.get("/api/v1/datasets", params={"q": "parkering"}, headers={"Accept": accept})
    assert response.status_code == status
    if status == 406:
        assert response.headers["content-type"] == PROBLEM
        assert response.json()["type"] == "https://nordhub.eu/problems/not-acceptable"
        assert repr(accept) in response.json()["detail"]
    else:
        assert response.json()["total"] == 6
