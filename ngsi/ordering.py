"""Entity ordering (GS CIM 009 clause 4.23): the ``orderBy``, ``collation`` and distance-reference grammar.

``orderBy`` is a comma-separated list of keys, each an entity member (``id``, ``type``, ``scope``, ``createdAt``,
``modifiedAt``) or an attribute path as ``q`` spells it (``a``, ``a.sub``, ``a[key.key]``, ``a.sub[key]``),
optionally followed by ``;asc`` (the default), ``;desc``, or for a GeoProperty ``;dist-asc`` / ``;dist-desc``
(distance from the ``orderFrom`` point). Later keys break the ties of earlier ones, and the entity id (then the
tenant) breaks the last ties, so pages of one ordered query (``limit``/``offset``) neither repeat nor skip entities.

What a key compares (clause 4.23.2): the attribute's ``value`` (a Relationship's ``object``; a multi-instance
attribute's first instance) or the member at the path inside it. Values of different JSON types rank numbers
first, then strings, booleans (false before true), objects and arrays; an entity without the attribute (or with a
null) comes last in either direction. Strings compare by codepoint unless ``collation`` names the Unicode root
collation (``und``): letters then rank with their base letter, accents and case only breaking ties.

``ngsi.order_sql`` compiles an ordering into ORDER BY terms over the stored JSON.
"""

from __future__ import annotations

import math
import re
from collections.abc import Callable, Sequence
from dataclasses import dataclass, replace
from enum import StrEnum
from typing import Any

import orjson

from hub.errors import BadRequestData, NgsiLdError, OperationNotSupported
from ngsi.q import AttrPath, Exists, parse_q

MAX_KEYS = 10  # each key is a few JSON reads per selected entity
MAX_PATH = 512  # characters of one key's path
MEMBERS = {  # the entity members a key may name → their column of the entities table
    "id": "id",
    "type": "type",
    "scope": "scope",
    "createdAt": "created_at",
    "modifiedAt": "modified_at",
}
# RFC 6067 collations are BCP 47 language tags (RFC 5646) with an optional "-u-" extension.
_LANGUAGE_TAG = re.compile(r"[A-Za-z]{2,8}(-[A-Za-z0-9]{1,8})*")
_ROOT_TAGS = frozenset({"und", "root"})


class Direction(StrEnum):
    ASC = "asc"
    DESC = "desc"
    DIST_ASC = "dist-asc"
    DIST_DESC = "dist-desc"

    @property
    def descending(self) -> bool:
        return self in (Direction.DESC, Direction.DIST_DESC)

    @property
    def by_distance(self) -> bool:
        return self in (Direction.DIST_ASC, Direction.DIST_DESC)


class Collation(StrEnum):
    CODEPOINT = "codepoint"  # no collation parameter
    ROOT = "und"  # the Unicode root collation


@dataclass(frozen=True, slots=True)
class OrderKey:
    """One key: an entity member (``member``) or an attribute path, and its direction."""

    direction: Direction = Direction.ASC
    member: str | None = None
    path: AttrPath | None = None

    @property
    def text(self) -> str:
        if self.path is None:
            return str(self.member)
        keys = f"[{'.'.join(self.path.keys)}]" if self.path.keys else ""
        return ".".join((self.path.name, *self.path.sub)) + keys


@dataclass(frozen=True, slots=True)
class Ordering:
    """The ordering of one query: its keys, how strings compare and the point distances are measured from."""

    keys: tuple[OrderKey, ...]
    collation: Collation = Collation.CODEPOINT
    origin: tuple[float, float] | None = None  # longitude, latitude

    def renamed(self, to_stored: Callable[[str], str]) -> Ordering:
        """The ordering with its attribute names (not the JSON keys inside values) as stored."""

        def stored(path: AttrPath) -> AttrPath:
            return AttrPath(to_stored(path.name), tuple(map(to_stored, path.sub)), path.keys)

        keys = tuple(key if key.path is None else replace(key, path=stored(key.path)) for key in self.keys)
        return replace(self, keys=keys)


def _bad(parameter: str, message: str) -> BadRequestData:
    return BadRequestData(f"{parameter}: {message}")


