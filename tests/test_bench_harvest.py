"""The harvest benchmark runs end to end on the test database (a small snapshot): what `make bench` prints is what
its code measures, and its replay leaves the indexes complete."""

from __future__ import annotations

import pytest
from sqlalchemy import distinct, func, select

from bench import harvest_pipeline
from hub.db import Database
from ngsi import projection
from ngsi.attr_index import attr_index


def test_the_pipeline_benchmark_prints_its_three_figures(
    database_url: str, db: Database, capsys: pytest.CaptureFixture[str]
) -> None:
    harvest_pipeline.run(database_url, "test", n=300, repeats=1)
    out = capsys.readouterr().out
    assert "pipeline to the commit" in out
    assert out.count("entities/s   ratio to floor") == 3
    assert "replay" in out
    assert "end to end" in out
    with db.connect() as conn:
        assert not projection.pending(conn)
        assert conn.execute(select(func.count(distinct(attr_index.c.entity_id)))).scalar_one() == 300
