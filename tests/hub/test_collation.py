"""The root collation SQLite sorts with for collation=und (hub/collation.py)."""

from __future__ import annotations

import sqlite3
from functools import cmp_to_key

from hub.collation import ROOT_COLLATION, compare_root, register_sqlite_collation

WORDS = ["b", "A", "á", "z", "B", "a", "c", "ø", "o", "Å", "ab", "Ab"]
# base letters first (a-words, then b, c, o, z), accents next, then case with lower case first
ROOT_ORDER = ["a", "A", "á", "Å", "ab", "Ab", "b", "B", "c", "o", "ø", "z"]


def test_compare_ranks_letters_then_accents_then_case() -> None:
    assert sorted(WORDS, key=cmp_to_key(compare_root)) == ROOT_ORDER
    assert sorted(WORDS) != ROOT_ORDER  # codepoint order differs: upper case and accented letters elsewhere
    assert compare_root("á", "b") == -1
    assert compare_root("b", "á") == 1
    assert compare_root("A", "A") == 0
    assert compare_root("A", "a") == 1  # equal only when identical: a total order, stable pages


def test_sqlite_orders_with_the_registered_collation() -> None:
    connection = sqlite3.connect(":memory:")
    register_sqlite_collation(connection)
    connection.execute("CREATE TABLE t (w TEXT)")
    connection.executemany("INSERT INTO t VALUES (?)", [(w,) for w in WORDS])
    ordered = [w for (w,) in connection.execute(f"SELECT w FROM t ORDER BY w COLLATE {ROOT_COLLATION}")]
    assert ordered == ROOT_ORDER
    assert [w for (w,) in connection.execute("SELECT w FROM t ORDER BY w")] == sorted(WORDS)
    connection.close()
