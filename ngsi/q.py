"""The NGSI-LD query language ``q`` (GS CIM 009, clause 4.9): a parser into a small typed AST, and back to text.

The grammar, as parsed (the input arrives percent-decoded; there is no whitespace outside quoted strings)::

    query   = and *("|" and)                          ; ";" (and) binds tighter than "|" (or)
    and     = factor *(";" factor)
    factor  = "(" query ")" / term                    ; parentheses nest (the reference's own example does)
    term    = path [op value] / path ("~=" / "!~=") regex   ; a bare path tests existence
            / "!" path                                ; and a negated one absence (no such attribute)
    path    = name "{" [types ":"] path "}" / names ["[" names "]" / "[*]"]   ; a{b}: b of the entity a points to
    types   = "*" / type *("," type)                  ; a{T:b}: only a target of type T (or of any of several)
    type    = name-without-colon / IRI-without-port
    names   = attr *("." name)                        ; a.b: sub-attribute b; a[x.y]: inside a JSON value
    attr    = name / IRI / "quoted"                   ; an IRI keeps its dots up to its last "/" or "#"
    value   = scalar ".." scalar / scalar *("," scalar)
    scalar  = number / "quoted" / true / false / date-time / date / time / URI

Choices beyond the reference: And/Or are flattened (``a;(b;c)`` is one And), so :func:`unparse` only needs
parentheses around an Or inside an And. Inside braces, ``X:`` (not ``X://``) is the entity-type hint of
clause 4.9 (``sensor{Device:humidity}``), so a compact IRI there (``a{schema:name}``) reads as one: write it after
a hint (``a{*:schema:name}``, ``*`` meaning any type, which :func:`unparse` writes when it has to). A regular
expression is either quoted (only ``\\"`` and ``\\\\`` are escapes there) or bare; a bare one runs to the next
``;``, ``|`` or ``)`` outside its own groups and brackets, so a top-level alternative needs quotes or a group.
Regular expressions are kept to a subset that means the same in Python ``re`` (SQLite) and PostgreSQL, and shapes
that backtrack catastrophically are refused (see :func:`safe_regex`).
"""

from __future__ import annotations

import json
import math
import re
import warnings
from dataclasses import dataclass
from datetime import UTC, date, datetime, time
from enum import StrEnum
from typing import NoReturn, TypeAlias

from hub.errors import BadRequestData, TooComplexQuery
from hub.regexp import compile_check

MAX_LENGTH = 4000
MAX_TERMS = 100
MAX_DEPTH = 32  # parentheses and linked-entity braces
MAX_REGEX_LENGTH = 256
MAX_REGEX_UNBOUNDED = 2  # three adjacent unbounded repeats already take seconds on one 512-character text
MAX_REGEX_VARIABLE = 10  # a?a?a?…: each optional repeat doubles the backtracking


class Op(StrEnum):
    EQ = "=="
    NE = "!="
    GE = ">="
    GT = ">"
    LE = "<="
    LT = "<"


ORDERING = frozenset({Op.GE, Op.GT, Op.LE, Op.LT})


@dataclass(frozen=True, slots=True)
class Uri:
    """A URI given unquoted as a value (``refStation==urn:ngsi-ld:Station:1``)."""

    value: str


Scalar: TypeAlias = bool | int | float | str | datetime | date | time | Uri


@dataclass(frozen=True, slots=True)
class Range:
    """``low..high``, inclusive."""

    low: Scalar
    high: Scalar


@dataclass(frozen=True, slots=True)
class ValueList:
    """``a,b,c``: any of the values."""

    values: tuple[Scalar, ...]


Value: TypeAlias = Scalar | Range | ValueList


@dataclass(frozen=True, slots=True)
class AttrPath:
    """``name.sub1.sub2[key1.key2]``, or ``name{types:linked}`` (then ``sub`` and ``keys`` are empty): ``linked``
    applies to the entities the Relationship ``name`` points to, when they carry one of ``types`` (if any)."""

    name: str
    sub: tuple[str, ...] = ()
    keys: tuple[str, ...] = ()
    linked: AttrPath | None = None
    types: tuple[str, ...] = ()


