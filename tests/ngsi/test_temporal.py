"""Instants of the temporal store rendered as RFC 3339."""

from __future__ import annotations

from datetime import UTC, datetime

import pytest

from ngsi.temporal import iso


@pytest.mark.parametrize(
    ("instant", "text"),
    [
        (datetime(2020, 8, 1, 12, 3, tzinfo=UTC), "2020-08-01T12:03:00Z"),
        (datetime(2020, 8, 1, 12, 3, 0, 250000, tzinfo=UTC), "2020-08-01T12:03:00.250Z"),
        (datetime(2020, 8, 1, 12, 3, 0, 1000, tzinfo=UTC), "2020-08-01T12:03:00.001Z"),
        (datetime(1970, 1, 1, tzinfo=UTC), "1970-01-01T00:00:00Z"),
    ],
)
def test_whole_seconds_have_no_fraction(instant: datetime, text: str) -> None:
    assert iso(instant.timestamp()) == text
