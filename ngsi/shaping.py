"""Shaping stored entities for the response: ``sysAttrs``, ``datasetId``, ``lang``, ``attrs``, ``pick``, ``omit``.

The SQL selects which entities; what is kept of each one is decided here, on the stored JSON (orjson), after the
page is read. When nothing is asked the stored JSON is sent as it is (:func:`render_page` never parses it then).
"""

from __future__ import annotations

import re
from collections.abc import Sequence
from dataclasses import dataclass
from datetime import UTC, datetime
from typing import Any

import orjson

from hub.errors import BadRequestData
from ngsi.context import CORE_CONTEXT
from ngsi.representation import ENTITY_MEMBERS, EXPIRES_AT, NONE_DATASET, Format, render, render_entity
from ngsi.stamps import with_attribute_stamps
from ngsi.store import StoredEntity

# A member name in pick/omit: anything but separators, braces, blanks and the q language's operators
_MEMBER = re.compile(r"[^\s,;{}()\[\]<>=!&|'\"]+")
_LANG = re.compile(r"^(\*|[A-Za-z]{1,8}(-[A-Za-z0-9]{1,8})*)(;q=(0(\.[0-9]{0,3})?|1(\.0{0,3})?))?$")


Members = list[tuple[str, "Members"]]  # a parsed pick/omit: each name with what its braces hold (none: empty)


@dataclass(frozen=True, slots=True)
class Projection:
    """A pick or omit (clause 4.21) of one entity: the members kept (or left out), and by Relationship name the
    projection of the entities that Relationship links to (``locatedAt{name}``, followed with ``join``)."""

    names: tuple[str, ...]
    omit: bool = False
    linked: tuple[tuple[str, Projection], ...] = ()

    def apply(self, entity: dict[str, Any]) -> dict[str, Any]:
        """The entity with only the members this projection keeps."""
        if self.omit:
            return {k: v for k, v in entity.items() if k not in self.names}
        return {k: v for k, v in entity.items() if k in self.names}


def linked_projection(linked: Sequence[tuple[str, Projection]], relationship: str) -> Projection | None:
    """The projection of the entities ``relationship`` links to; None: they are answered whole."""
    return next((p for name, p in linked if name == relationship), None)


@dataclass(frozen=True, slots=True)
class Shape:
    """What to keep of each entity, and in which format. ``attrs``: the deprecated pick of attributes; ``linked``:
    the projections of linked entities by Relationship name (``pick=locatedAt{name}``), used by ``join``."""

    fmt: Format = Format.NORMALIZED
    sys_attrs: bool = False
    attrs: tuple[str, ...] = ()
    pick: tuple[str, ...] = ()
    omit: tuple[str, ...] = ()
    lang: tuple[str, ...] = ()
    dataset_ids: tuple[str, ...] = ()
    linked: tuple[tuple[str, Projection], ...] = ()

    def __post_init__(self) -> None:
        if self.pick and self.omit:
            raise BadRequestData("pick and omit cannot be used together")
        if self.attrs and (self.pick or self.omit):
            raise BadRequestData("attrs cannot be used with pick or omit (pick replaces attrs)")

    @property
    def reshapes(self) -> bool:
        return bool(self.sys_attrs or self.attrs or self.pick or self.omit or self.lang or self.dataset_ids)


def parse_members(text: str | None, param: str) -> Projection | None:
    """A ``pick`` or ``omit`` value (clause 4.21), ``param`` naming which: ``name`` or ``name{projection}``,
    separated by ``,`` or ``|`` (both spell the or operator); None when empty. The braces hold the projection of
    the entities the Relationship ``name`` links to. In an omit, ``name{…}`` leaves ``name`` in: only the linked
    entities' members named inside go."""
    if text is None or not text.strip():
        return None
    members, end = _projection(text, 0, param)
    if end != len(text):
        raise BadRequestData(f"{param}: unexpected {text[end]!r} at position {end} of {text!r}")
    return _tree(members, omit=param == "omit")