@dataclass(frozen=True, slots=True)
class Exists:
    """A bare ``path``: the entity has it; ``!path`` (``negate``): it has not (not even as an empty instance)."""

    path: AttrPath
    negate: bool = False


@dataclass(frozen=True, slots=True)
class Compare:
    path: AttrPath
    op: Op
    value: Value


@dataclass(frozen=True, slots=True)
class Match:
    """``path~=pattern`` (or ``!~=`` when ``negate``); ``pattern`` is as given, already checked."""

    path: AttrPath
    pattern: str
    negate: bool = False


@dataclass(frozen=True, slots=True)
class And:
    terms: tuple[Node, ...]


@dataclass(frozen=True, slots=True)
class Or:
    terms: tuple[Node, ...]


Node: TypeAlias = Exists | Compare | Match | And | Or

_NAME = re.compile(r"[A-Za-z_][A-Za-z0-9_:#/\-]*")
# An attribute named by a full IRI: its scheme, "://", and everything up to a delimiter of the q language.
_IRI_NAME = re.compile(r"[A-Za-z][A-Za-z0-9+.\-]*://[^\s;|()\[\]{}\"<>=!~,]+")
# A type hint at the start of braces (an IRI's "https://" is not one); a type is a name or, as a stored type may be,
# an IRI without a port.
_TYPE = r"(?:[A-Za-z_][A-Za-z0-9_\-]*|[A-Za-z][A-Za-z0-9+.\-]*://[^\s,:;|(){}\[\]\"]+)"
_HINT = re.compile(rf"(\*|{_TYPE}(?:,{_TYPE})*):(?!//)")
_DATETIME = re.compile(
    r"[0-9]{4}-[0-9]{2}-[0-9]{2}T[0-9]{2}:[0-9]{2}(?::[0-9]{2}(?:\.[0-9]+)?)?(?:Z|[+-][0-9]{2}:[0-9]{2})?"
)
_DATE = re.compile(r"[0-9]{4}-[0-9]{2}-[0-9]{2}")
_TIME = re.compile(r"[0-9]{2}:[0-9]{2}(?::[0-9]{2}(?:\.[0-9]+)?)?Z?")
_NUMBER = re.compile(r"-?[0-9]+(?:\.[0-9]+)?(?:[eE][+-]?[0-9]+)?")
_BOOL = re.compile(r"(?:true|false)(?![A-Za-z0-9+:\-])")
_URI = re.compile(r"[A-Za-z][A-Za-z0-9+.\-]*:[^;|(),\"\s]+")
_QUOTED = re.compile(r'"(?:[^"\\]|\\.)*"', re.DOTALL)
_FRACTION = re.compile(r"(\.[0-9]{6})[0-9]+")
_FORBIDDEN = re.compile(r"[\x00-\x1f\ud800-\udfff]")
_UNSTORABLE = re.compile(r"[\x00\ud800-\udfff]")  # what an escape may spell but the databases cannot hold
_OPERATORS = ("!~=", "==", "!=", ">=", "<=", "~=", ">", "<")
_VALUE_HINT = 'a value (a number, a "quoted string", true, false, a date-time, a date, a time or a URI)'


def _to_datetime(text: str) -> datetime:
    moment = datetime.fromisoformat(_FRACTION.sub(r"\1", text))
    moment = moment if moment.tzinfo is not None else moment.replace(tzinfo=UTC)  # no zone: UTC
    moment.timestamp()  # raises OverflowError when the zone pushes it out of range
    return moment


def _to_time(text: str) -> time:
    return time.fromisoformat(_FRACTION.sub(r"\1", text.removesuffix("Z")))


def _to_number(text: str) -> int | float:
    as_float = float(text)
    if not math.isfinite(as_float):
        raise ValueError("out of range")
    return as_float if any(c in text for c in ".eE") else int(text)


_LITERALS = (
    (_DATETIME, _to_datetime),
    (_DATE, date.fromisoformat),
    (_TIME, _to_time),
    (_NUMBER, _to_number),
    (_BOOL, lambda text: text == "true"),
    (_URI, Uri),
)


