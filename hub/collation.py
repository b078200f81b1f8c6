"""The Unicode root collation for SQLite, which has none of its own (PostgreSQL uses ICU's ``und-x-icu``).

Entity ordering (``ngsi.ordering``) sorts strings with it when a request asks for ``collation=und``. It follows
the root collation's levels for Latin-script text: base letters first (case-folded, accents stripped by NFD, and
the few letters NFD leaves whole mapped to their base), then accents, then case (lower before upper), then the
codepoints. Scripts and punctuation it has no table for keep their codepoint order at the first level, where ICU
may rank them differently.
"""

from __future__ import annotations

import functools
import unicodedata
from typing import Any

ROOT_COLLATION = "nordhub_und"

# Latin letters that NFD does not decompose but the root collation ranks with a base letter (or two).
_BASE = {"ø": "o", "Ø": "O", "đ": "d", "Đ": "D", "ł": "l", "Ł": "L", "ß": "ss", "æ": "ae", "Æ": "AE", "œ": "oe"}


@functools.lru_cache(maxsize=4096)  # a sort compares each value with many others: build its key once
def _root_key(text: str) -> tuple[str, tuple[str, ...], tuple[bool, ...], str]:
    """A sort key after the Unicode root collation's levels: base letters (case-folded), then accents, then case
    (lower first), then the codepoints."""
    letters: list[str] = []
    accents: list[str] = []
    for char in unicodedata.normalize("NFD", text):
        if unicodedata.combining(char) and letters:
            accents[-1] += char
            continue
        for base in _BASE.get(char, char):
            letters.append(base)
            accents.append("" if base == char or char not in _BASE else "\u0338")
    primary = "".join(letters).casefold()
    return primary, tuple(accents), tuple(c.isupper() for c in letters), text


def compare_root(left: str, right: str) -> int:
    """SQLite collation callback: -1, 0 or 1 as ``left`` sorts before, with or after ``right``."""
    a, b = _root_key(left), _root_key(right)
    return (a > b) - (a < b)


def register_sqlite_collation(dbapi_connection: Any, _record: Any = None) -> None:
    """SQLite: define the root collation (``hub.db`` does it on every connection it opens)."""
    dbapi_connection.create_collation(ROOT_COLLATION, compare_root)
