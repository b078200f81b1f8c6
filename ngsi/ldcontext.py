"""JSON-LD term definitions: just the part of JSON-LD 1.1 context processing that NGSI-LD names need.

The hub never expands whole documents; it only turns names (attribute, sub-attribute and entity-type names) into
IRIs with one context and back into names with another. So this module processes @context values into an
:class:`ActiveContext` (term → IRI, @vocab, prefixes) and offers :meth:`ActiveContext.expand` and
:meth:`ActiveContext.compact` of single names. It covers what occurs in the ETSI core contexts 1.3 to 1.9 and the
Smart Data Models contexts: simple and expanded term definitions (``@id``), prefixes and compact IRIs (CURIEs),
``@vocab`` (and vocabulary-relative term values such as ``"attributeCount": "attributeCount"``), keyword aliases,
``@protected``, ``@import``, arrays of contexts and remote context references (resolved by the caller's loader,
never fetched here). ``@type``/``@container`` and scoped contexts (``@context`` inside a term definition) change
how *values* are interpreted, not names, so they are read past.
"""

from __future__ import annotations

from collections.abc import Callable
from dataclasses import dataclass, field
from typing import Any

from hub.errors import BadRequestData, LdContextNotAvailable
from schemas.ngsild import is_absolute_uri

GEN_DELIMS = (":", "/", "?", "#", "[", "]", "@")
MAX_REMOTE_DEPTH = 16  # nested remote references; beyond this a context is refused rather than followed
Loader = Callable[[str], Any]  # a context URL → that document's "@context" value (raises LdContextNotAvailable)


@dataclass(frozen=True, slots=True)
class Term:
    iri: str | None  # None: the term is explicitly unmapped ("term": null)
    prefix: bool = False  # usable as the prefix of a compact IRI
    protected: bool = False


@dataclass(slots=True)
class ActiveContext:
    """Terms and @vocab after processing one or more contexts, with the inverse built on first compaction."""

    terms: dict[str, Term] = field(default_factory=dict)
    vocab: str | None = None
    _inverse: dict[str, str] | None = None
    _prefixes: list[tuple[str, str]] | None = None

    def copy(self) -> ActiveContext:
        return ActiveContext(dict(self.terms), self.vocab)

    def expand(self, name: str) -> str | None:
        """The IRI of a name used as a property or type, or None when it has none (unmapped, no @vocab)."""
        if name.startswith("@"):
            return name
        term = self.terms.get(name)
        if term is not None:
            return term.iri
        if ":" in name:
            prefix, suffix = name.split(":", 1)
            definition = self.terms.get(prefix)
            if suffix.startswith("//") or definition is None or definition.iri is None or not definition.prefix:
                return name  # an absolute IRI (https://…, urn:…)
            return definition.iri + suffix
        return self.vocab + name if self.vocab is not None else None

    def compact(self, iri: str, *, vocab_wins: bool = False) -> str:
        """The shortest name this context gives an IRI: a term, a @vocab-relative name, a CURIE, or the IRI.

        ``vocab_wins``: a @vocab-relative IRI compacts to its suffix even when a term of that name maps elsewhere.
        The hub's stored names use it: a name a client's context leaves undefined lands on the stored short name.
        """
        if iri.startswith("@"):
            return iri
        inverse, prefixes = self._tables()
        term = inverse.get(iri)
        if term is not None:
            return term
        if self.vocab and iri.startswith(self.vocab) and len(iri) > len(self.vocab):
            suffix = iri[len(self.vocab) :]
            if (vocab_wins or suffix not in self.terms) and ":" not in suffix:
                return suffix
        best: str | None = None
        for prefix, prefix_iri in prefixes:
            if iri.startswith(prefix_iri) and len(iri) > len(prefix_iri):
                curie = f"{prefix}:{iri[len(prefix_iri) :]}"
                if not curie.split(":", 1)[1].startswith("//") and curie not in self.terms:
                    best = curie if best is None or (len(curie), curie) < (len(best), best) else best
        return best or iri

    def _tables(self) -> tuple[dict[str, str], list[tuple[str, str]]]:
        if self._inverse is None or self._prefixes is None:
            inverse: dict[str, str] = {}
            for name, term in self.terms.items():
                if term.iri is None or term.iri.startswith("@"):
                    continue
                held = inverse.get(term.iri)
                # JSON-LD's term selection, reduced to names: the shortest term wins, then the lexically least.
                if held is None or (len(name), name) < (len(held), held):
                    inverse[term.iri] = name
            self._inverse = inverse
            self._prefixes = [(n, t.iri) for n, t in self.terms.items() if t.prefix and t.iri and ":" not in n]
        return self._inverse, self._prefixes