def temporal(text: str) -> datetime | date | time | None:
    """The date-time (zone-aware, UTC when none is given), date or time that ``text`` spells in ISO 8601, or None."""
    for pattern, convert in _LITERALS[:3]:
        if pattern.fullmatch(text):
            try:
                return convert(text)
            except (ValueError, OverflowError):
                return None
    return None


def _category(value: Value) -> str | None:
    """What an ordering or a range compares: None for values that only ``==``/``!=`` take."""
    if isinstance(value, bool):
        return None
    if isinstance(value, int | float):
        return "number"
    if isinstance(value, str):
        return "string"
    if isinstance(value, date):  # and datetime: both are instants
        return "instant"
    return "time" if isinstance(value, time) else None


def _excerpt(text: str, at: int) -> str:
    start = max(0, at - 40)
    shown = ("..." if start else "") + text[start : at + 1] + ("..." if at + 1 < len(text) else "")
    return "".join(c if c.isprintable() else repr(c)[1:-1] for c in shown)


def _error(text: str, message: str, at: int) -> BadRequestData:
    return BadRequestData(f"q: {message}: {_excerpt(text, at)}")


class _Parser:
    def __init__(self, text: str, max_terms: int) -> None:
        self.text = text
        self.pos = 0
        self.terms = 0
        self.max_terms = max_terms

    def peek(self, size: int = 1) -> str:
        return self.text[self.pos : self.pos + size]

    def error(self, message: str, at: int) -> BadRequestData:
        return _error(self.text, f"{message} at position {at}", at)

    def unexpected(self, expected: str) -> BadRequestData:
        found = repr(self.text[self.pos]) if self.pos < len(self.text) else "end of query"
        return _error(self.text, f"unexpected {found} at position {self.pos}, expected {expected}", self.pos)

    def expect(self, char: str) -> None:
        if self.peek() != char:
            raise self.unexpected(repr(char))
        self.pos += 1

    def query(self, depth: int) -> Node:
        terms = [self.conjunction(depth)]
        while self.peek() == "|":
            self.pos += 1
            terms.append(self.conjunction(depth))
        flat = [t for term in terms for t in (term.terms if isinstance(term, Or) else (term,))]
        return flat[0] if len(flat) == 1 else Or(tuple(flat))

    def conjunction(self, depth: int) -> Node:
        factors = [self.factor(depth)]
        while self.peek() == ";":
            self.pos += 1
            factors.append(self.factor(depth))
        flat = [t for factor in factors for t in (factor.terms if isinstance(factor, And) else (factor,))]
        return flat[0] if len(flat) == 1 else And(tuple(flat))

    def factor(self, depth: int) -> Node:
        if self.peek(2) == "!(":
            raise self.error("'!' negates one attribute's existence ('!speed'), not a group", self.pos)
        if self.peek() != "(":
            return self.term(depth)
        if depth >= MAX_DEPTH:
            raise TooComplexQuery(f"q: nested deeper than {MAX_DEPTH} levels (the limit)")
        self.pos += 1
        node = self.query(depth + 1)
        self.expect(")")
        return node

    def term(self, depth: int) -> Node:
        self.terms += 1
        if self.terms > self.max_terms:
            raise TooComplexQuery(f"q: more than {self.max_terms} terms (the limit)")
        start = self.pos
        negate = self.peek() == "!"
        self.pos += negate
        path = self.path(depth)
        op = next((o for o in _OPERATORS if self.text.startswith(o, self.pos)), None)
        if op is None:
            if self.peek() not in ("", ";", "|", ")"):
                raise self.unexpected("an operator (==, !=, >, >=, <, <=, ~=, !~=), ';', '|' or ')'")
            return Exists(path, negate)
        if negate:
            message = f"'!' tests that an attribute is absent and takes no operator (found {op!r})"
            raise self.error(f"{message}; use != or !~= to compare", start)
        self.pos += len(op)
        if op in ("~=", "!~="):
            return Match(path, self.regex(), negate=op == "!~=")
        return Compare(path, Op(op), self.value(Op(op)))

    def names(self, what: str) -> tuple[str, ...]:
        found: list[str] = []
        while not found or self.peek() == ".":
            self.pos += len(found) > 0
            match = _NAME.match(self.text, self.pos)
            if match is None:
                raise self.unexpected(what)
            found.append(match.group())
            self.pos = match.end()
        return tuple(found)

    def attribute(self) -> tuple[str, ...]:
        """The attribute name and its sub-attributes: a quoted name is one name whatever it holds; an IRI's dots
        up to its last ``/`` or ``#`` are its own (``https://example.org/ns/speed``), those after it separate
        sub-attributes (``https://example.org/ns/speed.observedAt``)."""
        if self.peek() == '"':
            name = self.quoted(json_escapes=True)
            if not name:
                raise self.error("an attribute name in quotes is not empty", self.pos - 2)
        else:
            iri = _IRI_NAME.match(self.text, self.pos)
            if iri is None:
                return self.names("an attribute name")
            text = iri.group()
            last = max(text.rfind("/"), text.rfind("#"))
            dot = text.find(".", last)
            name = text if dot < 0 else text[:dot]
            self.pos += len(name)
        if self.peek() != ".":
            return (name,)
        self.pos += 1
        return (name, *self.names("a sub-attribute name"))

    def path(self, depth: int) -> AttrPath:
        names = self.attribute()
        if len(names) == 1 and self.peek() == "{":
            if depth >= MAX_DEPTH:
                raise TooComplexQuery(f"q: nested deeper than {MAX_DEPTH} levels (the limit)")
            self.pos += 1
            hint = _HINT.match(self.text, self.pos)
            types: tuple[str, ...] = ()
            if hint is not None:
                self.pos = hint.end()
                if _NAME.match(self.text, self.pos) is None and self.peek() != '"':
                    raise self.unexpected(f"an attribute name after the type hint {hint[0]!r}")
                types = () if hint[1] == "*" else tuple(hint[1].split(","))
            linked = self.path(depth + 1)
            self.expect("}")
            return AttrPath(names[0], linked=linked, types=types)
        keys: tuple[str, ...] = ()
        if self.peek(3) == "[*]":
            # 4.9: a LanguageProperty's value in any language, which the attribute index keeps at the attribute's own
            # path (every language's string), so name[*] reads as name
            self.pos += 3
        elif self.peek() == "[":
            self.pos += 1
            keys = self.names("a key name")
            self.expect("]")
        return AttrPath(names[0], names[1:], keys)

    def value(self, op: Op) -> Value:
        start = self.pos
        first = self.scalar()
        value: Value = first
        if self.peek(2) == "..":
            self.pos += 2
            high = self.scalar()
            if _category(first) is None or _category(first) != _category(high):
                raise self.error("a range needs two numbers, two strings, two dates/date-times or two times", start)
            value = Range(first, high)
        elif self.peek() == ",":
            items = [first]
            while self.peek() == ",":
                self.pos += 1
                items.append(self.scalar())
            value = ValueList(tuple(items))
        if op in ORDERING and _category(value) is None:
            raise self.error(f"'{op}' compares one number, string, date, date-time or time", start)
        return value

    def scalar(self) -> Scalar:
        if self.peek() == '"':
            return self.quoted(json_escapes=True)
        for pattern, convert in _LITERALS:
            match = pattern.match(self.text, self.pos)
            if match is not None:
                try:
                    value: Scalar = convert(match.group())
                except (ValueError, OverflowError) as exc:
                    raise self.error(f"invalid value {match.group()!r} ({exc})", self.pos) from exc
                self.pos = match.end()
                return value
        raise self.unexpected(_VALUE_HINT)

    def quoted(self, *, json_escapes: bool) -> str:
        start = self.pos
        match = _QUOTED.match(self.text, start)
        if match is None:
            raise self.error("unterminated string", start)
        self.pos = match.end()
        if not json_escapes:
            return re.sub(r'\\(["\\])', r"\1", match.group()[1:-1])
        try:
            value: str = json.loads(match.group())
        except json.JSONDecodeError as exc:
            raise self.error(f"invalid string ({exc.msg})", start + exc.pos) from exc
        if _UNSTORABLE.search(value):
            raise self.error("NUL and lone surrogates are not allowed in strings", start)
        return value

    def regex(self) -> str:
        start = self.pos
        pattern = self.quoted(json_escapes=False) if self.peek() == '"' else self.bare_regex()
        if len(pattern) > MAX_REGEX_LENGTH:
            raise TooComplexQuery(f"q: regular expression longer than {MAX_REGEX_LENGTH} characters (the limit)")
        try:
            _RegexCheck(pattern).run()
        except _RegexError as exc:
            raise self.error(f"regular expression {pattern!r} refused ({exc})", start) from exc
        return pattern

    def bare_regex(self) -> str:
        start, depth, in_class, text = self.pos, 0, False, self.text
        while self.pos < len(text):
            char = text[self.pos]
            if char == "\\":
                self.pos += 1
            elif in_class:
                in_class = char != "]"
            elif char == "[":
                in_class = True
                self.pos += 2 if text.startswith("^]", self.pos + 1) else text.startswith("]", self.pos + 1)
            elif char == "(":
                depth += 1
            elif depth == 0 and char in ");|":
                break
            elif char == ")":
                depth -= 1
            self.pos += 1
        self.pos = min(self.pos, len(text))
        if self.pos == start:
            raise self.unexpected("a regular expression")
        return text[start : self.pos]


