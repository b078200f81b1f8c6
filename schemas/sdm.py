"""Validation of entities against their Smart Data Model (OASC MIM2).

The model schemas describe the key-values shape, so a normalized or concise entity is first flattened to key-values
(:func:`to_key_values`), remembering where each value sits in the original; every finding points into the ORIGINAL
entity (``/availableBikeNumber/value``). Validators come from the :class:`~schemas.store.SchemaStore`, compiled once
per type. Two repairs are warnings that carry the normalised value instead of rejections: a date-time without a
time zone (read in ``assume_tz``) and an enum value in the wrong letter case. Attributes the model does not declare
are reported as info (the models are extensible; the hub adds its own extra properties).

Without a synced store the validator checks nothing, ``structural_only`` is True, and callers say so in reports.
"""

from __future__ import annotations

import functools
import re
from collections.abc import Iterable
from dataclasses import dataclass
from datetime import UTC, tzinfo
from typing import Any

import jsonschema_rs
from jsonschema.exceptions import ValidationError, best_match
from jsonschema.protocols import Validator
from referencing import Registry
from referencing.exceptions import Unresolvable

from schemas.findings import Finding, Severity
from schemas.ngsild import (
    ATTRIBUTE_VALUE_MEMBER,
    CORE_MEMBERS,
    is_attribute_object,
    normalize_datetime,
    pointer_token,
    value_member,
)
from schemas.store import SDM, SchemaStore

MAX_MESSAGE = 300
NOTES_KEPT = 4096  # (model, attribute names) shapes whose undeclared-attribute notes are kept
LANGUAGE_PREFERENCE = ("en", "@none")


@dataclass(frozen=True, slots=True)
class KeyValues:
    """An entity in key-values form, and the JSON pointer of each attribute's value in the original entity."""

    values: dict[str, Any]
    origins: dict[str, str]

    def pointer(self, path: Iterable[str | int]) -> str:
        """The pointer into the original entity of a path into :attr:`values`."""
        parts = [str(p) for p in path]
        if not parts:
            return ""
        head = self.origins.get(parts[0], "/" + pointer_token(parts[0]))
        return head + "".join("/" + pointer_token(p) for p in parts[1:])


def to_key_values(entity: dict[str, Any]) -> KeyValues:
    """Flatten a normalized, concise or key-values entity; key-values input comes back unchanged."""
    values: dict[str, Any] = {}
    origins: dict[str, str] = {}
    for name, attr in entity.items():
        if name == "@context":
            continue
        value, suffix = (attr, "") if name in ("id", "type") else _unwrap(attr)
        values[name] = value
        origins[name] = "/" + pointer_token(name) + suffix
    return KeyValues(values, origins)


def _unwrap(attr: Any) -> tuple[Any, str]:
    """An attribute's key-values value and the pointer suffix where it sits (``/value``, ``/0/object``...)."""
    if type(attr) is dict:  # the common normalized shapes first: this runs for every attribute of every record
        kind = attr.get("type")
        if kind in ("Property", "GeoProperty") and "value" in attr:
            value = attr["value"]
            if not (type(value) is dict and "@value" in value):
                return value, "/value"
        elif kind == "Relationship" and "object" in attr:
            return attr["object"], "/object"
    if isinstance(attr, list) and attr and all(is_attribute_object(a) for a in attr):
        # A multi-attribute: the model describes one value, the default instance (the first, if none is).
        i = next((i for i, a in enumerate(attr) if "datasetId" not in a), 0)
        value, suffix = _unwrap(attr[i])
        return value, f"/{i}{suffix}"
    member = value_member(attr) if is_attribute_object(attr) else None
    if member is not None and member not in attr:
        # A malformed attribute (a Relationship with a "value"): the structural check reports it; read what is there.
        member = next((m for m in ATTRIBUTE_VALUE_MEMBER.values() if m in attr), None)
    if member is None:
        return attr, ""
    value = attr[member]
    if member == "languageMap" and isinstance(value, dict) and value:
        language = next((lang for lang in LANGUAGE_PREFERENCE if lang in value), next(iter(value)))
        return value[language], f"/languageMap/{pointer_token(str(language))}"
    if member == "objectList" and isinstance(value, list):
        return [o.get("object") if isinstance(o, dict) else o for o in value], "/objectList"
    if member == "value" and isinstance(value, dict) and "@value" in value:
        return value["@value"], "/value/@value"  # a JSON-LD typed value: {"@type": "DateTime", "@value": ...}
    return value, f"/{member}"


@functools.lru_cache(maxsize=1024)  # a harvest's entities share a handful of types
def short_type(entity_type: str) -> str:
    """The model name of a type given as a term, a compact IRI or an expanded URI."""
    return re.split(r"[/#:]", entity_type)[-1]


