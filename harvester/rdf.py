"""RDF terms as canonical N-Triples strings, a light triple index, and a fast parser of the common subset of Turtle.

A term is its canonical N-Triples text: ``<iri>``, ``_:label``, ``"lexical"@lang`` (tag in lower case),
``"lexical"`` or ``"lexical"^^<datatype>`` (never ``^^xsd:string``). Plain strings hash and compare far faster than
rdflib's terms, a sorted list of such triples is a canonical document, and nothing is lost.

rdflib parses every syntax, but its Turtle parser and its in-memory store manage about 1,300 datasets/s on a
DCAT-AP catalogue; most catalogues publish Turtle or N-Triples, so :func:`parse_turtle` reads the common subset of
Turtle straight into a :class:`Triples` index, several times faster, and raises :class:`Unsupported` on anything
else (collections, decimals, escapes in names, syntax errors) so the caller hands the document to rdflib, which
either parses it or words the error. Literals keep the lexical form they were published with.
"""

from __future__ import annotations

import re
import sys
from collections.abc import Iterator, Mapping, Sequence
from typing import Any

from rdflib import BNode, Graph, Literal, URIRef
from rdflib.plugins.parsers.notation3 import join as join_iri

Term = str

XSD = "http://www.w3.org/2001/XMLSchema#"
RDF_TYPE = "<http://www.w3.org/1999/02/22-rdf-syntax-ns#type>"
_XSD_STRING = XSD + "string"
_XSD_INTEGER = XSD + "integer"
_XSD_BOOLEAN = XSD + "boolean"


class Triples:
    """A set of triples indexed by subject, then predicate; objects keep their first insertion order."""

    __slots__ = ("_spo",)

    def __init__(self) -> None:
        # Objects are kept in small lists, not dicts: most (subject, predicate) pairs have one object, and a
        # national catalogue has millions of them (bench/dcat_large.py measures the peak memory).
        self._spo: dict[Term, dict[Term, list[Term]]] = {}

    def add(self, s: Term, p: Term, o: Term) -> None:
        po = self._spo.get(s)
        if po is None:
            po = self._spo[s] = {}
        objects = po.get(p)
        if objects is None:
            po[sys.intern(p)] = [o]
        elif o not in objects:
            objects.append(o)

    def update(self, other: Triples) -> None:
        for s, p, o in other:
            self.add(s, p, o)

    def __iter__(self) -> Iterator[tuple[Term, Term, Term]]:
        for s, po in self._spo.items():
            for p, objects in po.items():
                for o in objects:
                    yield s, p, o

    def __len__(self) -> int:
        return sum(len(objects) for po in self._spo.values() for objects in po.values())

    def __contains__(self, subject: object) -> bool:
        return subject in self._spo

    def subjects(self) -> Iterator[Term]:
        return iter(self._spo)

    def predicates(self, s: Term) -> Mapping[Term, Sequence[Term]]:
        return self._spo.get(s, _EMPTY)

    def objects(self, s: Term, p: Term) -> list[Term]:
        return list(self._spo.get(s, _EMPTY).get(p, ()))

    def instances(self, cls: Term) -> list[Term]:
        """Every subject typed ``cls``, in document order."""
        return [s for s, po in self._spo.items() if cls in po.get(RDF_TYPE, ())]

    @classmethod
    def from_graph(cls, graph: Graph) -> Triples:
        """The triples of an rdflib graph (parse it with literal normalisation off to keep dates as published)."""
        triples = cls()
        for s, p, o in graph:
            if isinstance(s, URIRef | BNode) and isinstance(p, URIRef) and isinstance(o, URIRef | BNode | Literal):
                triples.add(term(s), term(p), term(o))
        return triples


_EMPTY: Mapping[str, Any] = {}
_NT_ESCAPES = str.maketrans({"\\": "\\\\", '"': '\\"', "\n": "\\n", "\r": "\\r"})
_NT_UNESCAPES = re.compile(r"\\([\\\"nr])")
_NT_UNESCAPED = {"\\": "\\", '"': '"', "n": "\n", "r": "\r"}


def literal(lexical: str, language: str | None = None, datatype: str | None = None) -> Term:
    """The canonical term of a literal."""
    text = '"' + lexical.translate(_NT_ESCAPES) + '"'
    if language:
        return text + "@" + language.lower()
    if datatype and datatype != _XSD_STRING:
        return text + "^^<" + datatype + ">"
    return text


