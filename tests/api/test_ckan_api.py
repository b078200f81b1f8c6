"""The CKAN-compatible Action API driven by the real ``ckanapi`` client against the hub served by uvicorn (in a
thread, on a port the OS picks): package_search with q, fq, rows, start, sort and facet.field, package_show,
package_list, organization_list/show, status_show, and CKAN's errors raised as ckanapi's own exceptions."""

from __future__ import annotations

import socket
import threading
import time
from collections.abc import AsyncIterator, Iterator
from contextlib import contextmanager
from dataclasses import dataclass
from datetime import UTC, datetime, timedelta
from typing import Any

import ckanapi
import httpx
import pytest
import uvicorn

from api.app import create_app
from api.state import HubState
from harvester.run import Harvester
from hub.settings import Settings

pytestmark = pytest.mark.anyio
SOURCES = ("aarhus-ckan-demo", "copenhagen-ckan-demo", "oslo-dcat-demo", "tromso-dcat-demo", "stockholm-dcat-demo")
CITY_COUNTS = {"aarhus": 40, "copenhagen": 40, "tromso": 28, "oslo": 20, "stockholm": 10}
CKAN_STAMP = "%Y-%m-%dT%H:%M:%S.%fZ"  # what ckanext-harvest writes into metadata_modified ranges


@dataclass(frozen=True, slots=True)
class Served:
    """The hub served over HTTP: its base URL, a ckanapi client, and when the harvest began."""

    url: str
    ckan: ckanapi.RemoteCKAN
    harvested_from: datetime


@contextmanager
def serving(app: Any) -> Iterator[str]:
    """``app`` served by uvicorn in a thread on 127.0.0.1 and a free port; its base URL."""
    sock = socket.socket(socket.AF_INET, socket.SOCK_STREAM)
    sock.bind(("127.0.0.1", 0))
    config = uvicorn.Config(app, lifespan="off", ws="none", http="h11", log_level="warning", access_log=False)
    server = uvicorn.Server(config)
    thread = threading.Thread(target=server.run, kwargs={"sockets": [sock]}, name="hub-under-test", daemon=True)
    thread.start()
    deadline = time.monotonic() + 10
    while not server.started and thread.is_alive() and time.monotonic() < deadline:
        time.sleep(0.01)
    try:
        assert server.started, "the hub did not start serving"
        yield f"http://127.0.0.1:{sock.getsockname()[1]}"
    finally:
        server.should_exit = True
        thread.join(10)
        sock.close()


@pytest.fixture
async def served(settings: Settings, hub: HubState, harvester: Harvester) -> AsyncIterator[Served]:
    started = datetime.now(UTC) - timedelta(seconds=1)
    for source in SOURCES:
        assert (await harvester.run(source)).ok
    with serving(create_app(settings, state=hub)) as url, ckanapi.RemoteCKAN(url, user_agent="nordhub-test") as ckan:
        yield Served(url, ckan, started)
    await hub.harvester.aclose()
    await hub.harvester.client.aclose()


def found_name(served: Served, words: str) -> str:
    name: str = search(served, q=words)["results"][0]["name"]
    return name


def search(served: Served, **params: Any) -> dict[str, Any]:
    result: dict[str, Any] = served.ckan.call_action("package_search", params)
    return result


async def test_package_search_with_q_rows_start_and_sort(served: Served) -> None:
    found = search(served, q="Tromsø", rows=5)
    assert found["count"] == 28
    assert len(found["results"]) == 5
    assert {p["organization"]["name"] for p in found["results"]} == {"tromso"}
    assert search(served, q="tromso", rows=0)["count"] == 28
    everything = [p["name"] for p in search(served, q="kommune", rows=100)["results"]]
    paged = [
        p["name"] for start in range(0, 80, 10) for p in search(served, q="kommune", rows=10, start=start)["results"]
    ]
    assert paged == everything
    assert len(set(paged)) == 72
    newest = [p["metadata_modified"] for p in search(served, sort="metadata_modified desc", rows=200)["results"]]
    assert newest == sorted(newest, reverse=True)
    assert len(newest) == 138
    names = [p["name"] for p in search(served, fq="organization:oslo", sort="name asc", rows=50)["results"]]
    assert names == sorted(names)
    assert len(names) == 20
    titles = [p["title"] for p in search(served, fq="organization:stockholm", sort="title_string desc")["results"]]
    assert titles[:3] == ["Parkeringsplatser", "Offentliga toaletter", "Luftkvalitet"]
    assert search(served, q="*:*", rows=1)["count"] == 138
    only = search(served, q="laddplatser", fl="name,license_id")["results"]
    assert only == [{"name": found_name(served, "laddplatser"), "license_id": "CC-BY-4.0"}]
    assert len(search(served, rows=5000)["results"]) == 138  # rows above 1000 are capped, not refused


