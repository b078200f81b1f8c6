"""POST /api/v1/validate and `nordhub validate`: files, folders and URLs, one report shape, exit codes."""

from __future__ import annotations

import json
import os
import subprocess
import sys
from pathlib import Path

import httpx
import pytest

from api.state import HubState
from schemas.cli import copy_shapes
from schemas.store import SchemaStore
from tests.conftest import ROOT

pytestmark = pytest.mark.anyio
REPORT_KEYS = {"kind", "valid", "errors", "warnings", "counts", "findings", "truncated"}


@pytest.fixture
def synced(hub: HubState, shared_data: Path) -> Path:
    root = hub.settings.data_dir / "schemas"
    SchemaStore(root).sync_from_dir(shared_data)
    copy_shapes(shared_data, root)
    return hub.settings.data_dir


async def test_smart_data_model_findings_point_into_the_entity(
    api: httpx.AsyncClient, synced: Path, shared_data: Path
) -> None:
    body = shared_data / "smart-data-models/dataModel.Environment/AirQualityObserved/example-normalized.jsonld"
    response = await api.post("/api/v1/validate", params={"kind": "sdm"}, content=body.read_bytes())
    report = response.json()
    assert response.status_code == 200
    assert set(report) >= REPORT_KEYS
    assert report["valid"] is False
    assert report["structural_only"] is False
    pointers = {(f["rule"], f["pointer"]) for f in report["findings"]}
    assert ("sdm.type", "/tsp/value") in pointers
    assert ("sdm.naive-datetime", "/dateObserved/value") in pointers


async def test_auto_detects_gbfs_and_dcat(api: httpx.AsyncClient, synced: Path, shared_data: Path) -> None:
    gbfs = (shared_data / "gbfs/examples/v2.3/station_information.json").read_bytes()
    report = (await api.post("/api/v1/validate", params={"name": "station_information.json"}, content=gbfs)).json()
    assert report["kind"] == "gbfs"
    assert report["version"] == "2.3"
    assert report["errors"] == 0
    turtle = (shared_data / "dcat-ap/examples/dcat-ap-no__DCAT-AP-NO2.0-examples.ttl").read_bytes()
    params = {"name": "examples.ttl", "profile": "dcat-ap-no-2.0:base"}
    report = (await api.post("/api/v1/validate", params=params, content=turtle)).json()
    assert report["kind"] == "dcat"
    assert report["valid"] is True
    assert report["profile"] == "dcat-ap-no-2.0:base"


async def test_a_polygon_crossing_itself_is_a_warning(api: httpx.AsyncClient, synced: Path) -> None:
    bow_tie = {
        "type": "Polygon",
        "coordinates": [[[10.7, 59.9], [10.8, 60.0], [10.8, 59.9], [10.7, 60.0], [10.7, 59.9]]],
    }
    entity = {"id": "urn:ngsi-ld:Area:a", "type": "Area", "location": {"type": "GeoProperty", "value": bow_tie}}
    response = await api.post("/api/v1/validate", params={"kind": "ngsi-ld"}, content=json.dumps(entity).encode())
    report = response.json()
    assert (report["valid"], report["errors"], report["warnings"]) == (True, 0, 1)
    [finding] = report["findings"]
    assert (finding["rule"], finding["pointer"]) == ("geojson.invalid-polygon", "/location/value/coordinates")
    assert "Self-intersection[10.75 59.95]" in finding["message"]


async def test_not_json_is_a_parse_finding(api: httpx.AsyncClient, synced: Path, shared_data: Path) -> None:
    broken = shared_data / "smart-data-models/dataModel.PointOfInterest/PointOfInterest/example.jsonld"
    report = (await api.post("/api/v1/validate", params={"kind": "sdm"}, content=broken.read_bytes())).json()
    assert report["valid"] is False
    assert [f["rule"] for f in report["findings"]] == ["json.parse"]


@pytest.mark.parametrize(
    ("params", "content", "needle"),
    [
        ({}, b"", "request body"),
        ({"url": "http://169.254.169.254/latest/meta-data"}, b"", "non-public address"),
        ({"kind": "dcat", "profile": "nonsense:base"}, b"<a> <b> <c> .", "profile"),
        ({"kind": "spreadsheet"}, b"{}", "kind"),
    ],
)
async def test_bad_requests_are_problems(
    api: httpx.AsyncClient, synced: Path, params: dict[str, str], content: bytes, needle: str
) -> None:
    response = await api.post("/api/v1/validate", params=params, content=content)
    assert response.status_code == 400
    assert response.headers["content-type"] == "application/problem+json"
    assert needle in response.json()["detail"]


def _cli(args: list[str], data_dir: Path) -> subprocess.CompletedProcess[str]:
    env = {**{k: v for k, v in os.environ.items() if not k.startswith("NORDHUB_")}, "NORDHUB_DATA_DIR": str(data_dir)}
    return subprocess.run(
        [sys.executable, "-m", "hub.cli", "validate", *args],
        env=env,
        cwd=ROOT,
        capture_output=True,
        text=True,
        timeout=120,
        check=False,
    )


def test_cli_exit_codes_and_formats(tmp_path: Path, shared_data: Path) -> None:
    data_dir = tmp_path / "var"
    SchemaStore(data_dir / "schemas").sync_from_dir(shared_data)
    folder = _cli([str(shared_data / "gbfs/examples/v2.3")], data_dir)
    assert folder.returncode == 0, folder.stdout + folder.stderr
    assert "valid (gbfs)" in folder.stdout
    bad = _cli(
        [
            str(shared_data / "smart-data-models/dataModel.Environment/AirQualityObserved/example-normalized.jsonld"),
            "--kind",
            "sdm",
            "--format",
            "json",
        ],
        data_dir,
    )
    assert bad.returncode == 1
    assert json.loads(bad.stdout)["counts"]["sdm.type"] == 1
    missing = _cli([str(tmp_path / "nope.json")], data_dir)
    assert missing.returncode == 2
    assert "No such file" in missing.stderr
    usage = _cli([str(tmp_path), "--format", "yaml"], data_dir)
    assert usage.returncode == 2
