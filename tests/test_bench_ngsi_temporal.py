"""The temporal aggregation benchmark runs end to end on the test database at a small size: what `make bench`
prints is what its code measures (it broke once unnoticed when the aggregates became keyed by datasetId)."""

from __future__ import annotations

import pytest

from bench import ngsi_temporal as bench
from ngsi import temporal as history


def test_the_temporal_benchmark_prints_its_figures(
    database_url: str, monkeypatch: pytest.MonkeyPatch, capsys: pytest.CaptureFixture[str]
) -> None:
    end = bench.START + 86400
    monkeypatch.setattr(bench, "STATIONS", 3)
    monkeypatch.setattr(bench, "END", end)
    monkeypatch.setattr(bench, "INSTANCES", 3 * 1440)
    monkeypatch.setattr(bench, "RUNS", 2)
    query = bench.QUERY.replace(history.iso(bench.START + bench.DAYS * 86400), history.iso(end))
    monkeypatch.setattr(bench, "QUERY", query)
    bench.run(database_url, "test")
    out = capsys.readouterr().out
    assert "3 stations" in out
    assert out.count("72 averages") == 2  # 3 stations x 24 hours, by the function path and over ASGI
    assert "raw SQL GROUP BY" in out
