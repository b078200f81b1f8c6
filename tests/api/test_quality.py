"""/api/v1/quality, /api/v1/licences/*, /api/v1/dedup/candidates after harvesting demo sources, on both databases."""

from __future__ import annotations

import shutil
from datetime import UTC, datetime
from pathlib import Path
from urllib.parse import quote

import httpx
import pytest

from api.state import HubState
from catalog.linkcheck import LinkResult, store_results
from catalog.model import Agent, Dataset, Distribution
from catalog.store import list_datasets, upsert_datasets
from harvester.run import Harvester
from hub.db import Database

pytestmark = pytest.mark.anyio
PROBLEM = "application/problem+json"
BADEVANN = "https://oslo.kommune.no/datasets/badevann"
NOW = datetime(2025, 11, 23, 12, 0, tzinfo=UTC)


@pytest.fixture
def vocabs(hub: HubState, shared_data: Path) -> Path:
    target = hub.settings.data_dir / "schemas" / "mqa" / "vocabs"
    shutil.copytree(shared_data / "mqa" / "vocabs", target)
    return target


@pytest.fixture
async def harvested(harvester: Harvester, vocabs: Path) -> list[str]:
    sources = ["aarhus-ckan-demo", "vejle-ckan-demo", "oslo-dcat-demo", "stockholm-dcat-demo"]
    for source_id in sources:
        report = await harvester.run(source_id)
        assert report.status == "succeeded", report
    return sources


def _problem(response: httpx.Response, status: int) -> dict[str, object]:
    assert response.status_code == status, response.text
    assert response.headers["content-type"] == PROBLEM
    body = response.json()
    assert set(body) >= {"type", "title", "status", "detail", "instance"}
    assert body["status"] == status
    return body


async def test_catalogue_summary_is_the_weighted_share(api: httpx.AsyncClient, harvested: list[str]) -> None:
    response = await api.get("/api/v1/quality")
    assert response.status_code == 200
    body = response.json()
    assert body["datasets"] == 40 + 40 + 20 + 10
    assert body["max_points"] == 405
    assert {k: v["datasets"] for k, v in body["by_city"].items()} == {
        "aarhus": 40,
        "oslo": 20,
        "stockholm": 10,
        "vejle": 40,
    }
    assert set(body["by_source"]) == set(harvested)
    weighted = sum(v["points"] * v["datasets"] for v in body["by_city"].values()) / body["datasets"]
    assert body["points"] == pytest.approx(weighted, abs=0.01)
    assert sum(body["bands"].values()) == 110
    indicators = {i["key"]: i for i in body["indicators"]}
    assert indicators["dcat_ap_compliant"]["share"] == 1.0  # every demo dataset has a title and a description
    assert (indicators["access_url_ok"]["met"], indicators["access_url_ok"]["assessed"]) == (0, 0)  # none checked
    assert body["links"]["checked"] == 0
    assert body["links"]["urls"] > 110
    assert sum(d["points"] for d in body["dimensions"].values()) == pytest.approx(body["points"], abs=0.05)
    assert body["compliance_check"].startswith("structural")


async def test_city_and_source_scopes(api: httpx.AsyncClient, harvested: list[str]) -> None:
    oslo = (await api.get("/api/v1/quality", params={"city": "oslo"})).json()
    by_source = (await api.get("/api/v1/quality", params={"source": "oslo-dcat-demo"})).json()
    assert oslo["datasets"] == by_source["datasets"] == 20
    assert oslo["points"] == by_source["points"]
    assert oslo["scope"] == {"city": "oslo", "source": None}
    assert list(oslo["by_city"]) == ["oslo"]
    indicators = {i["key"]: i for i in oslo["indicators"]}
    assert indicators["theme"]["share"] == 1.0
    assert indicators["licence_vocabulary"]["share"] == 1.0  # NLOD 2.0 is in the EU list


@pytest.mark.parametrize(
    ("params", "detail"), [({"city": "atlantis"}, "no city 'atlantis'"), ({"source": "x"}, "no source 'x'")]
)
async def test_unknown_scope_is_a_404_problem(
    api: httpx.AsyncClient, vocabs: Path, params: dict[str, str], detail: str
) -> None:
    body = _problem(await api.get("/api/v1/quality", params=params), 404)
    assert body["detail"] == detail


