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


def _at(**attrs: list[float]) -> Series:
    """Instances at the given times (several at one time: one write, as recorded times are), oldest first."""
    return {KEY: {name: [(n, t) for n, t in enumerate(times)] for name, times in attrs.items()}}


def test_an_instant_is_never_cut_in_two() -> None:
    # the cap (3) falls inside the instances recorded at 2: the page holds all of them (ending at 1 instead
    # would leave one instant, which timerel=after 1 would answer again)
    page = paginate(_at(a=[1, 2, 2, 2, 3]), TemporalQuery(tenant=None, max_instances=3))
    assert _seconds(page, "a") == [1, 2, 2, 2]
    assert page.content_range == f"date-time {iso(1)}-{iso(2)}/*"
    page = paginate(_at(a=[0, 1, 2, 2, 2, 3]), TemporalQuery(tenant=None, max_instances=4))
    assert _seconds(page, "a") == [0, 1]  # the instant at 2 is left whole for the next page
    assert page.content_range == f"date-time {iso(0)}-{iso(1)}/*"


def test_a_first_instant_over_the_cap_is_sent_whole_with_the_next() -> None:
    """timerel=after includes its timeAt: a page of one instant would come back unchanged, so the next instant
    comes along and the range ends there."""
    page = paginate(_at(a=[5, 5, 5, 5, 5, 7, 8]), TemporalQuery(tenant=None, max_instances=3))
    assert _seconds(page, "a") == [5, 5, 5, 5, 5, 7]
    assert page.content_range == f"date-time {iso(5)}-{iso(7)}/*"


def test_one_instant_alone_is_the_whole_answer() -> None:
    page = paginate(_at(a=[5, 5, 5, 5, 5]), TemporalQuery(tenant=None, max_instances=3))
    assert page.content_range is None
    assert _seconds(page, "a") == [5] * 5


def test_a_cap_of_one_still_progresses() -> None:
    page = paginate(_series(a=range(4)), TemporalQuery(tenant=None, max_instances=1))
    assert page.content_range == f"date-time {iso(0)}-{iso(1)}/*"
    assert _seconds(page, "a") == [0, 1]


def test_newest_first_keeps_the_instant_of_the_cut_whole() -> None:
    q = TemporalQuery(tenant=None, max_instances=3, last_n=10)
    page = paginate(_at(a=[1, 2, 3, 3, 3, 3]), q)  # newest first: 3 (four of them) is one instant
    assert _seconds(page, "a") == [3, 3, 3, 3]
    assert page.content_range == f"date-time {iso(3)}-{iso(3)}/10"
    page = paginate(_at(a=[1, 2, 2, 2, 3]), q)  # the cap falls inside 2: the page stops at 3
    assert _seconds(page, "a") == [3]