def parse_q(text: str, *, max_length: int = MAX_LENGTH, max_terms: int = MAX_TERMS) -> Node:
    """The AST of a q expression; BadRequestData names the position of a syntax error, TooComplexQuery a limit."""
    if len(text) > max_length:
        raise TooComplexQuery(f"q: longer than {max_length} characters (the limit)")
    if not text:
        raise BadRequestData("q: empty query")
    bad = _FORBIDDEN.search(text)
    if bad is not None:
        raise _error(text, f"control character {bad.group()!r} at position {bad.start()}", bad.start())
    parser = _Parser(text, max_terms)
    node = parser.query(0)
    if parser.pos < len(text):
        raise parser.unexpected("';', '|' or the end of the query")
    return node


def _scalar_text(value: Scalar) -> str:
    if isinstance(value, bool):
        return "true" if value else "false"
    if isinstance(value, int | float):
        return repr(value)
    if isinstance(value, str):
        return json.dumps(value, ensure_ascii=False)
    if isinstance(value, datetime):
        text = value.isoformat()
        return text[:-6] + "Z" if text.endswith("+00:00") else text
    return value.value if isinstance(value, Uri) else value.isoformat()


def _value_text(value: Value) -> str:
    if isinstance(value, Range):
        return f"{_scalar_text(value.low)}..{_scalar_text(value.high)}"
    if isinstance(value, ValueList):
        return ",".join(_scalar_text(v) for v in value.values)
    return _scalar_text(value)


