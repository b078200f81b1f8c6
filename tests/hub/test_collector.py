"""hub.collector: the cyclic collector is paused for a block and always comes back on."""

from __future__ import annotations

import gc

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
