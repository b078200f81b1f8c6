"""Translating NGSI-LD names between a request's @context and the names the hub stores.

Entities are stored compacted against the hub's default context (the core context plus the Smart Data Models
contexts), so a request with another @context is translated at the edges, term by term: a request name is expanded
with the request's context and compacted with the default context (:meth:`Translation.to_stored`); a stored name
is expanded with the default context and compacted with the request's (:meth:`Translation.to_client`). Only entity
member names, attribute and sub-attribute names and entity type values are names; values are never touched.
"""

from __future__ import annotations

from collections.abc import Callable, Iterable
from typing import Any

from ngsi.context import DEFAULT_VOCAB
from ngsi.ldcontext import ActiveContext
from ngsi.q import And, AttrPath, Compare, Exists, Match, Node, Or

# Names of the NGSI-LD information model itself. They mean the same in every context (the core context is protected
# and always applies), so they are never translated, even before the core context is in the store.
CORE_NAMES = frozenset(
    {
        "@context", "id", "type", "scope", "location", "observationSpace", "operationSpace", "createdAt",
        "modifiedAt", "deletedAt", "observedAt", "value", "object", "objectType", "unitCode", "datasetId",
        "languageMap", "lang", "vocab", "json", "valueList", "objectList", "instanceId", "previousValue",
        "values", "instances", "Property", "Relationship", "GeoProperty", "LanguageProperty", "VocabProperty",
        "JsonProperty", "ListProperty", "ListRelationship", "avg", "sum", "totalCount", "distinctCount", "min",
        "max", "stddev", "sumsq",
    }
)  # fmt: skip
ENTITY_FIXED = frozenset({"@context", "id", "scope", "createdAt", "modifiedAt", "deletedAt"})
ATTRIBUTE_KINDS = frozenset(
    {"Property", "Relationship", "GeoProperty", "LanguageProperty", "VocabProperty", "JsonProperty", "ListProperty",
     "ListRelationship"}
)  # fmt: skip
VALUE_MEMBERS = ("value", "object", "languageMap", "vocab", "json", "valueList", "objectList")
MEMO_LIMIT = 10_000  # names memoised per translation; client-chosen names beyond this are computed each time


