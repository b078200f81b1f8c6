"""Reading an ``Accept`` header (RFC 9110 §12.5.1): its media ranges with their q-values, in the order sent.

Shared by the NGSI-LD API's and the catalogue's content negotiation; each decides what it offers."""

from __future__ import annotations


def accept_ranges(accept: str) -> list[tuple[str, float]]:
    """(media range in lower case, q) for each range of ``accept``; an unreadable q counts as 0 (not acceptable)."""
    ranges: list[tuple[str, float]] = []
    for part in accept.split(","):
        media, *params = (p.strip() for p in part.split(";"))
        weight = 1.0
        for param in params:
            name, _, value = param.partition("=")
            if name.strip().lower() == "q":
                try:
                    weight = float(value)
                except ValueError:
                    weight = 0.0
        if media:
            ranges.append((media.lower(), weight))
    return ranges
