"""RDF in: which syntax a body is in, parsing it without touching the network, and a light triple index.

rdflib parses every syntax, but its Turtle parser is slow and its in-memory store slower still (about 1,300 datasets/s
on a DCAT-AP catalogue, most of it spent indexing triples the harvester reads once). Turtle and N-Triples, which
most catalogues publish, therefore go first through :class:`_Turtle`, a parser of the common subset of Turtle that
builds a :class:`Triples` index directly; on anything it does not handle (collections, decimals, escapes in names,
or a syntax error) it hands the document to rdflib, which either parses it or raises the message that is reported.

Two things rdflib would do on its own are prevented: it would fetch a JSON-LD ``@context`` from any URL the
document names (contexts are resolved here from a local mapping only), and it rewrites typed literals into its
canonical form (``2020-03-12T11:52:16.122Z`` becomes ``…16.122000+00:00``), which would lose the dates as published.
"""

from __future__ import annotations

import logging
import re
import threading
from collections.abc import Iterator, Mapping
from contextlib import contextmanager
from typing import Any
from urllib.parse import urljoin

import orjson
import rdflib
from rdflib import BNode, Graph, Literal, URIRef
from rdflib.plugins.parsers.notation3 import join as join_iri

from hub.errors import PayloadInvalid

Subject = URIRef | BNode
Term = URIRef | BNode | Literal
JsonLdContexts = Mapping[str, Mapping[str, Any]]

RDF_TYPE = URIRef("http://www.w3.org/1999/02/22-rdf-syntax-ns#type")
XSD = "http://www.w3.org/2001/XMLSchema#"
XSD_STRING = URIRef(XSD + "string")
_XSD_INTEGER = URIRef(XSD + "integer")
_XSD_BOOLEAN = URIRef(XSD + "boolean")

# Content-Type → rdflib format name. Anything else (text/plain, application/octet-stream…) is decided by sniffing.
MEDIA_TYPES: Mapping[str, str] = {
    "text/turtle": "turtle",
    "application/x-turtle": "turtle",
    "application/turtle": "turtle",
    "application/n-triples": "nt",
    "text/n3": "n3",
    "text/rdf+n3": "n3",
    "application/n3": "n3",
    "application/rdf+xml": "xml",
    "application/xml": "xml",
    "text/xml": "xml",
    "application/ld+json": "json-ld",
    "application/json": "json-ld",
}


class Triples:
    """A set of triples indexed by subject, then predicate; objects keep their first insertion order."""

    __slots__ = ("_spo",)

    def __init__(self) -> None:
        self._spo: dict[Subject, dict[URIRef, dict[Term, None]]] = {}

    def add(self, s: Subject, p: URIRef, o: Term) -> None:
        po = self._spo.get(s)
        if po is None:
            po = self._spo[s] = {}
        objects = po.get(p)
        if objects is None:
            objects = po[p] = {}
        objects[o] = None

    def update(self, other: Triples) -> None:
        for s, p, o in other:
            self.add(s, p, o)

    def __iter__(self) -> Iterator[tuple[Subject, URIRef, Term]]:
        for s, po in self._spo.items():
            for p, objects in po.items():
                for o in objects:
                    yield s, p, o

    def __len__(self) -> int:
        return sum(len(objects) for po in self._spo.values() for objects in po.values())

    def __contains__(self, subject: object) -> bool:
        return subject in self._spo

    def subjects(self) -> Iterator[Subject]:
        return iter(self._spo)

    def predicates(self, s: Term) -> Mapping[URIRef, Mapping[Term, None]]:
        return {} if isinstance(s, Literal) else self._spo.get(s, {})

    def objects(self, s: Term, p: URIRef) -> list[Term]:
        return list(self.predicates(s).get(p, ()))

    def has_type(self, s: Term, cls: URIRef) -> bool:
        return cls in self.predicates(s).get(RDF_TYPE, ())

    def instances(self, cls: URIRef) -> list[Subject]:
        """Every subject typed ``cls``, in document order."""
        return [s for s, po in self._spo.items() if cls in po.get(RDF_TYPE, ())]

    @classmethod
    def from_graph(cls, graph: Graph) -> Triples:
        triples = cls()
        for s, p, o in graph:
            if isinstance(s, URIRef | BNode) and isinstance(p, URIRef) and isinstance(o, URIRef | BNode | Literal):
                triples.add(s, p, o)
        return triples


def nt(term: Term) -> str:
    """The term in canonical N-Triples (lower-case language tags; simple literals without ``xsd:string``)."""
    if isinstance(term, URIRef):
        return f"<{term}>"
    if isinstance(term, BNode):
        return f"_:{term}"
    lexical = str(term).translate(_NT_ESCAPES)
    if term.language:
        return f'"{lexical}"@{term.language.lower()}'
    if term.datatype is not None and term.datatype != XSD_STRING:
        return f'"{lexical}"^^<{term.datatype}>'
    return f'"{lexical}"'


