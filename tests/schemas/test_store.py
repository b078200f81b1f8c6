"""The schema store: manifest, sync from a folder or URLs with sha256 verification, offline ``$ref`` resolution."""

from __future__ import annotations

import hashlib
import json
import shutil
import socket
import urllib.request
from pathlib import Path
from typing import Any

import httpx
import pytest
from referencing.exceptions import Unresolvable
from typer.testing import CliRunner

from hub.errors import ConfigError, SourceHTTPError
from schemas.cli import app
from schemas.findings import Severity
from schemas.sdm import SdmValidator
from schemas.store import (
    GBFS,
    SDM,
    Artefact,
    ArtefactKind,
    ArtefactState,
    SchemaStore,
    format_checker,
    load_manifest,
)

BHDS_PATH = "smart-data-models/dataModel.Transportation/BikeHireDockingStation/schema.json"
COMMON_URL = "https://smart-data-models.github.io/data-models/common-schema.json"
PROVENANCE_COMMITS = {
    "dataModel.Transportation": "6aee14bc680798fb6ef2ba101fee3f732d4305bd",
    "dataModel.Parking": "d49af3c051dfc06d08d43183d2a7a3586d2ba163",
    "dataModel.GBFS": "eca761ece2964f52eef87ff68db1818aec1d3b8b",
}
GBFS_COMMIT = "2e974fd51ae1db9c8006c97375d53e0b882cfedf"


@pytest.fixture(scope="module")
def manifest() -> tuple[Artefact, ...]:
    return load_manifest()


@pytest.fixture(scope="module")
def synced(tmp_path_factory: pytest.TempPathFactory, shared_data: Path) -> SchemaStore:
    store = SchemaStore(tmp_path_factory.mktemp("var") / "schemas")
    store.sync_from_dir(shared_data)
    return store


def _shared_schema_files(shared_data: Path) -> set[str]:
    sdm = {p for p in (shared_data / SDM).rglob("*.json") if p.name == "schema.json" or p.name.endswith("-schema.json")}
    gbfs = {*(shared_data / GBFS / "v2.3").glob("*.json"), *(shared_data / GBFS / "v3.0").glob("*.json")}
    return {p.relative_to(shared_data).as_posix() for p in sdm | gbfs}


def test_manifest_lists_every_shared_schema_with_its_sha256(manifest: tuple[Artefact, ...], shared_data: Path) -> None:
    assert {a.path for a in manifest} == _shared_schema_files(shared_data)
    assert len(manifest) == 48
    for artefact in manifest:
        assert hashlib.sha256((shared_data / artefact.path).read_bytes()).hexdigest() == artefact.sha256, artefact.path


def test_manifest_urls_are_the_official_ones(manifest: tuple[Artefact, ...], shared_data: Path) -> None:
    by_path = {a.path: a for a in manifest}
    common = by_path["smart-data-models/shared/common-schema.json"]
    assert (common.url, common.kind, common.commit) == (
        COMMON_URL,
        ArtefactKind.SDM_COMMON,
        "865391b0cac142ddfabd8bd285034b83ecb1864f",
    )
    for artefact in manifest:
        if artefact.kind is ArtefactKind.SDM_MODEL:
            expected = f"https://smart-data-models.github.io/{artefact.subject}/{artefact.model}/schema.json"
            assert artefact.url == expected == json.loads((shared_data / artefact.path).read_bytes())["$id"]
            assert artefact.commit == PROVENANCE_COMMITS.get(str(artefact.subject), "")
        if artefact.kind is ArtefactKind.GBFS:
            name = artefact.path.rsplit("/", 1)[1]
            base = "https://raw.githubusercontent.com/MobilityData/gbfs-json-schema"
            assert artefact.url == f"{base}/master/v{artefact.gbfs_version}/{name}"
            assert artefact.fetch_url == f"{base}/{GBFS_COMMIT}/v{artefact.gbfs_version}/{name}"
    bhds = by_path[BHDS_PATH]
    assert bhds.version == "0.1.1 @ 6aee14bc6807"
    assert bhds.fetch_url == (
        "https://raw.githubusercontent.com/smart-data-models/dataModel.Transportation/"
        "6aee14bc680798fb6ef2ba101fee3f732d4305bd/BikeHireDockingStation/schema.json"
    )
    environment = by_path["smart-data-models/dataModel.Environment/AirQualityObserved/schema.json"]
    assert environment.fetch_url == environment.url  # no commit recorded upstream: the official URL