def process(active: ActiveContext, local: Any, load: Loader, *, seen: tuple[str, ...] = ()) -> ActiveContext:
    """The active context after applying ``local`` (a URL, an object, null, or an array of those)."""
    result = active.copy()
    for context in local if isinstance(local, list) else [local]:
        if context is None:
            # A null context resets to the empty context; protected terms survive it (JSON-LD 1.1, 4.1.11).
            result = ActiveContext({n: t for n, t in result.terms.items() if t.protected})
        elif isinstance(context, str):
            if not is_absolute_uri(context):
                raise BadRequestData(
                    f"@context {context!r} is not a URL (a remote context is named by its absolute URL)"
                )
            if context in seen or len(seen) >= MAX_REMOTE_DEPTH:
                raise BadRequestData(f"@context {context!r} includes itself or nests remote contexts too deep")
            result = process(result, load(context), load, seen=(*seen, context))
        elif isinstance(context, dict):
            _apply_object(result, _with_import(context, load), seen=seen)
        else:
            raise BadRequestData(f"invalid @context entry {context!r}: expected a URL, an object or null")
    return result


def _with_import(context: dict[str, Any], load: Loader) -> dict[str, Any]:
    source = context.get("@import")
    if source is None:
        return context
    imported = load(source) if isinstance(source, str) else None
    if not isinstance(imported, dict):
        raise BadRequestData(f"@import {source!r} must name a context whose @context is one object")
    return {**imported, **{k: v for k, v in context.items() if k != "@import"}}


_TYPE_KEYWORDS = ("@id", "@vocab", "@json", "@none")


def _apply_object(result: ActiveContext, context: dict[str, Any], *, seen: tuple[str, ...]) -> None:
    if "@version" in context and context["@version"] != 1.1:
        raise BadRequestData(f"@version must be 1.1 (JSON-LD 1.1), got {context['@version']!r}")
    if "@vocab" in context:
        vocab = context["@vocab"]
        if vocab is not None and not isinstance(vocab, str):
            raise BadRequestData(f"@vocab must be a string or null, got {vocab!r}")
        result.vocab = _vocab(result, vocab) if vocab else None
    protected = context.get("@protected") is True
    defining: dict[str, bool] = {}
    for name in context:
        if not name.startswith("@"):
            _define(result, context, name, defining, protected)
    result._inverse = result._prefixes = None


def _vocab(result: ActiveContext, vocab: str) -> str:
    if ":" in vocab:
        expanded = result.expand(vocab)
        return expanded if expanded is not None else vocab
    term = result.terms.get(vocab)
    return term.iri if term is not None and term.iri else vocab


def _define(result: ActiveContext, local: dict[str, Any], name: str, defining: dict[str, bool], prot: bool) -> None:
    """Create one term definition (JSON-LD 1.1, 4.2.2), defining the local terms it depends on first."""
    state = defining.get(name)
    if state is True:
        return
    if state is False:
        raise BadRequestData(f"@context term {name!r} has a cyclic IRI mapping")
    defining[name] = False
    value = local[name]
    held = result.terms.get(name)
    if held is not None and held.protected:
        # A protected term (the core context's) keeps its meaning: NGSI-LD names such as location or observedAt
        # cannot be redefined by a client's context, which JSON-LD would reject outright.
        defining[name] = True
        return
    if value is None or (isinstance(value, dict) and value.get("@id", "") is None):
        result.terms[name] = Term(None, protected=prot)
    elif isinstance(value, str):
        iri = _expand_value(result, local, name, value, defining, prot)
        result.terms[name] = Term(iri, prefix=iri is not None and iri.endswith(GEN_DELIMS), protected=prot)
    elif isinstance(value, dict):
        if "@reverse" in value:
            defining[name] = True
            return  # a reverse property never names an NGSI-LD attribute
        target = value.get("@id")
        if target is not None and not isinstance(target, str):
            raise BadRequestData(f"@context term {name!r}: @id must be a string, got {target!r}")
        kind = value.get("@type")
        if kind is not None and (not isinstance(kind, str) or (kind.startswith("@") and kind not in _TYPE_KEYWORDS)):
            raise BadRequestData(f"@context term {name!r}: @type {kind!r} is not an IRI nor one of {_TYPE_KEYWORDS}")
        iri = _expand_value(result, local, name, target if target is not None else name, defining, prot)
        # Scoped contexts (value["@context"]) apply to the values under this term, never to NGSI-LD names.
        result.terms[name] = Term(iri, prefix=value.get("@prefix") is True, protected=prot)
    else:
        raise BadRequestData(f"@context term {name!r} has an invalid definition {value!r}")
    defining[name] = True


def _expand_value(
    result: ActiveContext, local: dict[str, Any], name: str, value: str, defining: dict[str, bool], prot: bool
) -> str | None:
    """IRI expansion of term ``name``'s target, vocabulary-relative, against the context being processed."""
    if value.startswith("@"):
        return value
    if value in local and value != name:  # a term naming itself is vocabulary-relative, not a cycle
        _define(result, local, value, defining, prot)
    if ":" in value:
        prefix = value.split(":", 1)[0]
        if prefix in local:
            _define(result, local, prefix, defining, prot)  # raises on a cyclic IRI mapping
    return result.expand(value)


def not_available(url: str, why: str) -> LdContextNotAvailable:
    return LdContextNotAvailable(f"@context {url} is not available: {why}")