def path_text(path: AttrPath) -> str:
    """A path as q spells it: ``a.b[x.y]``, ``a{b}`` or ``a{T,U:b}``."""
    if path.linked is not None:
        inner = path_text(path.linked)
        hint = ",".join(path.types) if path.types else "*" if _HINT.match(inner) else ""
        return f"{_name_text(path.name)}{{{hint + ':' if hint else ''}{inner}}}"
    keys = f"[{'.'.join(path.keys)}]" if path.keys else ""
    return ".".join((_name_text(path.name), *path.sub)) + keys


def _name_text(name: str) -> str:
    """An attribute name as q reads it back as one name: bare, or quoted when its dots would split it."""
    if "." not in name and _NAME.fullmatch(name):
        return name
    parser = _Parser(name, 1)
    try:
        whole = parser.attribute() == (name,) and parser.pos == len(name)
    except BadRequestData:
        whole = False
    return name if whole else json.dumps(name, ensure_ascii=False)


def hops(path: AttrPath) -> int:
    """How many Relationships ``path`` follows (``a.b``: 0; ``a{b{c}}``: 2)."""
    return 0 if path.linked is None else 1 + hops(path.linked)


def linked_paths(node: Node) -> list[AttrPath]:
    """The paths of ``node`` that follow a Relationship, in the order written."""
    if isinstance(node, And | Or):
        return [path for term in node.terms for path in linked_paths(term)]
    return [node.path] if node.path.linked is not None else []