def term(node: URIRef | BNode | Literal) -> Term:
    """The canonical term of an rdflib node."""
    if isinstance(node, URIRef):
        return f"<{node}>"
    if isinstance(node, BNode):
        return f"_:{node}"
    return literal(str(node), node.language, None if node.datatype is None else str(node.datatype))


def value(t: Term) -> str:
    """An IRI without its brackets, a literal's lexical form, a blank node's label."""
    if t.startswith("<"):
        return t[1:-1]
    if t.startswith("_:"):
        return t[2:]
    body = t[1:].rpartition('"')[0]
    return _NT_UNESCAPES.sub(lambda m: _NT_UNESCAPED[m.group(1)], body) if "\\" in body else body


def language(t: Term) -> str | None:
    """A literal's language tag (lower case), or None."""
    suffix = t.rpartition('"')[2] if t.startswith('"') else ""
    return suffix[1:] if suffix.startswith("@") else None


def is_literal(t: Term) -> bool:
    return t.startswith('"')


def is_blank(t: Term) -> bool:
    return t.startswith("_:")


# ------------------------------------------------------------------------------------------------ fast Turtle


class Unsupported(Exception):
    """The document uses Turtle this parser leaves to rdflib (or is not valid Turtle at all)."""


def parse_turtle(text: str, base: str) -> Triples:
    """Parse Turtle or N-Triples in the common subset; raises Unsupported for anything else."""
    return _Turtle(text, base).parse()


_WS = r"(?:[ \t\r\n]++|\#[^\r\n]*+)*+"
_TOKEN = r"""<[^\x00-\x20<>"{}|^`\\]*+>
    |\"\"\"(?:[^"\\]++|\\.|"(?!""))*+\"\"\"|'''(?:[^'\\]++|\\.|'(?!''))*+'''
    |"(?:[^"\\\n\r]++|\\.)*+"|'(?:[^'\\\n\r]++|\\.)*+'
    |@[A-Za-z]++(?:-[A-Za-z0-9]++)*+|\^\^
    |_:[A-Za-z0-9_](?:[\w.-]*[\w-])?
    |(?:[A-Za-z][\w.-]*)?:(?:[\w%:-](?:[\w.%:-]*[\w%:-])?)?
    |[+-]?(?:\d+(?:\.\d+)?|\.\d+)(?:[eE][+-]?\d+)?
    |[A-Za-z]++|[;,.\[\]()]"""
# The empty match at the end consumes trailing comments (findall would otherwise look for tokens inside them) and
# stands as the end marker.
_TOKENS = re.compile(f"{_WS}(?:({_TOKEN})|\\Z)", re.VERBOSE)
_DOCUMENT = re.compile(f"(?:{_WS}(?:{_TOKEN}))*+{_WS}", re.VERBOSE)
_ESCAPES = re.compile(r"\\(?:u([0-9A-Fa-f]{4})|U([0-9A-Fa-f]{8})|(.))", re.DOTALL)
_ECHAR = {"t": "\t", "b": "\b", "n": "\n", "r": "\r", "f": "\f", '"': '"', "'": "'", "\\": "\\"}
_SCHEME = re.compile(r"[A-Za-z][A-Za-z0-9+.-]*:")
_NOT_A_NAME = frozenset("\"'@_+-.0123456789[]();,^")
_END = ""  # stands after the last token, so looking ahead never runs off the list


def _unescape(body: str) -> str:
    def one(match: re.Match[str]) -> str:
        code = match.group(1) or match.group(2)
        if code:
            return chr(int(code, 16))
        if match.group(3) not in _ECHAR:
            raise Unsupported(f"escape \\{match.group(3)}")
        return _ECHAR[match.group(3)]

    return _ESCAPES.sub(one, body)