async def test_package_search_with_fq_agrees_with_the_search_api(served: Served) -> None:
    cases = [
        ("organization:copenhagen res_format:GeoJSON", {"city": "copenhagen", "format": "geojson"}),
        ('+organization:"aarhus" AND tags:trafik', {"city": "aarhus", "keyword": "trafik"}),
        ("organization:(oslo OR stockholm) license_id:cc-by", {"city": "oslo,stockholm", "licence": "cc-by"}),
        ("organization:oslo OR organization:tromso", {"city": "oslo,tromso"}),
        ("groups:TRAN country:SE", {"theme": "TRAN", "country": "SE"}),
    ]
    async with httpx.AsyncClient(base_url=served.url, timeout=10) as client:
        for fq, params in cases:
            ckan = search(served, fq=fq, rows=1000)
            ours = (await client.get("/api/v1/datasets", params={**params, "per_page": 100})).json()
            assert ckan["count"] == ours["total"] > 0, fq
            assert {p["extras"][0]["value"] for p in ckan["results"]} == {r["uri"] for r in ours["results"]}, fq


async def test_incremental_harvest_by_metadata_modified(served: Served) -> None:
    since = served.harvested_from.strftime(CKAN_STAMP)
    later = (datetime.now(UTC) + timedelta(hours=1)).strftime(CKAN_STAMP)
    assert search(served, fq=f"metadata_modified:[{since} TO *]", rows=0)["count"] == 138
    assert search(served, fq=f"metadata_modified:[{later} TO *]", rows=0)["count"] == 0
    assert search(served, fq=f"metadata_created:[* TO {later}]", rows=0)["count"] == 138


async def test_facets(served: Served) -> None:
    fields = ["organization", "res_format", "license_id", "tags", "groups"]
    found = search(served, q="parkering", rows=0, **{"facet.field": fields})
    assert found["count"] == 6
    assert found["results"] == []
    facets = found["facets"]
    assert facets["organization"] == {"aarhus": 2, "copenhagen": 2, "stockholm": 1, "tromso": 1}
    assert facets["res_format"] == {"GEOJSON": 3, "JSON": 3, "CSV": 3}
    assert sum(facets["license_id"].values()) == 6
    assert facets["tags"]["parkering"] == 6
    assert facets["groups"] == {"TRAN": 2}
    organizations = {i["name"]: i for i in found["search_facets"]["organization"]["items"]}
    assert organizations["copenhagen"] == {"name": "copenhagen", "display_name": "København", "count": 2}
    assert found["search_facets"]["organization"]["title"] == "organization"
    limited = search(served, rows=0, **{"facet.field": '["organization"]', "facet.limit": 2})
    assert limited["facets"] == {"organization": {"aarhus": 40, "copenhagen": 40}}


async def test_package_show_and_package_list(served: Served) -> None:
    first = search(served, q="Laddplatser")["results"][0]
    by_name = served.ckan.action.package_show(id=first["name"])
    assert by_name == served.ckan.action.package_show(id=first["id"])
    assert by_name == served.ckan.action.package_show(id="https://stockholm.se/datasets/laddplatser")
    assert by_name["title"] == "Laddplatser för elbil"
    assert by_name["title_translated"] == {"sv": "Laddplatser för elbil", "en": "EV charging points"}
    assert by_name["license_id"] == "CC-BY-4.0"
    assert by_name["license_url"] == "http://creativecommons.org/licenses/by/4.0/"
    assert by_name["isopen"] is True
    assert by_name["organization"]["name"] == "stockholm"
    assert by_name["owner_org"] == "stockholm"
    assert [t["name"] for t in by_name["tags"]] == ["elbil", "laddning"]
    assert by_name["extras"][0] == {"key": "uri", "value": "https://stockholm.se/datasets/laddplatser"}
    assert {"key": "modified", "value": "2024-01-31T08:19:01Z"} in by_name["extras"]
    assert [(r["format"], r["url"]) for r in by_name["resources"]] == [
        ("JSON", "https://stockholm.se/data/laddplatser.json")
    ]
    assert by_name["num_resources"] == 1
    with pytest.raises(ckanapi.NotFound, match="no dataset 'no-such-dataset'"):
        served.ckan.action.package_show(id="no-such-dataset")
    names = served.ckan.action.package_list()
    assert names == sorted(names)
    assert len(names) == 138
    assert first["name"] in names
    assert served.ckan.action.package_list(limit=5, offset=10) == names[10:15]


