"""The cut of temporal pages (ngsi.temporal_pages): one instant for every attribute, the range and its size."""

from __future__ import annotations

from typing import Any

from ngsi.temporal import Series, TemporalQuery, TimeRel, iso
from ngsi.temporal_pages import paginate

KEY = ("", "urn:ngsi-ld:Vehicle:1")


def _series(**attrs: range) -> Series:
    """Instances one second apart at the given seconds, as ngsi.temporal.instances returns them (oldest first)."""
    return {KEY: {name: [(s, float(s)) for s in seconds] for name, seconds in attrs.items()}}


def _seconds(page: Any, attr: str) -> list[float]:
    return [ts for _value, ts in page.series[KEY][attr]]


def test_nothing_over_the_cap_is_whole() -> None:
    page = paginate(_series(a=range(3)), TemporalQuery(tenant=None, max_instances=3))
    assert page.content_range is None
    assert _seconds(page, "a") == [0, 1, 2]


def test_no_cap_at_all_keeps_everything() -> None:
    assert paginate(_series(a=range(50)), TemporalQuery(tenant=None)).content_range is None


def test_oldest_first_cut_at_the_earliest_boundary() -> None:
    # what instances() hands over with a cap of 3: at most 4 per attribute
    page = paginate(_series(a=range(4), b=range(1, 3), c=range(2, 6)), TemporalQuery(tenant=None, max_instances=3))
    assert page.content_range == f"date-time {iso(0)}-{iso(2)}/*"
    assert _seconds(page, "a") == [0, 1, 2]
    assert _seconds(page, "b") == [1, 2]
    assert _seconds(page, "c") == [2]


def test_newest_first_with_last_n_over_the_cap() -> None:
    q = TemporalQuery(tenant=None, max_instances=3, last_n=7)
    page = paginate(_series(a=range(10, 14), b=range(20, 24)), q)
    assert page.content_range == f"date-time {iso(23)}-{iso(21)}/7"
    assert _seconds(page, "a") == []
    assert _seconds(page, "b") == [21, 22, 23]


def test_window_bounds_open_the_range() -> None:
    after = TemporalQuery(tenant=None, max_instances=2, timerel=TimeRel.AFTER, time_at=-5.0)
    assert paginate(_series(a=range(3)), after).content_range == f"date-time {iso(-5)}-{iso(1)}/*"
    before = TemporalQuery(tenant=None, max_instances=2, last_n=5, timerel=TimeRel.BEFORE, time_at=100.0)
    assert paginate(_series(a=range(3)), before).content_range == f"date-time {iso(100)}-{iso(1)}/5"


def test_last_n_under_the_cap_keeps_each_attributes_newest() -> None:
    q = TemporalQuery(tenant=None, max_instances=10, last_n=2)
    page = paginate(_series(a=range(3), b=range(100, 103)), q)
    assert page.content_range is None
    assert _seconds(page, "a") == [1, 2]
    assert _seconds(page, "b") == [101, 102]