class _Turtle:
    """Recursive descent over the tokens of one document.

    Tokens are plain strings told apart by their first character. The whole document is first checked to be a
    sequence of tokens, so the tokeniser never skips text it does not understand.
    """

    def __init__(self, text: str, base: str) -> None:
        if _DOCUMENT.fullmatch(text) is None:
            raise Unsupported("text outside the supported tokens")
        self._tokens: list[str] = _TOKENS.findall(text)  # ends with the empty match at the end: _END
        self._i = 0
        self._base = base
        self._prefixes: dict[str, str] = {}
        self._iris: dict[str, Term] = {}
        self._labels: dict[str, Term] = {}
        self._fresh = 0
        self._out = Triples()

    def parse(self) -> Triples:
        while self._tokens[self._i] != _END:
            token = self._tokens[self._i]
            if token in ("@prefix", "@base"):
                self._directive(token[1:], dot=True)
            elif token.lower() in ("prefix", "base"):
                self._directive(token.lower(), dot=False)
            else:
                self._statement()
        return self._out

    def _next(self) -> str:
        token = self._tokens[self._i]
        if token == _END:
            raise Unsupported("unexpected end of document")
        self._i += 1
        return token

    def _expect(self, punct: str) -> None:
        if self._tokens[self._i] != punct:
            raise Unsupported(f"expected {punct!r}")
        self._i += 1

    def _directive(self, which: str, *, dot: bool) -> None:
        self._i += 1
        name = self._next() if which == "prefix" else ":"
        iri = self._next()
        if not iri.startswith("<") or not name.endswith(":") or name.count(":") != 1:
            raise Unsupported(f"{which} directive")
        if which == "prefix":
            self._prefixes[name[:-1]] = self._resolve(iri[1:-1])
        else:
            self._base, self._iris = self._resolve(iri[1:-1]), {}
        if dot:
            self._expect(".")

    def _statement(self) -> None:
        token = self._next()
        if token == "[":
            subject = self._property_list()
            if self._tokens[self._i] == ".":
                self._i += 1
                return
        else:
            subject = self._label(token) if token.startswith("_:") else self._named(token)
        self._predicate_objects(subject)
        self._expect(".")

    def _predicate_objects(self, subject: Term) -> None:
        add = self._out.add
        tokens = self._tokens
        while True:
            token = self._next()
            verb = RDF_TYPE if token == "a" else self._named(token)
            add(subject, verb, self._object())
            while tokens[self._i] == ",":
                self._i += 1
                add(subject, verb, self._object())
            if tokens[self._i] != ";":
                return
            while tokens[self._i] == ";":
                self._i += 1
            if tokens[self._i] in (".", "]"):
                return

    def _property_list(self) -> Term:
        self._fresh += 1
        node = f"_:t{self._fresh}"
        if self._tokens[self._i] == "]":
            self._i += 1
        else:
            self._predicate_objects(node)
            self._expect("]")
        return node

    def _object(self) -> Term:
        token = self._next()
        first = token[0]
        if first in "\"'":
            long = len(token) >= 6 and token[:3] in ('"""', "'''")
            return self._literal(token[3:-3] if long else token[1:-1])
        if token == "[":
            return self._property_list()
        if token.startswith("_:"):
            return self._label(token)
        if first in "+-0123456789" and token.lstrip("+-").isdigit():
            return literal(str(int(token)), None, _XSD_INTEGER)  # as rdflib's own Turtle parser writes it
        if token in ("true", "false"):
            return literal(token, None, _XSD_BOOLEAN)
        return self._named(token)

    def _literal(self, body: str) -> Term:
        if "\\" in body:
            body = _unescape(body)
        suffix = self._tokens[self._i]
        if suffix.startswith("@"):
            self._i += 1
            return literal(body, suffix[1:], None)
        if suffix == "^^":
            self._i += 1
            return literal(body, None, self._named(self._next())[1:-1])
        return literal(body)

    def _named(self, token: str) -> Term:
        iri = self._iris.get(token)
        if iri is not None:
            return iri
        if token.startswith("<"):
            raw = token[1:-1]
        elif ":" in token and token[0] not in _NOT_A_NAME:
            prefix, _, local = token.partition(":")
            if prefix not in self._prefixes:
                raise Unsupported(f"undeclared prefix {prefix!r}")
            raw = self._prefixes[prefix] + local
        else:
            raise Unsupported(f"unexpected {token!r}")
        iri = self._iris[token] = f"<{self._resolve(raw)}>"
        return iri

    def _resolve(self, raw: str) -> str:
        return raw if _SCHEME.match(raw) else join_iri(self._base, raw)

    def _label(self, token: str) -> Term:
        node = self._labels.get(token)
        if node is None:
            node = self._labels[token] = f"_:l{len(self._labels)}"
        return node
