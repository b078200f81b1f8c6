"""SQLite's REGEXP on RE2 (hub/regexp.py): linear time, Unicode \\w and \\d, NULL for non-text."""

from __future__ import annotations

import sqlite3
import time

import pytest

from hub.regexp import compile_check, re2_pattern, regexp, register_sqlite_regexp


@pytest.mark.parametrize(
    ("pattern", "expected"),
    [
        (r"\w+", r"[\p{L}\p{N}_]+"),
        (r"^\d{4}$", r"^\p{Nd}{4}$"),
        (r"\W\D", r"[^\p{L}\p{N}_]\P{Nd}"),
        (r"[\w\-]+", r"[\p{L}\p{N}_\-]+"),
        (r"[]\d]", r"[]\p{Nd}]"),
        (r"[^]\w]x\w", r"[^]\p{L}\p{N}_]x[\p{L}\p{N}_]"),
        (r"\\w", r"\\w"),  # an escaped backslash, then a plain w
        (r"a\.b\s", r"a\.b\s"),
    ],
)
def test_word_and_digit_classes_are_spelled_in_unicode(pattern: str, expected: str) -> None:
    assert re2_pattern(pattern) == expected


def test_regexp_searches_like_python_re_on_nordic_text() -> None:
    assert regexp(r"^\w+$", "Tromsø") is True
    assert regexp(r"(?i)^ÅLESUND", "Ålesund sentrum") is True
    assert regexp(r"^\d+$", "١٢٣") is True  # Arabic-Indic digits are digits, as in Python and PostgreSQL
    assert regexp("bergen", "urn:ngsi-ld:X:oslo:1") is False
    assert regexp("x", 5) is None
    assert regexp(None, "x") is None


def test_patterns_re2_cannot_run_are_refused_up_front() -> None:
    with pytest.raises(ValueError, match="RE2"):
        compile_check("a{1001}")


def test_polynomial_patterns_run_in_linear_time() -> None:
    # Python's re needs about 2 s for this on 2,000 characters and 100 s on 8,000 (cubic backtracking).
    text = "a" * 100_000
    started = time.perf_counter()
    assert regexp("a*a*b", text) is False
    assert regexp("[a-z]*[a-z]*!", text) is False
    assert time.perf_counter() - started < 1.0


def test_sqlite_connection_runs_regexp_through_re2() -> None:
    raw = sqlite3.connect(":memory:")
    register_sqlite_regexp(raw)
    rows = raw.execute(r"SELECT 'Tromsø' REGEXP '^\w+$', 5 REGEXP '5', ? REGEXP 'a*a*b'", ("a" * 50_000,)).fetchone()
    raw.close()
    assert rows == (1, None, 0)
