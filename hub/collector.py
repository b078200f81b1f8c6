"""Pausing Python's cyclic garbage collector around the harvest's bulk work.

Building a snapshot's entities allocates a few dozen containers per record, and each allocation counts toward the
collector's thresholds: a 20,000-station snapshot triggers hundreds of collections, the oldest of which walk every
object alive (the parsed feeds, the entities being built). Profiling the harvest pipeline showed half of the
transform's time spent there (bench/harvest_pipeline.py). The records built in a batch hold no reference cycles, so
reference counting frees them all the same; the collector only needs to wait until the batch is done.
"""

from __future__ import annotations

import gc
from collections.abc import Iterator
from contextlib import contextmanager


@contextmanager
def collection_paused() -> Iterator[None]:
    """Suspend cyclic collection for the block; the one who paused it turns it back on.

    Safe when blocks overlap (concurrent harvests in threads): a block that found collection already off leaves it
    off, so collection is on again once the block that turned it off has ended, and never stays off for good.
    """
    was_enabled = gc.isenabled()
    gc.disable()
    try:
        yield
    finally:
        if was_enabled:
            _promote_unscanned()
            gc.enable()


def _promote_unscanned() -> None:
    """Move every tracked object to the oldest generation without walking them.

    Objects allocated while collection was off all sit in the youngest generation, and its count is far past the
    threshold: the first allocation after ``gc.enable()`` would walk every one still alive — the 20,000 stations of
    a snapshot still held by the caller, 50 ms a snapshot, a twentieth of the harvest (bench/harvest_pipeline.py).
    ``freeze`` splices every generation onto the permanent one and zeroes the youngest count, ``unfreeze`` splices
    them onto the oldest generation: both are constant time. The survivors are then looked at by the next full
    collection, as long-lived objects are, and garbage with a reference cycle among them is freed then instead of
    now. (The hub never freezes objects for good, so unfreezing takes nobody's frozen objects.)
    """
    gc.freeze()
    gc.unfreeze()