def unparse(node: Node) -> str:
    """q text that parses back to an equal AST."""
    if isinstance(node, Or):
        return "|".join(unparse(t) for t in node.terms)
    if isinstance(node, And):
        return ";".join(f"({unparse(t)})" if isinstance(t, Or) else unparse(t) for t in node.terms)
    if isinstance(node, Exists):
        return ("!" if node.negate else "") + path_text(node.path)
    if isinstance(node, Match):
        quoted = node.pattern.replace("\\", "\\\\").replace('"', '\\"')
        return f'{path_text(node.path)}{"!~=" if node.negate else "~="}"{quoted}"'
    return f"{path_text(node.path)}{node.op}{_value_text(node.value)}"


class _RegexError(ValueError):
    pass


@dataclass(slots=True)
class _Piece:
    """What a fragment of a regular expression can do, for the backtracking checks."""

    var: bool = False  # holds a repeat of variable count
    alt: bool = False  # holds an alternation whose branches may start with the same character
    first: str | None = None  # its first character, when that is one plain literal


_REPEAT = re.compile(r"\{([0-9]{1,3})(,([0-9]{0,3}))?\}")


class _RegexCheck:
    """A recursive-descent reading of the portable subset: literals, ``.``, ``^``, ``$``, classes, ``(…)``,
    ``(?:…)``, ``|``, repeats ``* + ? {n} {n,} {n,m}`` (lazy too), escapes ``\\d \\w \\s`` (and capitals),
    ``\\n \\t`` and escaped punctuation, and a leading ``(?i)``."""

    def __init__(self, pattern: str) -> None:
        self.p = pattern
        self.i = 0
        self.unbounded = 0
        self.variable = 0
        self.top: list[tuple[int, int]] = []  # spans of the top-level pieces
        self.top_alt = False

    def fail(self, message: str) -> NoReturn:
        raise _RegexError(f"{message}, at offset {self.i} of the expression")

    def run(self) -> str:
        flags = "(?i)" if self.p.startswith("(?i)") else ""
        self.i = len(flags)
        self.alternation(0)
        if self.i < len(self.p):
            self.fail("unbalanced ')'")
        body = self.p[len(flags) :]
        if not self.top_alt:
            body = self.search_body()
        if self.unbounded > MAX_REGEX_UNBOUNDED:
            raise _RegexError(f"more than {MAX_REGEX_UNBOUNDED} unbounded repeats (*, +, {{n,}}) backtrack too long")
        if self.variable > MAX_REGEX_VARIABLE:
            raise _RegexError(f"more than {MAX_REGEX_VARIABLE} repeats of variable count backtrack too long")
        with warnings.catch_warnings():
            warnings.simplefilter("error")
            try:
                re.compile(flags + body)
                compile_check(flags + body)  # what SQLite runs (RE2) must accept it too
            except (re.error, ValueError, Warning) as exc:
                raise _RegexError(str(exc)) from exc
        return flags + body

    def search_body(self) -> str:
        """The pattern without a leading and a trailing ``.*``: a search means the same without them."""
        pieces = list(self.top)
        for end in (0, -1):
            if pieces and self.p[slice(*pieces[end])] in (".*", ".*?"):
                pieces.pop(end)
                self.unbounded -= 1
                self.variable -= 1
        return self.p[pieces[0][0] : pieces[-1][1]] if pieces else ""

    def alternation(self, depth: int) -> _Piece:
        branches = [self.sequence(depth)]
        while self.p.startswith("|", self.i):
            self.i += 1
            branches.append(self.sequence(depth))
        if len(branches) == 1:
            return branches[0]
        self.top_alt = self.top_alt or depth == 0
        firsts = [b.first for b in branches]
        overlap = None in firsts or len(set(firsts)) < len(firsts)
        return _Piece(var=any(b.var for b in branches), alt=overlap or any(b.alt for b in branches))

    def sequence(self, depth: int) -> _Piece:
        seq: _Piece | None = None
        whole = _Piece()
        while self.i < len(self.p) and self.p[self.i] not in "|)":
            start = self.i
            piece = self.repeated(self.atom(depth), start)
            seq = seq or piece
            whole.var, whole.alt = whole.var or piece.var, whole.alt or piece.alt
            if depth == 0:
                self.top.append((start, self.i))
        whole.first = seq.first if seq is not None else None
        return whole

    def atom(self, depth: int) -> _Piece:
        char = self.p[self.i]
        if char == "(":
            self.i += 1
            if self.p.startswith("?:", self.i):
                self.i += 2
            elif self.p.startswith("?", self.i):
                self.fail("only (...) and (?:...) groups are supported")
            inner = self.alternation(depth + 1)
            if self.i >= len(self.p):
                self.fail("missing ')'")
            self.i += 1
            return inner
        if char == "[":
            self.char_class()
            return _Piece()
        if char == "\\":
            return _Piece(first=self.escape("dDsSwWnt"))
        if char in "*+?{}":
            self.fail(f"nothing to repeat before {char!r}" if char != "}" else "escape a literal '}' as '\\}'")
        self.i += 1
        return _Piece(first=None if char in ".^$" else char.lower())

    def escape(self, letters: str) -> str | None:
        after = self.p[self.i + 1 : self.i + 2]
        if after.isdigit():
            self.fail("backreferences are not allowed")
        if not after or not (after in letters or (after.isascii() and not after.isalnum())):
            self.fail(f"unsupported escape '\\{after}'")
        self.i += 2
        return None if after.isalpha() else after

    def char_class(self) -> None:
        self.i += 2 if self.p.startswith("[^]", self.i) else 1
        self.i += self.p.startswith("]", self.i) or self.p.startswith("^", self.i)
        while self.i < len(self.p) and self.p[self.i] != "]":
            if self.p[self.i] == "[":
                self.fail("escape a literal '[' inside a class as '\\['")
            if self.p[self.i] == "\\":
                self.escape("dswnt")  # PostgreSQL refuses \D \S \W inside a class
            else:
                self.i += 1
        if self.i >= len(self.p):
            self.fail("missing ']'")
        self.i += 1

    def repeat(self) -> tuple[int, int | None] | None:
        char = self.p[self.i : self.i + 1]
        if char in ("*", "+", "?"):
            self.i += 1
            return {"*": (0, None), "+": (1, None), "?": (0, 1)}[char]
        if char != "{":
            return None
        match = _REPEAT.match(self.p, self.i)
        if match is None:
            self.fail("escape a literal '{' as '\\{', or write a repeat as {n}, {n,} or {n,m}")
        low = int(match[1])
        high = low if match[2] is None else (int(match[3]) if match[3] else None)
        if max(low, high or 0) > 255 or (high is not None and high < low):
            self.fail("repeat counts are at most 255, with n <= m")
        self.i = match.end()
        return low, high

    def repeated(self, piece: _Piece, start: int) -> _Piece:
        counts = self.repeat()
        if counts is None:
            return piece
        low, high = counts
        self.i += self.p.startswith("?", self.i)  # lazy
        if self.p[self.i : self.i + 1] in ("*", "+", "?", "{"):
            self.fail("a repeat cannot be repeated")
        if high is None or high > 1:
            shown = self.p[start : self.i]
            if piece.var:
                self.fail(f"nested repeat {shown!r} can backtrack catastrophically")
            if piece.alt:
                self.fail(f"repeated alternation {shown!r} (branches may start alike) can backtrack catastrophically")
        self.variable += high != low
        self.unbounded += high is None
        return _Piece(var=piece.var or high != low, alt=piece.alt, first=piece.first if low > 0 else None)


def safe_regex(pattern: str, where: str = "q") -> str:
    """The pattern to run for ``~=``: checked (BadRequestData otherwise), without redundant leading/trailing ``.*``.

    Refused: backreferences, lookarounds and named groups; a repeat of anything that itself repeats a variable
    number of times (``(a+)+``, ``(a*)*``); a repeat of an alternation whose branches can start alike
    (``(a|a)*``, ``(a|ab)+``); more than MAX_REGEX_UNBOUNDED unbounded or MAX_REGEX_VARIABLE variable repeats.
    ``where``: the parameter the pattern came from, for the errors (``q``, ``idPattern``).
    """
    if len(pattern) > MAX_REGEX_LENGTH:
        raise TooComplexQuery(f"{where}: regular expression longer than {MAX_REGEX_LENGTH} characters (the limit)")
    try:
        return _RegexCheck(pattern).run()
    except _RegexError as exc:
        raise BadRequestData(f"{where}: regular expression {pattern!r} refused ({exc})") from exc