def test_a_malformed_manifest_entry_is_a_config_error_naming_it(tmp_path: Path) -> None:
    bad = tmp_path / "manifest.toml"
    bad.write_text('[[artefact]]\npath = "gbfs/v2.3/gbfs.json"\nkind = "nonsense"\nurl = "x"\nsha256 = "0"\n')
    with pytest.raises(ConfigError, match=r"artefact 0 \(gbfs/v2.3/gbfs.json\)"):
        load_manifest(bad)


def test_an_empty_store_is_not_available(tmp_path: Path) -> None:
    store = SchemaStore(tmp_path / "schemas")
    assert store.available() is False
    assert store.model_schema("BikeHireDockingStation") is None
    assert store.model_validator("BikeHireDockingStation") is None
    assert {state for _, state in store.inventory()} == {ArtefactState.MISSING}


def test_sync_from_the_shared_smart_data_models_folder(tmp_path: Path, shared_data: Path) -> None:
    store = SchemaStore(tmp_path / "schemas")
    report = store.sync_from_dir(shared_data / SDM)
    assert (report.collections, report.skipped) == ((SDM,), (GBFS,))
    assert len(report.written) == 23
    assert report.unchanged == ()
    assert store.available() is True
    assert store.collections() == {SDM}
    assert (tmp_path / "schemas" / BHDS_PATH).read_bytes() == (shared_data / BHDS_PATH).read_bytes()
    schema = store.model_schema("BikeHireDockingStation")
    assert schema is not None
    assert schema["$id"].endswith("/BikeHireDockingStation/schema.json")
    assert store.model_schema("NoSuchModel") is None
    assert store.gbfs_schema("2.3", "station_status") is None  # not synced from this folder
    again = store.sync_from_dir(shared_data / SDM)
    assert (len(again.written), len(again.unchanged)) == (0, 23)


def test_sync_from_the_shared_data_folder_takes_both_collections(synced: SchemaStore) -> None:
    assert synced.collections() == {SDM, GBFS}
    states = synced.inventory()
    assert len(states) == 48
    assert {state for _, state in states} == {ArtefactState.OK}
    gbfs = synced.gbfs_schema("3.0", "station_status")
    assert gbfs is not None
    assert gbfs["$id"] == "https://github.com/MobilityData/gbfs/blob/v3.0/gbfs.md#station_statusjson"


def _copy_sdm(shared_data: Path, tmp_path: Path) -> Path:
    source = tmp_path / "source" / SDM
    shutil.copytree(shared_data / SDM, source)
    return source


def test_a_tampered_file_fails_verification_and_names_itself(tmp_path: Path, shared_data: Path) -> None:
    source = _copy_sdm(shared_data, tmp_path)
    target = source / BHDS_PATH.split("/", 1)[1]
    target.write_bytes(target.read_bytes().replace(b'"minimum": 0', b'"minimum": 1', 1))
    store = SchemaStore(tmp_path / "schemas")
    with pytest.raises(ConfigError, match=r"BikeHireDockingStation/schema\.json.*sha256") as raised:
        store.sync_from_dir(source)
    assert BHDS_PATH in raised.value.detail
    assert store.available() is False
    assert not (tmp_path / "schemas").exists()  # verified before anything is written


def test_a_file_missing_from_the_source_is_named(tmp_path: Path, shared_data: Path) -> None:
    source = _copy_sdm(shared_data, tmp_path)
    (source / "shared" / "common-schema.json").unlink()
    with pytest.raises(ConfigError, match=r"smart-data-models/shared/common-schema\.json is missing"):
        SchemaStore(tmp_path / "schemas").sync_from_dir(source)


def test_a_folder_without_any_collection_is_refused(tmp_path: Path) -> None:
    with pytest.raises(ConfigError, match="holds none of the collections gbfs, smart-data-models"):
        SchemaStore(tmp_path / "schemas").sync_from_dir(tmp_path)