def _tree(members: Members, *, omit: bool) -> Projection:
    names = tuple(name for name, inner in members if not (omit and inner))
    return Projection(names, omit, tuple((name, _tree(inner, omit=omit)) for name, inner in members if inner))


def parse_projection(text: str | None, param: str) -> tuple[str, ...]:
    """The names a ``pick`` or ``omit`` value keeps or leaves out of the entity itself (see parse_members)."""
    members = parse_members(text, param)
    return members.names if members else ()


def _projection(text: str, pos: int, param: str) -> tuple[Members, int]:
    members: Members = []
    while True:
        pos = _blanks(text, pos)
        match = _MEMBER.match(text, pos)
        if match is None:
            found = repr(text[pos]) if pos < len(text) else "the end"
            raise BadRequestData(f"{param}: a member name expected at position {pos} of {text!r}, found {found}")
        inner: Members = []
        pos = _blanks(text, match.end())
        if text.startswith("{", pos):
            inner, pos = _projection(text, pos + 1, param)
            if not text.startswith("}", pos):
                raise BadRequestData(f"{param}: '{{' at or before position {pos} of {text!r} is not closed")
            pos = _blanks(text, pos + 1)
        members.append((match.group(), inner))
        if pos >= len(text) or text[pos] not in ",|":  # 4.21: a comma or a pipe is the or operator
            return members, pos
        pos += 1


def _blanks(text: str, pos: int) -> int:
    while pos < len(text) and text[pos] == " ":
        pos += 1
    return pos


def parse_lang(text: str | None) -> tuple[str, ...]:
    """Language tags of a ``lang`` parameter, best first (``fr,en;q=0.8``); ``("*",)``: any one."""
    if not text:
        return ()
    weighted: list[tuple[float, int, str]] = []
    for index, part in enumerate(p.strip() for p in text.split(",")):
        match = _LANG.match(part)
        if not match:
            raise BadRequestData(f"lang: {part!r} is not a language tag (such as en, nb-NO, en;q=0.8 or *)")
        weight = float(match.group(4)) if match.group(4) else 1.0
        if weight > 0:
            weighted.append((-weight, index, match.group(1)))
    return tuple(tag for _w, _i, tag in sorted(weighted)) or ("*",)


def _timestamp(moment: datetime | None) -> str:
    if moment is None:
        raise ValueError("sysAttrs asked of an entity read without its timestamps")
    return moment.astimezone(UTC).isoformat(timespec="milliseconds").replace("+00:00", "Z")


def _with_sys_attrs(entity: dict[str, Any], stored: StoredEntity) -> dict[str, Any]:
    head: dict[str, Any] = {k: entity[k] for k in ("id", "type", "scope") if k in entity}
    created, modified = _timestamp(stored.created_at), _timestamp(stored.modified_at)
    stamps = {"createdAt": created, "modifiedAt": modified}
    if EXPIRES_AT in entity:
        stamps[EXPIRES_AT] = entity[EXPIRES_AT]
    rest = {k: v for k, v in entity.items() if k not in head and k != EXPIRES_AT}
    return {**head, **stamps, **with_attribute_stamps(rest, stored.attr_stamps, created, modified)}


def expires(data: str) -> bool:
    """True when stored JSON holds an ``expiresAt`` (entity or attribute): it must be shaped before it is shown."""
    return _EXPIRES_KEY in data


_EXPIRES_KEY = f'"{EXPIRES_AT}"'


def _without_expiry(attr: Any) -> Any:
    if isinstance(attr, list):
        return [_without_expiry(a) for a in attr]
    if isinstance(attr, dict) and EXPIRES_AT in attr:
        return {k: v for k, v in attr.items() if k != EXPIRES_AT}
    return attr


def _instances(attr: Any, dataset_ids: Sequence[str]) -> Any:
    """The instances of one attribute whose datasetId (``@none`` for the default one) is asked; None if none is."""
    many = attr if isinstance(attr, list) else [attr]
    kept = [a for a in many if isinstance(a, dict) and str(a.get("datasetId", NONE_DATASET)) in dataset_ids]
    if not kept:
        return None
    return kept[0] if len(kept) == 1 else kept


