"""The hub's own records (its NGSI-LD data described in DCAT) score Excellent in the MQA."""

from __future__ import annotations

from pathlib import Path

import pytest

from catalog.mqa import Band, load_mqa_vocabularies, mandatory_fields_present, score_dataset
from catalog.own import listed, own_item, sdm_schemas
from harvester.run import Harvester
from hub.db import Database

pytestmark = pytest.mark.anyio
BASE = "http://hub.test"


async def test_hub_described_datasets_are_excellent(harvester: Harvester, db: Database, shared_data: Path) -> None:
    report = await harvester.run("bergen-bysykkel-demo")
    assert report.ok
    vocab = load_mqa_vocabularies(shared_data / "mqa" / "vocabs")
    with db.connect() as conn:
        [summary] = [s for s in listed(conn, registry=harvester.registry, base_url=BASE) if s.tenant == "bergen"]
        item = own_item(
            conn,
            summary,
            registry=harvester.registry,
            base_url=BASE,
            schemas=sdm_schemas(),
            contact="opendata@nordhub.test",
        )
    dataset = item.dataset
    distribution = dataset.distributions[0]
    assert distribution.download_url is not None
    assert "idPattern=urn%3Angsi-ld%3ABikeHireDockingStation%3Abergen%3A.%2A" in distribution.download_url
    # The hub serves its own URLs: they answer (the link checker counts them as reachable the same way).
    links = {distribution.access_url: True, distribution.download_url: True}
    score = score_dataset(dataset, link_status=links, compliant=mandatory_fields_present(dataset), vocab=vocab)
    assert score.points >= 351, score.to_json()
    assert score.band is Band.EXCELLENT