async def test_one_dataset_by_hand_and_with_its_links_checked(
    api: httpx.AsyncClient, harvested: list[str], db: Database
) -> None:
    # Badevann: findability 100, download URL present 20 (URLs not checked), interoperability 110,
    # reusability 75, contextuality 15 (no dct:rights) = 320.
    response = await api.get(f"/api/v1/quality/datasets/{BADEVANN}")
    assert response.status_code == 200
    body = response.json()
    assert (body["points"], body["band"]) == (320, "Good")
    assert {k: v["points"] for k, v in body["dimensions"].items()} == {
        "findability": 100,
        "accessibility": 20,
        "interoperability": 110,
        "reusability": 75,
        "contextuality": 15,
    }
    assert [i["key"] for i in body["indicators"] if i["met"] is False] == ["rights"]
    assert body["distribution"] == BADEVANN + "/distribution/csv"
    assert body["links"] == []
    with db.begin() as conn:
        store_results(conn, [LinkResult("https://oslo.kommune.no/data/badevann.csv", True, 206, None, NOW)])
    checked = (await api.get("/api/v1/quality/datasets/" + quote(BADEVANN, safe=""))).json()
    assert (checked["points"], checked["band"]) == (400, "Excellent")
    assert checked["links"] == [
        {
            "url": "https://oslo.kommune.no/data/badevann.csv",
            "ok": True,
            "status": 206,
            "error": None,
            "checked_at": "2025-11-23T12:00:00+00:00",
        }
    ]
    measurements = {m["metric"]: m for m in checked["measurements"]}
    mqa = "https://data.norge.no/vocabulary/dcatno-mqa#"
    assert measurements[mqa + "accessUrlStatusCode"]["value"] is True
    assert measurements[mqa + "accessUrlStatusCode"]["computed_on"] == BADEVANN + "/distribution/csv"
    assert measurements[mqa + "score"] == {"metric": mqa + "score", "computed_on": BADEVANN, "value": 400.0}


async def test_unknown_dataset_is_a_404_problem(api: httpx.AsyncClient, vocabs: Path) -> None:
    body = _problem(await api.get("/api/v1/quality/datasets/https://nowhere.example/ds"), 404)
    assert body["detail"] == "no dataset 'https://nowhere.example/ds'"


async def test_missing_vocabulary_lists_are_a_clear_problem(api: httpx.AsyncClient) -> None:
    body = _problem(await api.get("/api/v1/quality"), 500)
    assert body["type"] == "https://nordhub.eu/problems/config-error"
    assert "file-types.csv cannot be read" in str(body["detail"])
    assert "nordhub schemas sync" in str(body["detail"])


async def _uri(db: Database, city: str, licence: str) -> str:
    with db.connect() as conn:
        rows = list_datasets(conn, city_id=city, limit=500)
    return next(r["uri"] for r in rows if r["dataset"].get("licence") == licence)


async def test_combine_nlod_and_cc_by(api: httpx.AsyncClient, harvested: list[str], db: Database) -> None:
    aarhus = await _uri(db, "aarhus", "cc-by")
    response = await api.post("/api/v1/licences/combine", json={"datasets": [BADEVANN, aarhus]})
    assert response.status_code == 200
    body = response.json()
    assert body["combinable"] is True
    assert body["licence"]["uri"] == "http://creativecommons.org/licenses/by/4.0/"
    assert body["attribution"][0] == (
        "Contains data under the Norwegian licence for Open Government data (NLOD) distributed by Oslo kommune"
    )
    assert body["attribution"][1].startswith(f"{aarhus}, by Aarhus Kommune, licensed under CC BY 4.0")
    assert [(d["dataset"], d["country"]) for d in body["datasets"]] == [(BADEVANN, "NO"), (aarhus, "DK")]
    assert body["blockers"] == []


async def test_combine_cc0_cc_by_and_odbl(api: httpx.AsyncClient, harvested: list[str], db: Database) -> None:
    cc0, by = await _uri(db, "vejle", "cc-zero"), await _uri(db, "vejle", "cc-by")
    body = (await api.post("/api/v1/licences/combine", json={"datasets": [cc0, by]})).json()
    assert body["licence"]["spdx"] == "CC-BY-4.0"
    assert len(body["attribution"]) == 1
    odbl = await _uri(db, "aarhus", "odc-odbl")
    body = (await api.post("/api/v1/licences/combine", json={"datasets": [cc0, by, odbl]})).json()
    assert (body["combinable"], body["licence"]["spdx"]) == (True, "ODbL-1.0")


async def test_combine_errors(api: httpx.AsyncClient, harvested: list[str]) -> None:
    body = _problem(await api.post("/api/v1/licences/combine", json={"datasets": []}), 400)
    assert body["detail"] == "give at least one dataset URI in 'datasets'"
    body = _problem(
        await api.post("/api/v1/licences/combine", json={"datasets": [BADEVANN, "https://nowhere.example/a"]}), 404
    )
    assert body["detail"] == "no dataset 'https://nowhere.example/a'"
    body = _problem(await api.post("/api/v1/licences/combine", json={"sets": [BADEVANN]}), 400)
    assert "datasets" in str(body["detail"])