_NT_ESCAPES = str.maketrans({"\\": "\\\\", '"': '\\"', "\n": "\\n", "\r": "\\r"})


# ------------------------------------------------------------------------------------------------ format choice

_XML_TAG = re.compile(rb"<[A-Za-z_][\w.-]*(?::[A-Za-z_][\w.-]*)?[\s>/]")
_TURTLE_START = re.compile(rb"(?:@prefix|@base|prefix\s|base\s|<[^>\s]*>\s|_:|\[)", re.IGNORECASE)


def sniff_format(content: bytes) -> str | None:
    """The rdflib format the first bytes of a body announce, or None when they say nothing clear."""
    head = content[:4096].removeprefix(b"\xef\xbb\xbf").lstrip()
    while head.startswith(b"#"):  # Turtle comments before the first directive
        head = head.partition(b"\n")[2].lstrip()
    if head.startswith(b"{") or (head.startswith(b"[") and head[1:].lstrip()[:1] in (b"{", b'"', b"")):
        return "json-ld"
    if head.startswith((b"<?xml", b"<!DOCTYPE", b"<!--")) or (_XML_TAG.match(head) and b"xmlns" in head):
        return "xml"
    if _TURTLE_START.match(head):
        return "turtle"
    return None


def candidate_formats(content_type: str, content: bytes) -> list[str]:
    """The formats to try, best first: what the bytes say, then what the Content-Type says, else Turtle."""
    declared = MEDIA_TYPES.get(content_type.split(";")[0].strip().lower())
    found = [f for f in (sniff_format(content), declared) if f is not None]
    return list(dict.fromkeys(found)) or ["turtle"]


# ------------------------------------------------------------------------------------------------ parsing


def parse_rdf(content: bytes, *, url: str, content_type: str = "", contexts: JsonLdContexts | None = None) -> Triples:
    """Parse a fetched body; PayloadInvalid names the URL, every format tried and each parser's message.

    ``url`` is the base for relative IRIs. JSON-LD contexts are looked up in ``contexts`` (URL → context
    document) and never fetched; a context the mapping lacks makes the body invalid.
    """
    problems: list[str] = []
    for fmt in candidate_formats(content_type, content):
        try:
            with _published_literals():
                return _parse_as(fmt, content, url, contexts or {})
        except _Refused as exc:
            raise PayloadInvalid(f"GET {url}: {exc}") from exc
        except Exception as exc:  # rdflib's parsers raise anything from SAXParseException to BadSyntax
            message = " ".join(str(exc).split())[:500]
            problems.append(f"as {fmt}: {type(exc).__name__}: {message}")
    raise PayloadInvalid(f"GET {url}: not parseable RDF ({'; '.join(problems)})")


class _Refused(Exception):
    """The document asks for something the hub never does (fetching a remote JSON-LD context)."""


class _Unsupported(Exception):
    """The fast Turtle parser met syntax it leaves to rdflib."""


def _parse_as(fmt: str, content: bytes, url: str, contexts: JsonLdContexts) -> Triples:
    if fmt in ("turtle", "nt"):
        try:
            return _Turtle(content.decode("utf-8").removeprefix("\ufeff"), url).parse()
        except (_Unsupported, UnicodeDecodeError, IndexError):
            pass  # rdflib decides, and words the error if there is one
    data: bytes | str = content
    if fmt == "json-ld":
        data = orjson.dumps(_with_local_contexts(orjson.loads(content), url, contexts)).decode()
    graph = Graph()
    graph.parse(data=data, format=fmt, publicID=url)
    return Triples.from_graph(graph)


_LITERALS_LOCK = threading.Lock()
_TERM_LOGGER = logging.getLogger("rdflib.term")


def _ill_typed_noise(record: logging.LogRecord) -> bool:
    # rdflib logs a traceback for every ill-typed literal ("2020-1-1"^^xsd:date); the catalogue reports those.
    return not record.getMessage().startswith("Failed to convert Literal lexical form")


@contextmanager
def _published_literals() -> Iterator[None]:
    """Keep literals as published while rdflib parses (its switch is process-wide, hence the lock)."""
    with _LITERALS_LOCK:
        previous = rdflib.NORMALIZE_LITERALS
        rdflib.NORMALIZE_LITERALS = False
        _TERM_LOGGER.addFilter(_ill_typed_noise)
        try:
            yield
        finally:
            rdflib.NORMALIZE_LITERALS = previous
            _TERM_LOGGER.removeFilter(_ill_typed_noise)


