"""Pagination of temporal attributes (GS CIM 009 clause 6.3.10): pure functions over the instances read by
``ngsi.temporal.instances`` — the hub's cap per attribute, one time range complete for every attribute, and the
``Content-Range`` that names it.
"""

from __future__ import annotations

from dataclasses import dataclass

from ngsi.temporal import Series, TemporalQuery, TimeRel, iso


@dataclass(frozen=True, slots=True)
class Page:
    """The instances to send, and the Content-Range of the time they cover when some were cut (else None)."""

    series: Series
    content_range: str | None = None


def paginate(series: Series, q: TemporalQuery) -> Page:
    """Cut the instances to the cap and send one time range complete for every attribute (clause 6.3.10).

    An attribute here is one attribute instance: an attribute with several datasetIds has a series per datasetId,
    each capped on its own (as lastN applies per datasetId).

    lastN below the hub's cap only keeps each attribute's newest N: that is all that was asked, nothing is left
    out (200). When the hub's cap (NORDHUB_TEMPORAL_MAX_INSTANCES) cuts, each attribute over it keeps its cap
    instances (the oldest; the newest with lastN). The range then ends where the first such attribute stops, and
    every other attribute is cut at the same instant, so that a client asking again from there misses nothing.
    It runs from the older end (the window's start, else the oldest instance sent) to the cut; with lastN it
    runs backwards, from the newer end (the window's end, else the newest instance) down to the cut. Its size is
    lastN, or ``*`` (unknown) without it.
    """
    cap = q.instance_cap
    newest_first = q.last_n is not None
    if cap is None:
        return Page(series)
    if q.max_instances is None or cap < q.max_instances:
        # Only lastN cut: each attribute's newest N is the whole answer to what was asked, not a partial one.
        return Page({key: {attr: found[-cap:] for attr, found in attrs.items()} for key, attrs in series.items()})
    bounds = [
        bound
        for attrs in series.values()
        for found in attrs.values()
        if (bound := _bound([i[1] for i in found], cap, newest_first)) is not None
    ]
    if not bounds:
        return Page(series)
    cut = max(bounds) if newest_first else min(bounds)
    kept: Series = {
        key: {
            attr: [i for i in found if (i[1] >= cut if newest_first else i[1] <= cut)] for attr, found in attrs.items()
        }
        for key, attrs in series.items()
    }
    sent = [instance[1] for attrs in kept.values() for found in attrs.values() for instance in found]
    if newest_first:
        window_end = q.end_time_at if q.timerel is TimeRel.BETWEEN else None
        window_end = q.time_at if q.timerel is TimeRel.BEFORE else window_end
        start, end = (window_end if window_end is not None else max(sent)), cut
    else:
        window_start = q.time_at if q.timerel in (TimeRel.AFTER, TimeRel.BETWEEN) else None
        start, end = (window_start if window_start is not None else min(sent)), cut
    size = str(q.last_n) if q.last_n is not None else "*"
    return Page(kept, f"date-time {iso(start)}-{iso(end)}/{size}")


def _bound(times: list[float], cap: int, newest_first: bool) -> float | None:
    """The last instant one attribute instance's page may hold (None: nothing of it is left out), given the times
    of its instances as ``ngsi.temporal.instances`` reads them (oldest first).

    Several instances may share an instant (one write, with timeproperty=createdAt/modifiedAt), and an instant is
    never cut in two: the client asks for the next page from the range's end, and the instances of that instant
    beyond the cut would be lost (``before`` leaves the end out) or the page would come back unchanged. So the
    page ends at the last instant whole within the cap; an instant over the cap on its own is sent whole.
    Oldest first, the next page (``after``: from the end, included) starts again at the end's instant, so the page
    holds at least two instants, else it would come back unchanged."""
    if len(times) <= cap:
        return None
    ordered = times[::-1] if newest_first else times
    instants = sorted(set(ordered), reverse=newest_first)  # in paging order
    last = ordered[cap - 1]
    whole = instants.index(last) - (ordered[cap] == last)  # the instant of the cap-th instance, if it ends there
    least = 0 if newest_first else 1
    bound = instants[min(max(whole, least), len(instants) - 1)]
    return None if bound == instants[-1] else bound