def test_inventory_sees_modified_and_missing_files(tmp_path: Path, shared_data: Path) -> None:
    store = SchemaStore(tmp_path / "schemas")
    store.sync_from_dir(shared_data / SDM)
    (store.root / BHDS_PATH).write_text("{}")
    (store.root / "smart-data-models/dataModel.Parking/ParkingSpot/schema.json").unlink()
    states = {a.path: s for a, s in store.inventory()}
    assert states[BHDS_PATH] is ArtefactState.MODIFIED
    assert states["smart-data-models/dataModel.Parking/ParkingSpot/schema.json"] is ArtefactState.MISSING
    assert states["smart-data-models/shared/common-schema.json"] is ArtefactState.OK


def _fake_fetch(shared_data: Path, manifest: tuple[Artefact, ...], fetched: list[str], tamper: str = "") -> Any:
    by_url = {a.fetch_url: a for a in manifest}

    async def fetch(url: str) -> bytes:
        fetched.append(url)
        artefact = by_url[url]
        body = (shared_data / artefact.path).read_bytes()
        return body + b" " if artefact.path == tamper else body

    return fetch


@pytest.mark.anyio
async def test_sync_from_urls_fetches_every_artefact_pinned_where_known(
    tmp_path: Path, shared_data: Path, manifest: tuple[Artefact, ...]
) -> None:
    fetched: list[str] = []
    store = SchemaStore(tmp_path / "schemas")
    report = await store.sync_from_urls(_fake_fetch(shared_data, manifest, fetched))
    assert report.verified == 48
    assert report.collections == (GBFS, SDM)
    assert sorted(fetched) == sorted(a.fetch_url for a in manifest)
    pinned = [u for u in fetched if "/6aee14bc680798fb6ef2ba101fee3f732d4305bd/" in u]
    assert len(pinned) == 6  # the six Transportation models, at the recorded commit
    assert "https://smart-data-models.github.io/dataModel.Environment/AirQualityObserved/schema.json" in fetched
    assert store.collections() == {SDM, GBFS}


@pytest.mark.anyio
async def test_sync_from_urls_refuses_a_changed_upstream_file_and_writes_nothing(
    tmp_path: Path, shared_data: Path, manifest: tuple[Artefact, ...]
) -> None:
    store = SchemaStore(tmp_path / "schemas")
    fetch = _fake_fetch(shared_data, manifest, [], tamper="gbfs/v3.0/station_status.json")
    with pytest.raises(ConfigError, match=r"gbfs/v3\.0/station_status\.json from official URLs: sha256"):
        await store.sync_from_urls(fetch)
    assert store.available() is False
    assert not store.root.exists()


@pytest.mark.anyio
async def test_sync_from_urls_passes_the_fetch_errors_through(tmp_path: Path) -> None:
    async def failing(url: str) -> bytes:
        raise SourceHTTPError(f"{url} answered 404", http_status=404)

    with pytest.raises(SourceHTTPError, match="answered 404"):
        await SchemaStore(tmp_path / "schemas").sync_from_urls(failing)


def test_registry_resolves_common_schema_and_aliases_offline(synced: SchemaStore) -> None:
    resolver = synced.registry().resolver()
    gsma = resolver.lookup(f"{COMMON_URL}#/definitions/GSMA-Commons").contents
    assert gsma["type"] == "object"
    assert "dateModified" in gsma["properties"]
    alias = "https://raw.githubusercontent.com/smart-data-models/dataModel.Environment/master/Environment-schema.json"
    assert resolver.lookup(f"{alias}#/definitions/airQualityLevel").contents["minLength"] == 2
    legacy = "https://github.com/smart-data-models/data-models/raw/master/common-schema.json"
    assert "anyOf" in resolver.lookup(f"{legacy}#/definitions/EntityIdentifierType").contents
    with pytest.raises(Unresolvable):
        resolver.lookup("https://example.org/not-in-the-store.json#/definitions/x")