def _in_language(attr: Any, tags: Sequence[str]) -> Any:
    """A LanguageProperty as a Property holding the best language's string, with a ``lang`` sub-attribute."""
    if isinstance(attr, list):
        return [_in_language(a, tags) for a in attr]
    if not isinstance(attr, dict) or not isinstance(attr.get("languageMap"), dict):
        return attr
    languages: dict[str, Any] = attr["languageMap"]
    chosen = next((key for tag in tags if (key := _best_key(tag, languages)) is not None), None)
    if chosen is None:
        chosen = NONE_DATASET if NONE_DATASET in languages else next(iter(languages), None)
    if chosen is None:
        return attr
    rest = {k: v for k, v in attr.items() if k not in ("type", "languageMap")}
    return {"type": "Property", "value": languages[chosen], "lang": chosen, **rest}


def _best_key(tag: str, languages: dict[str, Any]) -> str | None:
    """The languageMap key a language range asks for (4.15 via RFC 4647/5646), case-insensitively: the tag itself,
    else a longer tag it is a prefix of (``en`` → ``en-US``), else the tag truncated (``nl-BE`` → ``nl``)."""
    if tag == "*":
        return None
    keys = {key.lower(): key for key in languages}
    wanted = tag.lower()
    if wanted in keys:
        return keys[wanted]
    longer = next((key for lower, key in keys.items() if lower.startswith(wanted + "-")), None)
    if longer is not None:
        return longer
    while "-" in wanted:
        wanted = wanted.rsplit("-", 1)[0]
        if wanted in keys:
            return keys[wanted]
    return None


def shape_entity(stored: StoredEntity, shape: Shape) -> dict[str, Any]:
    """One stored entity with only what ``shape`` keeps."""
    entity: dict[str, Any] = orjson.loads(stored.data)
    if shape.sys_attrs:
        entity = _with_sys_attrs(entity, stored)
    elif expires(stored.data):  # 6.3.11: expiresAt is a system temporal attribute, shown with sysAttrs only
        entity = {k: _without_expiry(v) for k, v in entity.items() if k != EXPIRES_AT}
    if shape.dataset_ids:
        filtered = {k: v if k in ENTITY_MEMBERS else _instances(v, shape.dataset_ids) for k, v in entity.items()}
        entity = {k: v for k, v in filtered.items() if v is not None}
    if shape.lang:  # "*" too: any one language (ETSI 018_07_03): @none's entry, else the first
        entity = {k: v if k in ENTITY_MEMBERS else _in_language(v, shape.lang) for k, v in entity.items()}
    if shape.attrs:
        entity = {k: v for k, v in entity.items() if k in ENTITY_MEMBERS or k in shape.attrs}
    if shape.pick or shape.omit:
        entity = Projection(shape.pick or shape.omit, omit=not shape.pick).apply(entity)
    return entity


def render_one(stored: StoredEntity, shape: Shape, *, with_context: bool, context: Any = CORE_CONTEXT) -> bytes:
    """One entity in its response form; the stored JSON passes through untouched when nothing reshapes it."""
    if not shape.reshapes and not expires(stored.data):
        return render(stored.data, shape.fmt, with_context=with_context, context=context)
    return render_entity(shape_entity(stored, shape), shape.fmt, with_context=with_context, context=context)


def render_page(
    rows: Sequence[StoredEntity], shape: Shape, *, with_context: bool, context: Any = CORE_CONTEXT
) -> bytes:
    """A page of entities as a JSON array."""
    if shape.fmt is Format.NORMALIZED and not (with_context or shape.reshapes):
        # The stored JSON is the answer: joined as it is, without a call per entity (a tenth of a page's time),
        # unless an entity holds an expiresAt (one search of the joined page: one per entity was 6 % of a page
        # request's CPU, py-spy on bench/ngsi_http.py).
        joined = "[" + ",".join([row.data for row in rows]) + "]"
        if not expires(joined):
            return joined.encode()
    parts = (render_one(row, shape, with_context=with_context, context=context) for row in rows)
    return b"[" + b",".join(parts) + b"]"