class SdmValidator:
    """Checks entities against the Smart Data Model their ``type`` names."""

    def __init__(self, store: SchemaStore | None, *, assume_tz: tzinfo = UTC) -> None:
        self.store = store
        self.assume_tz = assume_tz
        self.structural_only = store is None or SDM not in store.collections()
        self._declared: dict[str, frozenset[str]] = {}
        self._fast: dict[str, Any] = {}
        self._notes_of: dict[tuple[str, tuple[str, ...]], tuple[Finding, ...]] = {}

    def validator(self, entity_type: str) -> Validator | None:
        """The compiled validator of a model (the same object on every call), or None without one."""
        if self.store is None or self.structural_only:
            return None
        return self.store.model_validator(entity_type)

    def check(self, entity: dict[str, Any]) -> list[Finding]:
        """Findings of one entity against its model(s), pointing into ``entity`` as given."""
        if self.store is None or self.structural_only:
            return []
        flat = to_key_values(entity)
        kinds = entity.get("type")
        findings: list[Finding] = []
        for kind in kinds if isinstance(kinds, list) else [kinds]:
            if isinstance(kind, str) and kind:
                findings.extend(self._check_as(short_type(kind), flat))
        return findings

    def fast_validator(self, model: str) -> Any:
        """A compiled Rust validator (jsonschema-rs) of a model, for the yes/no check; None without a schema.

        The pure-Python validator walks a valid entity in ~200 µs; jsonschema-rs answers "valid" in a few µs. Only
        entities it rejects take the detailed walk that gives exact JSON pointers (``_check_as``).
        """
        if model not in self._fast:
            schema = self.store.model_schema(model) if self.store is not None and not self.structural_only else None
            registry = self.store.registry() if schema is not None and self.store is not None else None

            def retrieve(uri: str) -> Any:
                assert registry is not None
                return registry.contents(uri.split("#")[0])

            self._fast[model] = (
                None
                if schema is None
                else jsonschema_rs.validator_for(schema, retriever=retrieve, validate_formats=True)
            )
        return self._fast[model]

    def _check_as(self, model: str, flat: KeyValues) -> list[Finding]:
        fast = self.fast_validator(model)
        candidate = {**flat.values, "type": model}
        if fast is not None and fast.is_valid(candidate):
            return self._undeclared(model, flat)
        validator = self.validator(model)
        if validator is None:
            message = f"no Smart Data Model named {model} in the schema store: structural checks only"
            return [Finding("sdm.unknown-model", Severity.INFO, "/type", message)]
        try:
            errors = list(validator.iter_errors({**flat.values, "type": model}))
            declared = self._declared_properties(model)
        except Unresolvable as exc:
            message = f"the {model} schema refers to {exc}, which is not in the schema store"
            return [Finding("sdm.unresolvable", Severity.WARNING, "/type", message)]
        findings = [self._finding(error, flat) for error in errors]
        return findings + self._undeclared(model, flat, declared)

    def _undeclared(self, model: str, flat: KeyValues, declared: frozenset[str] | None = None) -> list[Finding]:
        return self.undeclared(model, flat.values, declared)

    def undeclared(self, model: str, values: dict[str, Any], declared: frozenset[str] | None = None) -> list[Finding]:
        """Notes for attributes the model does not declare (allowed, but worth a data officer's look).

        Kept per model and set of attribute names: a harvest's entities repeat the same few shapes, and building
        the notes again for each was a tenth of the validation (bench/harvest_pipeline.py)."""
        if declared is not None:
            return self._notes(model, tuple(values), declared)
        key = (model, tuple(values))
        notes = self._notes_of.get(key)
        if notes is None:
            if len(self._notes_of) >= NOTES_KEPT:
                self._notes_of.clear()
            notes = self._notes_of[key] = tuple(self._notes(model, key[1], self._declared_properties(model)))
        return list(notes)

    def _notes(self, model: str, names: tuple[str, ...], known: frozenset[str]) -> list[Finding]:
        return [
            Finding(
                "sdm.undeclared-attribute",
                Severity.INFO,
                "/" + pointer_token(name),
                f"{name} is not an attribute of the {model} model",
            )
            for name in sorted(name for name in names if name not in known and name not in CORE_MEMBERS)
        ]

    def _finding(self, error: ValidationError, flat: KeyValues) -> Finding:
        pointer = flat.pointer(error.absolute_path)
        if error.validator == "format" and error.validator_value == "date-time":
            fixed = normalize_datetime(error.instance, self.assume_tz)
            if fixed is not None:
                message = f"{error.instance!r} is not RFC 3339 with a time zone; read as {fixed}"
                return Finding("sdm.naive-datetime", Severity.WARNING, pointer, message, fixed)
        if error.validator == "enum" and isinstance(error.instance, str):
            options = error.validator_value if isinstance(error.validator_value, list) else []
            same = [o for o in options if isinstance(o, str) and o.casefold() == error.instance.casefold()]
            if len(same) == 1:
                message = f"{error.instance!r} is {same[0]!r} in the wrong case"
                return Finding("sdm.enum-case", Severity.WARNING, pointer, message, same[0])
        return Finding(f"sdm.{error.validator}", Severity.ERROR, pointer, _message(error))

    def _declared_properties(self, model: str) -> frozenset[str]:
        if model not in self._declared:
            assert self.store is not None  # only reached through _check_as, which has a validator
            schema = self.store.model_schema(model) or {}
            self._declared[model] = declared_properties(schema, self.store.registry())
        return self._declared[model]


def declared_properties(schema: dict[str, Any], registry: Registry[Any]) -> frozenset[str]:
    """Every property name a schema declares, through ``allOf``/``anyOf``/``oneOf`` and ``$ref``."""
    names: set[str] = set()
    stack = [(schema, registry.resolver(base_uri=str(schema.get("$id", ""))))]
    seen: set[int] = set()
    while stack:
        node, resolver = stack.pop()
        if not isinstance(node, dict):
            continue
        if isinstance(node.get("properties"), dict):
            names.update(node["properties"])
        for key in ("allOf", "anyOf", "oneOf"):
            stack.extend((sub, resolver) for sub in node.get(key, ()) if isinstance(sub, dict))
        ref = node.get("$ref")
        if isinstance(ref, str):
            resolved = resolver.lookup(ref)
            if id(resolved.contents) not in seen:  # a schema may refer back to itself
                seen.add(id(resolved.contents))
                stack.append((resolved.contents, resolved.resolver))
    return frozenset(names)


def _message(error: ValidationError) -> str:
    message = error.message
    if error.context:
        message = f"{message}; closest: {best_match(error.context).message}"
    return message if len(message) <= MAX_MESSAGE else message[: MAX_MESSAGE - 1] + "…"