@pytest.mark.parametrize(
    ("value", "known", "spdx"),
    [
        ("cc-by", True, "CC-BY-4.0"),
        ("https://data.norge.no/nlod/en/2.0/", True, "NLOD-2.0"),
        ("https://creativecommons.org/licenses/by-nc/4.0/deed.da", True, "CC-BY-NC-4.0"),
        ("other-open", False, None),
    ],
)
async def test_normalise(api: httpx.AsyncClient, value: str, known: bool, spdx: str | None) -> None:
    response = await api.get("/api/v1/licences/normalise", params={"value": value})
    assert response.status_code == 200
    body = response.json()
    assert (body["value"], body["known"], body.get("spdx")) == (value, known, spdx)
    if not known:
        assert body["reason"].startswith("names no licence the hub knows")


async def test_normalise_needs_a_value(api: httpx.AsyncClient) -> None:
    body = _problem(await api.get("/api/v1/licences/normalise"), 400)
    assert "value" in str(body["detail"])


async def test_dedup_candidates_across_sources_are_flagged_not_merged(
    api: httpx.AsyncClient, harvested: list[str], db: Database
) -> None:
    assert (await api.get("/api/v1/dedup/candidates")).json() == {"groups": [], "count": 0}
    copy = Dataset(
        uri="https://national.example/datasets/8842",
        title={"nb": "BADEPLASSER OG BADEVANNSKVALITET"},
        publisher=Agent(name={"nb": "Oslo kommune"}),
        distributions=[Distribution(access_url="https://national.example/files/8842.csv")],
    )
    with db.begin() as conn:
        upsert_datasets(conn, source_id="norway-national-demo", city_id="oslo", datasets=[copy], now=NOW)
    body = (await api.get("/api/v1/dedup/candidates")).json()
    assert body["count"] == 1
    group = body["groups"][0]
    assert group["reason"] == "same-title-and-publisher"
    assert group["key"] == "badeplasser og badevannskvalitet | oslo kommune"
    assert group["datasets"] == [
        {"uri": copy.uri, "city": "oslo", "sources": ["norway-national-demo"]},
        {"uri": BADEVANN, "city": "oslo", "sources": ["oslo-dcat-demo"]},
    ]
    assert (await api.get("/api/v1/dedup/candidates", params={"city": "oslo"})).json()["count"] == 1
    assert (await api.get("/api/v1/dedup/candidates", params={"city": "aarhus"})).json()["count"] == 0
    with db.connect() as conn:
        kept = {r["uri"] for r in list_datasets(conn, city_id="oslo", limit=100)}
    assert {BADEVANN, copy.uri} <= kept  # both kept as they are
    assert len(kept) == 21
    _problem(await api.get("/api/v1/dedup/candidates", params={"city": "atlantis"}), 404)


async def test_a_hub_generated_record_scores_excellent(
    api: httpx.AsyncClient, hub: HubState, db: Database, vocabs: Path
) -> None:
    # Shaped as the hub describes its own NGSI-LD data, with a download URL and access rights besides; its URLs are
    # the hub's own (NORDHUB_BASE_URL), which answer without the link checker.
    base = hub.settings.base_url.rstrip("/")
    own = Dataset(
        uri=f"{base}/datasets/ngsi-ld/oslo/BikeHireDockingStation",
        title={"en": "Bike-share docking stations in Oslo"},
        description={"en": "Live NGSI-LD BikeHireDockingStation entities of Oslo, harvested by Nordhub."},
        keywords={"en": ["bike-share", "BikeHireDockingStation", "Oslo"]},
        themes=["http://publications.europa.eu/resource/authority/data-theme/TRAN"],
        spatial=["https://sws.geonames.org/3143244/"],
        temporal=("2025-11-01T00:00:00Z", "2025-11-23T12:00:00Z"),
        publisher=Agent(name={"en": "Oslo"}, uri=f"{base}/cities/oslo"),
        contact_point={"fn": "Nordhub", "email": "opendata@nordhub.invalid"},
        licence="http://data.norge.no/nlod/no/2.0",
        access_rights="http://publications.europa.eu/resource/authority/access-right/PUBLIC",
        issued="2025-11-01T00:00:00Z",
        modified="2025-11-23T12:00:00Z",
        distributions=[
            Distribution(
                access_url=f"{base}/ngsi-ld/v1/entities?type=BikeHireDockingStation",
                download_url=f"{base}/ngsi-ld/v1/entities?type=BikeHireDockingStation&limit=1000",
                format="http://publications.europa.eu/resource/authority/file-type/JSON_LD",
                media_type="application/ld+json",
                licence="http://data.norge.no/nlod/no/2.0",
            )
        ],
    )
    with db.begin() as conn:
        upsert_datasets(conn, source_id="nordhub-own", city_id="oslo", datasets=[own], now=NOW)
    body = (await api.get("/api/v1/quality/datasets/" + quote(own.uri, safe=""))).json()
    assert (body["points"], body["band"]) == (395, "Excellent")  # all but dct:rights and dcat:byteSize
    assert [i["key"] for i in body["indicators"] if not i["met"]] == ["rights", "byte_size"]