def parse_key(text: str, parameter: str = "orderBy") -> OrderKey:
    """One ``orderBy`` key: ``path[;direction]``."""
    path_text, separator, style = text.strip().partition(";")
    path_text, style = path_text.strip(), style.strip()
    if separator and not style:
        raise _bad(parameter, f"{text.strip()!r} has no sorting style after ';' (asc, desc, dist-asc, dist-desc)")
    try:
        direction = Direction(style or "asc")
    except ValueError:
        message = f"{style!r} in {text.strip()!r} is no sorting style (asc, desc, dist-asc, dist-desc)"
        raise _bad(parameter, message) from None
    if not path_text:
        raise _bad(parameter, f"{text.strip()!r} names no entity member or attribute")
    if path_text in MEMBERS:
        if direction.by_distance:
            raise _bad(parameter, f"{direction} orders by a GeoProperty's distance; {path_text!r} is no GeoProperty")
        return OrderKey(direction, member=path_text)
    if len(path_text) > MAX_PATH:
        raise _bad(parameter, f"a key is at most {MAX_PATH} characters")
    try:
        node = parse_q(path_text)  # an attribute path alone is a q existence term: the same path grammar
    except NgsiLdError:  # q's own messages (and limits) would name q: ours names the parameter
        node = None
    if not isinstance(node, Exists) or node.negate:
        raise _bad(parameter, f"{path_text!r} is not an attribute path (a, a.sub, a[key], a.sub[key])")
    path = node.path
    if path.linked is not None:
        raise _bad(parameter, f"{path_text!r}: ordering by a linked entity's attribute is not supported")
    return OrderKey(direction, path=path)


def parse_order_by(value: str | Sequence[Any] | None, parameter: str = "orderBy") -> tuple[OrderKey, ...]:
    """The keys of ``orderBy``: a comma-separated string (query parameter) or an array of strings (Query body)."""
    if value is None:
        return ()
    if isinstance(value, str):
        items: list[Any] = value.split(",")
    elif isinstance(value, list):
        items = value
    else:
        raise _bad(parameter, "must be a comma-separated string or an array of strings")
    if not all(isinstance(item, str) for item in items):
        raise _bad(parameter, "every key must be a string")
    if not items or not any(item.strip() for item in items):
        raise _bad(parameter, "names no key")
    if len(items) > MAX_KEYS:
        raise _bad(parameter, f"at most {MAX_KEYS} keys")
    return tuple(parse_key(item, parameter) for item in items)


def parse_collation(value: Any, parameter: str = "collation") -> Collation:
    """The ``collation`` (an RFC 6067 language tag): none is codepoint order; ``und``/``root`` the root collation."""
    if value is None:
        return Collation.CODEPOINT
    if not isinstance(value, str) or not _LANGUAGE_TAG.fullmatch(value):
        raise _bad(parameter, f"{value!r} is not an RFC 6067 collation (a BCP 47 language tag such as und)")
    if value.lower() not in _ROOT_TAGS:
        raise _bad(
            parameter,
            f"{value!r} is not offered: strings order by codepoint (no collation) or by the Unicode root "
            "collation (und); a language's tailoring would be ignored silently, so it is refused",
        )
    return Collation.ROOT


def parse_origin(coordinates: Any, geometry: Any, parameter: str = "orderFrom") -> tuple[float, float]:
    """The point distances are measured from: ``[lon, lat]`` as a JSON array (text from a query string)."""
    if geometry not in (None, "Point"):
        raise OperationNotSupported(f"ordering by distance from a {geometry}: only from a Point")
    if isinstance(coordinates, str):
        try:
            coordinates = orjson.loads(coordinates)
        except orjson.JSONDecodeError:
            raise _bad(parameter, f"{coordinates!r} is not a JSON array [longitude, latitude]") from None
    if not isinstance(coordinates, list):
        raise _bad(parameter, "must be a JSON array [longitude, latitude]")
    if len(coordinates) != 2 or not all(_finite(c) for c in coordinates):
        raise _bad(parameter, f"{orjson.dumps(coordinates).decode()} is not a position [longitude, latitude]")
    lon, lat = float(coordinates[0]), float(coordinates[1])
    if not (-180 <= lon <= 180 and -90 <= lat <= 90):
        raise _bad(parameter, f"{lon}, {lat} is outside longitude -180..180, latitude -90..90")
    return lon, lat


def _finite(value: Any) -> bool:
    return isinstance(value, int | float) and not isinstance(value, bool) and math.isfinite(value)


def parse_ordering(
    order_by: str | Sequence[Any] | None,
    collation: Any = None,
    origin: Any = None,
    geometry: Any = None,
    *,
    names: tuple[str, str, str, str] = ("orderBy", "collation", "orderFrom", "orderGeometry"),
) -> Ordering | None:
    """The ordering a request asks for, or None (id order); ``names`` are its members' names for the errors."""
    if geometry is not None and not isinstance(geometry, str):
        raise _bad(names[3], "must be a string (a GeoJSON geometry type)")
    keys = parse_order_by(order_by, names[0])
    chosen = parse_collation(collation, names[1])
    if not keys:
        if collation is not None or origin is not None:
            raise _bad(names[1] if collation is not None else names[2], f"only applies with {names[0]}")
        return None
    point = None
    if any(key.direction.by_distance for key in keys):
        if origin is None:
            raise _bad(names[2], f"is required when {names[0]} orders by distance (dist-asc, dist-desc)")
        point = parse_origin(origin, geometry, names[2])
    return Ordering(keys, chosen, point)
