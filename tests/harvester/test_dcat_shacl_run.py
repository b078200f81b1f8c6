"""A DCAT harvest checks the source's graph against the DCAT-AP shapes and files each finding under its dataset."""

from __future__ import annotations

from pathlib import Path

import httpx
import pytest

from harvester import store as run_store
from harvester.http import HttpClient
from harvester.run import Harvester
from hub.cities import Registry, Source
from hub.db import Database
from hub.settings import Settings
from schemas.cli import copy_shapes
from schemas.records import RecordValidator
from schemas.sdm import SdmValidator
from schemas.store import SchemaStore

pytestmark = pytest.mark.anyio
HOST = "catalogue.test"
TURTLE = b"""@prefix dcat: <http://www.w3.org/ns/dcat#> .
@prefix dct: <http://purl.org/dc/terms/> .
<https://data.example/catalog> a dcat:Catalog ; dct:title "Katalog"@nb ; dct:description "Alt"@nb ;
    dct:publisher <https://data.example/org> ; dcat:dataset <https://data.example/ds/1>, <https://data.example/ds/2> .
<https://data.example/org> a <http://xmlns.com/foaf/0.1/Agent> ; <http://xmlns.com/foaf/0.1/name> "Kommunen"@nb .
<https://data.example/ds/1> a dcat:Dataset ; dct:title "Sykkelruter"@nb ; dct:description "Ruter"@nb .
<https://data.example/ds/2> a dcat:Dataset ; dct:title "Parkering"@nb .
"""


async def test_shacl_findings_go_to_their_dataset(
    db: Database, registry: Registry, settings: Settings, shared_data: Path, tmp_path: Path
) -> None:
    store = SchemaStore(tmp_path / "schemas")
    store.sync_from_dir(shared_data)
    copy_shapes(shared_data, store.root)
    source = Source.model_validate(
        {"id": "oslo-catalogue", "kind": "dcat", "url": f"https://{HOST}/catalog.ttl", "schedule": "17 3 * * *"}
    )
    only = Registry(
        cities=[c.model_copy(update={"sources": [source] if c.id == "oslo" else []}) for c in registry.cities]
    )
    transport = httpx.MockTransport(
        lambda r: httpx.Response(200, content=TURTLE, headers={"Content-Type": "text/turtle"})
    )
    async with HttpClient(settings, transport=transport, allow_hosts=[HOST]) as client:
        harvester = Harvester(db, only, client, validator=RecordValidator(SdmValidator(store)))
        report = await harvester.run("oslo-catalogue")
        await harvester.aclose()
    assert report.ok, report.error
    assert report.counts["created"] == 2  # an incomplete dataset is still published
    assert report.run_id is not None
    with db.connect() as conn:
        items = {i["record_id"]: i for i in run_store.list_items(conn, report.run_id)}
    second = items["https://data.example/ds/2"]["findings"]
    assert any(
        f["rule"].startswith("dcat.") and "description" in f["pointer"] and f["severity"] == "error" for f in second
    ), second
    first = items["https://data.example/ds/1"]["findings"]
    assert not [f for f in first if f["severity"] == "error"]