class Translation:
    """The name map between one request @context and the default context, memoised in both directions."""

    identity = False

    def __init__(self, request: ActiveContext, default: ActiveContext, fixed: frozenset[str]) -> None:
        self.request, self.default, self.fixed = request, default, fixed
        self._in: dict[str, str] = {}
        self._out: dict[str, str] = {}
        self._reverse: dict[str, str] | None = None

    def to_stored(self, name: str) -> str:
        """A request name as stored: expanded with the request's context, compacted with the default context."""
        found = self._in.get(name)
        if found is None:
            iri = None if name in self.fixed else self.request.expand(name)
            found = name if iri is None else self.default.compact(iri, vocab_wins=True)
            if len(self._in) < MEMO_LIMIT:
                self._in[name] = found
        return found

    def to_client(self, name: str) -> str:
        """A stored name in the request's terms (the full IRI when the request's context has no name for it)."""
        found = self._out.get(name)
        if found is None:
            found = self._client_name(name)
            if len(self._out) < MEMO_LIMIT:
                self._out[name] = found
        return found

    def _client_name(self, name: str) -> str:
        if name in self.fixed:
            return name
        if self._reverse is None:
            # The request's own terms first: when two stored-side IRIs share a short name (status in Parking and in
            # Transportation), the client's term for either one must come back as the client wrote it.
            reverse: dict[str, str] = {}
            for term in sorted(self.request.terms, key=lambda t: (len(t), t)):
                if term not in self.fixed and not term.startswith("@"):
                    reverse.setdefault(self.to_stored(term), term)
            self._reverse = reverse
        if name in self._reverse:
            return self._reverse[name]
        iri = self.default.expand(name)
        if iri is None:
            return name
        compacted = self.request.compact(iri)
        if compacted == iri and name not in self.request.terms and not any(c in name for c in ":/#"):
            # A short name the request's context leaves undefined: its writer's own name for the @vocab IRI, which
            # to_stored turned into this stored name (vocab_wins), so it comes back as it went in (ETSI 018_11,
            # 019_13: `locatedAt` sent under a context without it must not return as the Smart Data Models IRI).
            return name
        return compacted

    def names(self, names: Iterable[str]) -> list[str]:
        return [self.to_stored(n) for n in names]

    def entity_in(self, entity: Any) -> Any:
        """A request body (entity, attribute fragment, or a batch list) with its names as stored."""
        if isinstance(entity, list):
            return [self.entity_in(e) for e in entity]
        return rename_entity(entity, self.to_stored) if isinstance(entity, dict) else entity

    def entity_out(self, entity: dict[str, Any]) -> dict[str, Any]:
        return rename_entity(entity, self.to_client)

    def q(self, node: Node) -> Node:
        """A parsed q with its attribute paths as stored (JSON keys inside values, ``a[x.y]``, stay as given)."""
        if isinstance(node, And | Or):
            return type(node)(tuple(self.q(t) for t in node.terms))
        if isinstance(node, Exists):
            return Exists(self._path(node.path), node.negate)
        if isinstance(node, Compare):
            return Compare(self._path(node.path), node.op, node.value)
        assert isinstance(node, Match)
        return Match(self._path(node.path), node.pattern, node.negate)

    def _path(self, path: AttrPath) -> AttrPath:
        linked = self._path(path.linked) if path.linked is not None else None
        types = tuple(self.names(path.types))  # a type hint names types, translated as type= is
        return AttrPath(self.to_stored(path.name), tuple(self.names(path.sub)), path.keys, linked, types)


class Identity(Translation):
    """No @context or the core context only: stored names are the request's names (the hot read path)."""

    identity = True

    def __init__(self) -> None:
        super().__init__(ActiveContext(), ActiveContext(), CORE_NAMES)

    def to_stored(self, name: str) -> str:
        """The name itself; written out in the core context's @vocab (``https://uri.etsi.org/ngsi-ld/default-
        context/isParked``) it is the short name the core context compacts it to (ETSI 019_02_04)."""
        if name.startswith(DEFAULT_VOCAB):
            suffix = name[len(DEFAULT_VOCAB) :]
            if suffix and not any(c in suffix for c in ":/#"):
                return suffix
        return name

    def to_client(self, name: str) -> str:
        return name

    def entity_in(self, entity: Any) -> Any:
        return entity

    def entity_out(self, entity: dict[str, Any]) -> dict[str, Any]:
        return entity


def rename_entity(entity: dict[str, Any], rename: Callable[[str], str]) -> dict[str, Any]:
    out: dict[str, Any] = {}
    for key, value in entity.items():
        if key in ENTITY_FIXED:
            out[key] = value
        elif key == "type":  # a type that is not a string is left for the body's checks to name (not a 500 here)
            types = value if isinstance(value, list) else [value]
            renamed_types = [rename(v) if isinstance(v, str) else v for v in types]
            out[key] = renamed_types if isinstance(value, list) else renamed_types[0]
        else:
            out[rename(key)] = _attribute(value, rename)
    return out


def _attribute(value: Any, rename: Callable[[str], str]) -> Any:
    if isinstance(value, list):
        return [_attribute(v, rename) for v in value]
    if not isinstance(value, dict) or not _is_attribute(value):
        return value  # a concise or keyValues value: its JSON keys are data, not names
    return {
        k if k in CORE_NAMES else rename(k): v if k in CORE_NAMES else _attribute(v, rename) for k, v in value.items()
    }


def _is_attribute(value: dict[str, Any]) -> bool:
    return value.get("type") in ATTRIBUTE_KINDS or any(m in value for m in VALUE_MEMBERS) or "values" in value