def _with_local_contexts(doc: Any, base: str, contexts: JsonLdContexts) -> Any:
    """The JSON-LD document with every ``@context`` reference replaced by its locally known document."""
    if isinstance(doc, list):
        return [_with_local_contexts(item, base, contexts) for item in doc]
    if not isinstance(doc, dict):
        return doc
    return {
        key: _context(value, base, contexts, frozenset())
        if key == "@context"
        else _with_local_contexts(value, base, contexts)
        for key, value in doc.items()
    }


def _context(value: Any, base: str, contexts: JsonLdContexts, seen: frozenset[str]) -> Any:
    if isinstance(value, str):
        url = urljoin(base, value)
        if url not in contexts:
            raise _Refused(f"JSON-LD @context {url} is not one of the contexts known locally (never fetched)")
        if url in seen:
            raise _Refused(f"JSON-LD @context {url} includes itself")
        document = contexts[url]
        return _context(document.get("@context", document), base, contexts, seen | {url})
    if isinstance(value, list):
        resolved = [_context(item, base, contexts, seen) for item in value]
        return [c for item in resolved for c in (item if isinstance(item, list) else [item])]
    if isinstance(value, dict):
        resolved_dict = {k: _term_definition(k, v, base, contexts, seen) for k, v in value.items() if k != "@import"}
        if "@import" in value:  # JSON-LD 1.1: the imported context's terms, overridden by this one's
            imported = _context(value["@import"], base, contexts, seen)
            return {**(imported if isinstance(imported, dict) else {}), **resolved_dict}
        return resolved_dict
    return value


def _term_definition(key: str, value: Any, base: str, contexts: JsonLdContexts, seen: frozenset[str]) -> Any:
    if isinstance(value, dict) and "@context" in value:  # a scoped context
        return {**value, "@context": _context(value["@context"], base, contexts, seen)}
    return value


# ------------------------------------------------------------------------------------------------ fast Turtle

_TOKENS = re.compile(
    r"""(?P<ws>(?:[ \t\r\n]++|\#[^\r\n]*+)++)
    |(?P<iri><[^\x00-\x20<>"{}|^`\\]*+>)
    |(?P<long>\"\"\"(?:[^"\\]++|\\.|"(?!""))*+\"\"\"|'''(?:[^'\\]++|\\.|'(?!''))*+''')
    |(?P<str>"(?:[^"\\\n\r]++|\\.)*+"|'(?:[^'\\\n\r]++|\\.)*+')
    |(?P<lang>@[A-Za-z]++(?:-[A-Za-z0-9]++)*+)
    |(?P<caret>\^\^)
    |(?P<bnode>_:[A-Za-z0-9_](?:[\w.-]*[\w-])?)
    |(?P<pname>(?:[A-Za-z][\w.-]*)?:(?:[\w%:-](?:[\w.%:-]*[\w%:-])?)?)
    |(?P<num>[+-]?(?:\d+(?:\.\d+)?|\.\d+)(?:[eE][+-]?\d+)?)
    |(?P<word>[A-Za-z]+)
    |(?P<punct>[;,.\[\]()])""",
    re.VERBOSE,
)
_ESCAPES = re.compile(r"\\(?:u([0-9A-Fa-f]{4})|U([0-9A-Fa-f]{8})|(.))", re.DOTALL)
_ECHAR = {"t": "\t", "b": "\b", "n": "\n", "r": "\r", "f": "\f", '"': '"', "'": "'", "\\": "\\"}
_SCHEME = re.compile(r"[A-Za-z][A-Za-z0-9+.-]*:")


def _unescape(body: str) -> str:
    def one(match: re.Match[str]) -> str:
        code = match.group(1) or match.group(2)
        if code:
            return chr(int(code, 16))
        if match.group(3) not in _ECHAR:
            raise _Unsupported(f"escape \\{match.group(3)}")
        return _ECHAR[match.group(3)]

    return _ESCAPES.sub(one, body)


