"""hub.collector: the cyclic collector is paused for a block and always comes back on."""

from __future__ import annotations

import gc
import weakref

import pytest

from hub.collector import collection_paused


def test_collection_is_off_inside_and_back_on_after() -> None:
    assert gc.isenabled()
    with collection_paused():
        assert not gc.isenabled()
    assert gc.isenabled()


def test_collection_comes_back_on_when_the_block_raises() -> None:
    with pytest.raises(ValueError, match="boom"), collection_paused():
        raise ValueError("boom")
    assert gc.isenabled()


def test_overlapping_blocks_turn_it_back_on_once_the_first_has_ended() -> None:
    outer = collection_paused()
    inner = collection_paused()
    outer.__enter__()
    inner.__enter__()
    outer.__exit__(None, None, None)  # the block that turned it off ends first (another thread's harvest)
    assert gc.isenabled()
    inner.__exit__(None, None, None)
    assert gc.isenabled()


def test_a_collector_turned_off_by_someone_else_stays_off() -> None:
    gc.disable()
    try:
        with collection_paused():
            assert not gc.isenabled()
        assert not gc.isenabled()
    finally:
        gc.enable()


class _Node:
    def __init__(self) -> None:
        self.peer: _Node | None = None


def test_what_a_block_made_is_not_walked_when_collection_resumes() -> None:
    walks: list[int] = []

    def count(phase: str, info: dict[str, int]) -> None:
        if phase == "start":
            walks.append(info["generation"])

    gc.collect()
    gc.callbacks.append(count)
    try:
        with collection_paused():
            kept = [[n] for n in range(50_000)]  # each list counts toward the youngest generation's threshold
        after = [[n] for n in range(10)]
    finally:
        gc.callbacks.remove(count)
    # Without the promotion the first allocations after the block would walk all of ``kept``.
    assert walks == []
    assert any(o is kept[0] for o in gc.get_objects(generation=2))  # a long-lived object now
    assert len(after) == 10


def test_a_cycle_made_in_a_block_is_still_collected() -> None:
    with collection_paused():
        first, second = _Node(), _Node()
        first.peer, second.peer = second, first
        gone = weakref.ref(first)
    del first, second
    assert gone() is not None  # a cycle: reference counting alone cannot free it
    gc.collect()
    assert gone() is None