def test_validation_through_refs_makes_no_network_call(
    synced: SchemaStore, shared_data: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    calls: list[str] = []

    def refuse(*args: object, **kwargs: object) -> Any:
        calls.append(repr(args[:2]))
        raise AssertionError("network access during schema resolution")

    monkeypatch.setattr(urllib.request, "urlopen", refuse)
    monkeypatch.setattr(httpx.Client, "send", refuse)
    monkeypatch.setattr(httpx.AsyncClient, "send", refuse)
    monkeypatch.setattr(socket.socket, "connect", refuse)
    store = SchemaStore(synced.root)  # fresh caches: the registry is built and crawled under the patches
    entity = json.loads((shared_data / SDM / "dataModel.Environment/AirQualityObserved/example.json").read_bytes())
    entity["id"] = ["not", "a", "string"]  # wrong under common-schema's EntityIdentifierType ($ref by URL)
    entity["airQualityLevel"] = "x"  # too short under Environment-schema's airQualityLevel (an alias URL)
    findings = SdmValidator(store).check(entity)
    by_pointer = {f.pointer: f for f in findings if f.severity is Severity.ERROR}
    assert by_pointer["/id"].rule == "sdm.anyOf"
    assert by_pointer["/airQualityLevel"].rule == "sdm.minLength"
    assert calls == []


def test_compiled_validators_are_cached_per_store(synced: SchemaStore) -> None:
    first = synced.model_validator("AirQualityObserved")
    assert first is not None
    assert first is synced.model_validator("AirQualityObserved")
    gbfs = synced.gbfs_validator("2.3", "station_status")
    assert gbfs is not None
    assert gbfs is synced.gbfs_validator("2.3", "station_status")
    assert synced.gbfs_validator("2.2", "station_status") is None


def test_a_new_sync_drops_the_compiled_validators(tmp_path: Path, shared_data: Path) -> None:
    store = SchemaStore(tmp_path / "schemas")
    store.sync_from_dir(shared_data / SDM)
    before = store.model_validator("Vehicle")
    store.sync_from_dir(shared_data / SDM)
    assert before is not None
    assert store.model_validator("Vehicle") is not before


@pytest.mark.parametrize(
    ("fmt", "value", "valid"),
    [
        ("date-time", "2016-03-15T11:00:00Z", True),
        ("date-time", "2016-03-15T11:00:00.5+01:00", True),
        ("date-time", "2016-03-15T11:00:00", False),
        ("date-time", "2016-02-30T11:00:00Z", False),
        ("date", "2024-02-29", True),
        ("date", "2023-02-29", False),
        ("uri", "https://example.org/a", True),
        ("uri", "not a uri", False),
        ("email", "opendata@nordhub.invalid", True),
        ("email", "nobody", False),
    ],
)
def test_format_checker(fmt: str, value: str, valid: bool) -> None:
    assert format_checker().conforms(value, fmt) is valid


def test_cli_sync_and_list(tmp_path: Path, shared_data: Path) -> None:
    runner = CliRunner()
    synced = runner.invoke(app, ["sync", "--from", str(shared_data), "--data-dir", str(tmp_path)])
    assert synced.exit_code == 0, synced.output
    assert "verified 48 artefacts (48 written, 0 unchanged)" in synced.output
    listed = runner.invoke(app, ["list", "--data-dir", str(tmp_path)])
    assert listed.exit_code == 0
    assert f"ok        sdm-model    {BHDS_PATH}  0.1.1 @ 6aee14bc6807" in listed.output
    assert "48 of 48 artefacts present and verified" in listed.output


def test_cli_sync_of_a_tampered_folder_fails_with_one_line(tmp_path: Path, shared_data: Path) -> None:
    source = _copy_sdm(shared_data, tmp_path)
    (source / "shared" / "common-schema.json").write_text("{}")
    result = CliRunner().invoke(app, ["sync", "--from", str(source), "--data-dir", str(tmp_path / "var")])
    assert result.exit_code == 1
    assert "nordhub: error: schema artefact smart-data-models/shared/common-schema.json" in result.output
    listed = CliRunner().invoke(app, ["list", "--data-dir", str(tmp_path / "var")])
    assert "0 of 48 artefacts present and verified" in listed.output
    assert "nothing synced: structural checks only" in listed.output