class _Turtle:
    """Recursive descent over the tokens of one Turtle or N-Triples document; raises _Unsupported to hand over."""

    def __init__(self, text: str, base: str) -> None:
        self._tokens = self._tokenise(text)
        self._i = 0
        self._base = base
        self._prefixes: dict[str, str] = {}
        self._iris: dict[str, URIRef] = {}
        self._literals: dict[tuple[str, str | None, URIRef | None], Literal] = {}
        self._labels: dict[str, BNode] = {}
        self._fresh = 0
        self._out = Triples()

    @staticmethod
    def _tokenise(text: str) -> list[tuple[str, str]]:
        tokens: list[tuple[str, str]] = []
        end = 0
        for match in _TOKENS.finditer(text):
            if match.start() != end:
                raise _Unsupported(f"unexpected text at offset {end}")
            end = match.end()
            kind = match.lastgroup
            if kind != "ws" and kind is not None:
                tokens.append((kind, match.group()))
        if end != len(text):
            raise _Unsupported(f"unexpected text at offset {end}")
        return tokens

    def parse(self) -> Triples:
        while self._i < len(self._tokens):
            kind, text = self._tokens[self._i]
            if kind == "lang" and text in ("@prefix", "@base"):
                self._directive(text[1:], dot=True)
            elif kind == "word" and text.lower() in ("prefix", "base"):
                self._directive(text.lower(), dot=False)
            else:
                self._statement()
        return self._out

    def _next(self) -> tuple[str, str]:
        token = self._tokens[self._i]  # IndexError at the end of the document: rdflib words it
        self._i += 1
        return token

    def _accept(self, punct: str) -> bool:
        if self._i < len(self._tokens) and self._tokens[self._i] == ("punct", punct):
            self._i += 1
            return True
        return False

    def _expect(self, punct: str) -> None:
        if not self._accept(punct):
            raise _Unsupported(f"expected {punct!r}")

    def _directive(self, which: str, *, dot: bool) -> None:
        self._i += 1
        if which == "prefix":
            kind, name = self._next()
            if kind != "pname" or not name.endswith(":") or name.count(":") != 1:
                raise _Unsupported("prefix name")
        kind, iri = self._next()
        if kind != "iri":
            raise _Unsupported("directive IRI")
        if which == "prefix":
            self._prefixes[name[:-1]] = self._resolve(iri[1:-1])
        else:
            self._base, self._iris = self._resolve(iri[1:-1]), {}
        if dot:
            self._expect(".")

    def _statement(self) -> None:
        subject: Subject
        if self._accept("["):
            subject = self._property_list()
            if self._accept("."):
                return
        else:
            kind, text = self._next()
            subject = self._label(text) if kind == "bnode" else self._named(kind, text)
        self._predicate_objects(subject)
        self._expect(".")

    def _predicate_objects(self, subject: Subject) -> None:
        add = self._out.add
        while True:
            kind, text = self._next()
            verb = RDF_TYPE if (kind, text) == ("word", "a") else self._named(kind, text)
            add(subject, verb, self._object())
            while self._accept(","):
                add(subject, verb, self._object())
            if not self._accept(";"):
                return
            while self._accept(";"):
                pass
            if self._tokens[self._i] in (("punct", "."), ("punct", "]")):
                return

    def _property_list(self) -> BNode:
        self._fresh += 1
        node = BNode(f"t{self._fresh}")
        if not self._accept("]"):
            self._predicate_objects(node)
            self._expect("]")
        return node

    def _object(self) -> Term:
        kind, text = self._next()
        if kind in ("str", "long"):
            return self._literal(text[3:-3] if kind == "long" else text[1:-1])
        if kind == "bnode":
            return self._label(text)
        if (kind, text) == ("punct", "["):
            return self._property_list()
        if kind == "num" and text.lstrip("+-").isdigit():
            return self._cached_literal(str(int(text)), None, _XSD_INTEGER)  # as rdflib's own Turtle parser does
        if kind == "word" and text in ("true", "false"):
            return self._cached_literal(text, None, _XSD_BOOLEAN)
        return self._named(kind, text)

    def _literal(self, body: str) -> Literal:
        if "\\" in body:
            body = _unescape(body)
        kind, text = self._tokens[self._i] if self._i < len(self._tokens) else ("", "")
        if kind == "lang":
            self._i += 1
            return self._cached_literal(body, text[1:], None)
        if kind == "caret":
            self._i += 1
            return self._cached_literal(body, None, self._named(*self._next()))
        return self._cached_literal(body, None, None)

    def _cached_literal(self, body: str, lang: str | None, datatype: URIRef | None) -> Literal:
        key = (body, lang, datatype)
        literal = self._literals.get(key)
        if literal is None:
            literal = self._literals[key] = Literal(body, lang=lang, datatype=datatype, normalize=False)
        return literal

    def _named(self, kind: str, text: str) -> URIRef:
        if kind == "iri":
            raw = text[1:-1]
        elif kind == "pname":
            prefix, _, local = text.partition(":")
            if prefix not in self._prefixes:
                raise _Unsupported(f"undeclared prefix {prefix!r}")
            raw = self._prefixes[prefix] + local
        else:
            raise _Unsupported(f"unexpected {kind} {text!r}")
        iri = self._iris.get(raw)
        if iri is None:
            iri = self._iris[raw] = URIRef(self._resolve(raw))
        return iri

    def _resolve(self, raw: str) -> str:
        return raw if _SCHEME.match(raw) else join_iri(self._base, raw)

    def _label(self, text: str) -> BNode:
        node = self._labels.get(text)
        if node is None:
            node = self._labels[text] = BNode(f"l{len(self._labels)}")
        return node
