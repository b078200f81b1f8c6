"""The small selector languages of an NGSI-LD query: type expressions and ``scopeQ`` (GS CIM 009 clauses 4.17, 4.19).

Type expressions: ``A,B`` and ``A|B`` mean any of, ``A;B`` both, parentheses group (``(A;B),C``). They are turned
into alternatives, each a set of types an entity must all carry, which ``ngsi.store.type_values`` maps onto the
values of the indexed ``type`` column.

Scope queries: a scope is ``/segment/segment…``; ``+`` stands for exactly one segment, a trailing ``#`` for the scope
itself and every scope below it (``/Nordic/NO/#``); ``;`` is and, ``,`` (or ``|``) is or, parentheses group. A term
without ``+`` compares a single stored scope with ``=`` / ``LIKE 'prefix/%'``; rows holding several scopes (kept
comma-joined) and terms with ``+`` use a regular expression, behind a ``LIKE`` on the literal prefix.
"""

from __future__ import annotations

import re
from itertools import product
from typing import Any

from sqlalchemy import ColumnElement, and_, or_

from hub.errors import BadRequestData
from ngsi.tables import entities

MAX_ALTERNATIVES = 64
MAX_LENGTH = 1000
_TYPE_NAME = re.compile(r"[^\s,;|()]+")
_SEGMENT = re.compile(r"[\w.~%:@-]+")
_Alternatives = list[frozenset[str]]


class _Expr:
    """A reader shared by both languages: ``expr = conj *("," / "|" conj); conj = factor *(";" factor)``."""

    def __init__(self, text: str, what: str) -> None:
        if not text or len(text) > MAX_LENGTH:
            raise BadRequestData(f"{what}: must be 1..{MAX_LENGTH} characters")
        self.text, self.pos, self.what = text, 0, what

    def fail(self, message: str) -> BadRequestData:
        return BadRequestData(f"{self.what} {self.text!r}: {message} at position {self.pos}")

    def peek(self) -> str:
        return self.text[self.pos : self.pos + 1]

    def expr(self, depth: int = 0) -> list[list[Any]]:
        """Disjunctive normal form: a list of conjunctions, each a list of leaves."""
        if depth > 8:
            raise self.fail("parentheses nest too deeply")
        alternatives = self.conj(depth)
        while self.peek() in (",", "|") and self.peek():
            self.pos += 1
            alternatives = alternatives + self.conj(depth)
        return alternatives

    def conj(self, depth: int) -> list[list[Any]]:
        result = self.factor(depth)
        while self.peek() == ";":
            self.pos += 1
            right = self.factor(depth)
            result = [left + more for left, more in product(result, right)]
            if len(result) > MAX_ALTERNATIVES:
                raise self.fail(f"expands to more than {MAX_ALTERNATIVES} alternatives")
        return result

    def factor(self, depth: int) -> list[list[Any]]:
        if self.peek() == "(":
            self.pos += 1
            inner = self.expr(depth + 1)
            if self.peek() != ")":
                raise self.fail("expected ')'")
            self.pos += 1
            return inner
        return [[self.leaf()]]

    def leaf(self) -> Any:
        raise NotImplementedError

    def parse(self) -> list[list[Any]]:
        result = self.expr()
        if self.pos != len(self.text):
            raise self.fail(f"unexpected {self.peek()!r}")
        if len(result) > MAX_ALTERNATIVES:
            raise self.fail(f"expands to more than {MAX_ALTERNATIVES} alternatives")
        return result


class _TypeExpr(_Expr):
    def leaf(self) -> str:
        match = _TYPE_NAME.match(self.text, self.pos)
        if not match:
            raise self.fail("expected a type name")
        self.pos = match.end()
        return match.group()


def parse_types(text: str) -> _Alternatives | None:
    """Alternatives of a type expression (each: types an entity must all carry); None for ``*`` (any type)."""
    if text.strip() == "*":
        return None
    return list(dict.fromkeys(frozenset(conj) for conj in _TypeExpr(text, "type").parse()))


class _ScopeExpr(_Expr):
    def leaf(self) -> tuple[str, ...]:
        if self.peek() != "/":
            raise self.fail("a scope starts with '/'")
        segments: list[str] = []
        while self.peek() == "/":
            self.pos += 1
            if segments and segments[-1] == "#":
                raise self.fail("'#' can only end a scope")
            if self.peek() in ("+", "#"):
                segments.append(self.peek())
                self.pos += 1
                continue
            match = _SEGMENT.match(self.text, self.pos)
            if not match:
                raise self.fail("expected a scope segment, '+' or '#'")
            segments.append(match.group())
            self.pos = match.end()
        return tuple(segments)


def _scope_term(segments: tuple[str, ...]) -> ColumnElement[bool]:
    deep = segments[-1:] == ("#",)
    body = segments[:-1] if deep else segments
    parts = ["[^/,]+" if s == "+" else "".join(c if c.isalnum() or c == "_" else f"[{c}]" for c in s) for s in body]
    pattern = "(^|,)" + "".join("/" + p for p in parts) + ("(/[^,]*)?" if deep else "") + "(,|$)"
    regex = entities.c.scope.regexp_match(pattern)
    if "+" not in body:
        # No wildcard inside: a single stored scope is matched with plain comparisons; only rows holding several
        # scopes (comma-joined) need the regular expression, a Python callback on SQLite.
        scope = "".join("/" + s for s in body) or "/"
        single = [entities.c.scope == scope]
        if deep:
            single.append(entities.c.scope.startswith(scope.rstrip("/") + "/", autoescape=True))
        several = and_(entities.c.scope.contains(",", autoescape=True), regex)
        return or_(and_(~entities.c.scope.contains(",", autoescape=True), or_(*single)), several)
    literal = "".join("/" + s for s in body[: body.index("+")]) or "/"
    # The LIKE is evaluated first and in C: the regular expression runs only on scopes holding the literal prefix.
    return and_(entities.c.scope.contains(literal, autoescape=True), regex)


def scope_condition(text: str) -> ColumnElement[bool]:
    """The condition on the entities table that a ``scopeQ`` makes."""
    alternatives = _ScopeExpr(text, "scopeQ").parse()
    return or_(*(and_(*(_scope_term(term) for term in conj)) for conj in alternatives))