async def test_organizations_and_status(served: Served) -> None:
    names = served.ckan.action.organization_list()
    assert len(names) == 15
    assert names == sorted(names)
    assert {"aarhus", "oslo", "stockholm", "tromso"} <= set(names)
    full = served.ckan.action.organization_list(all_fields=True, sort="package_count desc", limit=5)
    assert {o["name"]: o["package_count"] for o in full} == CITY_COUNTS
    oslo = served.ckan.action.organization_show(id="oslo", include_datasets=True)
    assert oslo["title"] == "Oslo"
    assert oslo["package_count"] == 20
    assert len(oslo["packages"]) == 20
    assert {p["organization"]["name"] for p in oslo["packages"]} == {"oslo"}
    assert {"key": "country", "value": "NO"} in oslo["extras"]
    with pytest.raises(ckanapi.NotFound):
        served.ckan.action.organization_show(id="atlantis")
    status = served.ckan.action.status_show()
    assert status["ckan_version"] == "2.10.0"
    assert status["site_title"] == "Nordhub"
    assert status["site_url"] == served.url


async def test_get_only_clients_and_form_posts(served: Served) -> None:
    with ckanapi.RemoteCKAN(served.url, get_only=True) as getter:
        found = getter.call_action(
            "package_search", {"fq": "organization:aarhus", "facet.field": '["res_format"]', "rows": 3}
        )
    assert found["count"] == 40
    assert len(found["results"]) == 3
    assert set(found["facets"]["res_format"]) == {"CSV", "GEOJSON", "JSON", "XLSX"}
    async with httpx.AsyncClient(base_url=served.url, timeout=10) as client:
        form = (await client.post("/api/3/action/package_search", data={"q": "parkering", "rows": "2"})).json()
        assert form["success"] is True
        assert form["result"]["count"] == 6
        assert len(form["result"]["results"]) == 2
        assert (await client.get("/api/3")).json() == {"version": 3}


async def test_errors_in_ckans_shape(served: Served) -> None:
    with pytest.raises(ckanapi.ValidationError) as caught:
        search(served, fq="organization:oslo AND (broken")
    assert caught.value.error_dict["__type"] == "Validation Error"
    assert "cannot read" in caught.value.error_dict["fq"][0]
    with pytest.raises(ckanapi.ValidationError) as caught:
        search(served, fq="metadata_modified:[NOW-1DAY TO *]")
    assert "not an ISO 8601 date-time" in caught.value.error_dict["fq"][0]
    with pytest.raises(ckanapi.ValidationError) as caught:
        search(served, rows="many")
    assert caught.value.error_dict["rows"] == ["Invalid integer"]
    with pytest.raises(ckanapi.ValidationError) as caught:
        search(served, start=-5)
    assert caught.value.error_dict["start"] == ["Must be a natural number"]
    with pytest.raises(ckanapi.ValidationError) as caught:
        search(served, start=10**12)
    assert caught.value.error_dict["start"] == ["Must be at most 2147483647"]
    with pytest.raises(ckanapi.ValidationError) as caught:
        search(served, sort="popularity desc")
    assert "cannot sort by 'popularity desc'" in caught.value.error_dict["sort"][0]
    with pytest.raises(ckanapi.ValidationError) as caught:
        search(served, colour="blue")
    assert caught.value.error_dict["parameters"] == ["unknown parameter(s) colour"]
    with pytest.raises(ckanapi.CKANAPIError, match="Action name not known: package_delete"):
        served.ckan.action.package_delete(id="x")


@pytest.mark.parametrize(
    ("method", "path", "kwargs", "status", "kind", "message"),
    [
        ("GET", "/api/3/action/package_search?fq=title:bikes", {}, 409, "Validation Error", "cannot filter on 'title'"),
        ("GET", "/api/3/action/package_show?id=missing", {}, 404, "Not Found Error", "Not found: no dataset"),
        ("GET", "/api/3/action/nope", {}, 400, "Bad Request", "Bad request - Action name not known: nope"),
        ("POST", "/api/3/action/package_search", {"content": b"{not json"}, 400, "Bad Request", "JSON Error"),
        ("POST", "/api/3/action/package_search", {"content": b"[1, 2]"}, 400, "Bad Request", "is not a JSON object"),
        ("GET", "/api/3/action/status_show", {"headers": {"Accept": "text/html"}}, 406, "Not Acceptable", "only JSON"),
    ],
)  # fmt: skip
async def test_error_envelope(
    served: Served, method: str, path: str, kwargs: dict[str, Any], status: int, kind: str, message: str
) -> None:
    async with httpx.AsyncClient(base_url=served.url, timeout=10) as client:
        response = await client.request(method, path, **kwargs)
    assert response.status_code == status
    assert response.headers["content-type"] == "application/json;charset=utf-8"
    body = response.json()
    assert body["success"] is False
    assert body["help"].startswith(f"{served.url}/api/3/action/help_show?name=")
    assert body["error"]["__type"] == kind
    assert message in body["error"]["message"]
    assert "result" not in body
