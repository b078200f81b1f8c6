"""The declarative mapping of a CKAN datastore table onto Smart Data Model entities, and its pure transform.

A mapping lives in ``cities.toml`` (``options.mapping`` of a ``datastore`` source) and is validated by
:class:`DatastoreMapping` when the adapter runs. It says which entity ``type`` a row becomes, how its ``id`` is
built from columns, which columns become attributes (cast, bounded, with a UN/CEFACT unit), which attributes are
derived from others by a small allow-list of operations (never ``eval``), where the location comes from and how
the observation time is read. The format is documented in ``docs/sources.md``.

No I/O here: :func:`table_records` turns parsed rows into entities with their findings, and is tested on the real
recorded Aarhus car-park table.
"""

from __future__ import annotations

import math
import re
import string
from collections.abc import Mapping, Sequence
from dataclasses import dataclass
from datetime import UTC, datetime
from typing import Annotated, Any, Literal, Self, TypeVar
from urllib.parse import quote
from zoneinfo import ZoneInfo, ZoneInfoNotFoundError

from pydantic import AfterValidator, BaseModel, ConfigDict, Field, ValidationError, model_validator

from harvester.sources.base import Record
from hub.errors import ConfigError
from schemas.findings import Finding, Severity

ValueType = Literal["int", "float", "str"]
Number = int | float
_NAME = re.compile(r"^[A-Za-z][A-Za-z0-9_]*$")
_UNIT_CODE = re.compile(r"^[A-Z0-9]{2,3}$")  # UN/CEFACT Common Code, e.g. KMH, CEL, GQ, C62
_ID_SAFE = "-._~+"  # kept as is in entity ids; every other character outside [A-Za-z0-9] is percent-encoded
_RESERVED = frozenset({"id", "type", "location", "@context", "scope"})
ModelT = TypeVar("ModelT", bound=BaseModel)


def _unit_code(value: str) -> str:
    if not _UNIT_CODE.fullmatch(value):
        raise ValueError(f"{value!r} is not a UN/CEFACT unit code (2-3 upper-case letters or digits)")
    return value


def _type_name(value: str) -> str:
    if not _NAME.fullmatch(value):
        raise ValueError(f"{value!r} is not an entity type name")
    return value


def _zone_name(value: str) -> str:
    try:
        ZoneInfo(value)
    except (ZoneInfoNotFoundError, ValueError) as exc:
        raise ValueError(f"{value!r} is not an IANA time zone") from exc
    return value


def _id_template(value: str) -> str:
    id_columns(value)
    return value


UnitCode = Annotated[str, AfterValidator(_unit_code)]
TypeName = Annotated[str, AfterValidator(_type_name)]
ZoneName = Annotated[str, AfterValidator(_zone_name)]
IdTemplate = Annotated[str, AfterValidator(_id_template)]


class _Strict(BaseModel):
    model_config = ConfigDict(extra="forbid", frozen=True)


class ColumnAttribute(_Strict):
    """An attribute read from one column, optionally cast, bounded and given a unit."""

    column: str = Field(min_length=1)
    type: ValueType | None = None  # None keeps the JSON value as the datastore typed it
    unit: UnitCode | None = None
    minimum: float | None = None
    maximum: float | str | None = None  # a number, or the name of an attribute declared before this one
    out_of_range: Literal["clamp", "omit"] = "clamp"
    observed: bool = True  # carries the row's observation time as observedAt


class StaticAttribute(_Strict):
    """An attribute without observation time: a column's value (e.g. a name) or a constant."""

    column: str | None = None
    value: Any = None
    type: ValueType | None = None

    @model_validator(mode="after")
    def _one_source(self) -> Self:
        if (self.column is None) == (self.value is None):
            raise ValueError("give exactly one of column and value")
        return self


class Derivation(_Strict):
    """A value computed from other attributes by one allow-listed operation."""

    difference: tuple[str, str] | None = None  # a - b
    ratio: tuple[str, str] | None = None  # a / b, left out when b is 0
    sum: list[str] | None = Field(default=None, min_length=2)
    digits: int | None = Field(default=None, ge=0, le=12)
    unit: UnitCode | None = None

    @model_validator(mode="after")
    def _one_operation(self) -> Self:
        given = [op for op in ("difference", "ratio", "sum") if getattr(self, op) is not None]
        if len(given) != 1:
            raise ValueError(f"give exactly one operation of difference, ratio, sum (got {given or 'none'})")
        return self

    @property
    def operands(self) -> tuple[str, ...]:
        return tuple(self.difference or self.ratio or self.sum or ())


class LocationSpec(_Strict):
    """A GeoJSON Point from two coordinate columns, or from a lookup table keyed by a column."""

    lon: str | None = None
    lat: str | None = None
    key: str | None = None
    points: dict[str, tuple[float, float]] = Field(default_factory=dict)  # key value -> [lon, lat]

    @model_validator(mode="after")
    def _one_way(self) -> Self:
        by_columns = self.lon is not None and self.lat is not None
        by_lookup = self.key is not None and bool(self.points)
        if by_columns == by_lookup:
            raise ValueError("give either lon and lat columns, or key and a non-empty points table")
        for key, (lon, lat) in self.points.items():
            if not (-180 <= lon <= 180 and -90 <= lat <= 90):
                raise ValueError(f"points.{key}: [{lon}, {lat}] is not [lon, lat] in degrees")
        return self


class DatastoreMapping(_Strict):
    """How one row of a datastore table becomes one normalized NGSI-LD entity."""

    type: TypeName
    id: IdTemplate  # "{garageCode}" or "{point}-{lane}"; each value is made URI-safe
    observed_at: str | None = None  # the column holding the observation time
    time_format: str | None = None  # strptime format; ISO 8601 when absent
    timezone: ZoneName = "UTC"  # the zone of naive times
    time_attribute: str | None = None  # also publish the observation time as this Property
    attributes: dict[str, ColumnAttribute] = Field(default_factory=dict)
    static: dict[str, StaticAttribute] = Field(default_factory=dict)
    derived: dict[str, Derivation] = Field(default_factory=dict)
    location: LocationSpec | None = None

    @model_validator(mode="after")
    def _names(self) -> Self:
        names = [*self.attributes, *self.static, *self.derived, *([self.time_attribute] if self.time_attribute else [])]
        for name in names:
            if name in _RESERVED or not _NAME.fullmatch(name):
                raise ValueError(f"{name!r} cannot be an attribute name")
        duplicates = sorted({n for n in names if names.count(n) > 1})
        if duplicates:
            raise ValueError(f"attribute names used twice: {', '.join(duplicates)}")
        _check_references(self)
        return self


def _check_references(mapping: DatastoreMapping) -> None:
    """Bounds and operands must name attributes computed before them, so evaluation is one pass in file order."""
    known: list[str] = list(mapping.static)
    for name, attr in mapping.attributes.items():
        if isinstance(attr.maximum, str) and attr.maximum not in known:
            raise ValueError(f"attributes.{name}.maximum: {attr.maximum!r} is not an attribute declared before it")
        known.append(name)
    for name, derivation in mapping.derived.items():
        missing = [op for op in derivation.operands if op not in known]
        if missing:
            raise ValueError(f"derived.{name}: {', '.join(missing)} not declared before it")
        known.append(name)


def id_columns(template: str) -> list[str]:
    """The columns an id template uses; ValueError when it is not a plain ``{column}`` template."""
    columns: list[str] = []
    try:
        parts = list(string.Formatter().parse(template))
    except ValueError as exc:
        raise ValueError(f"{template!r} is not an id template: {exc}") from exc
    for literal, field, spec, conversion in parts:
        if literal and quote(literal, safe=_ID_SAFE) != literal:
            raise ValueError(f"{template!r}: the text between columns may only use letters, digits and {_ID_SAFE}")
        if field is None:
            continue
        if not field or spec or conversion or any(c in field for c in ".[]"):
            raise ValueError(f"{template!r}: write columns as {{name}}, without formats, indexes or attributes")
        columns.append(field)
    if not columns:
        raise ValueError(f"{template!r} uses no column: write the id as a template such as '{{garageCode}}'")
    return columns


def validate_options(model: type[ModelT], source_id: str, options: Mapping[str, Any]) -> ModelT:
    """``options`` validated as ``model``, or ConfigError naming the source and every bad field."""
    try:
        return model.model_validate(dict(options))
    except ValidationError as exc:
        problems = "; ".join(
            f"options.{'.'.join(str(p) for p in err['loc'])}: {err['msg']}" if err["loc"] else err["msg"]
            for err in exc.errors()
        )
        raise ConfigError(f"source {source_id!r}: {problems}") from exc


@dataclass(frozen=True, slots=True)
class TableContext:
    """What an entity needs to know beyond its row: the city it belongs to and where the table was read."""

    city_id: str
    source_url: str | None = None


def pointer(index: int, column: str | None = None) -> str:
    """JSON pointer of a row, or of one of its cells, in the datastore's ``records`` array."""
    if column is None:
        return f"/records/{index}"
    return f"/records/{index}/{column.replace('~', '~0').replace('/', '~1')}"


def id_part(value: Any) -> str:
    """A cell value as a piece of a URN: trimmed, inner whitespace as '-', other unsafe characters encoded."""
    return quote(re.sub(r"\s+", "-", str(value).strip()), safe=_ID_SAFE)


def entity_id(mapping: DatastoreMapping, city_id: str, row: Mapping[str, Any], index: int) -> str | Finding:
    """``urn:ngsi-ld:<type>:<city>:<rendered template>``, or an ERROR finding when an id column is empty."""
    rendered: list[str] = []
    for literal, field, _spec, _conversion in string.Formatter().parse(mapping.id):
        rendered.append(literal)
        if field is None:
            continue
        value = row.get(field)
        if value is None or isinstance(value, bool) or not str(value).strip():
            return Finding("datastore.missing-id", Severity.ERROR, pointer(index, field), f"id column {field} is empty")
        rendered.append(id_part(value))
    return f"urn:ngsi-ld:{mapping.type}:{city_id}:{''.join(rendered)}"


def utc_text(moment: datetime) -> str:
    return moment.astimezone(UTC).strftime("%Y-%m-%dT%H:%M:%SZ")


def observation_time(mapping: DatastoreMapping, row: Mapping[str, Any], index: int) -> tuple[str | None, list[Finding]]:
    """The row's observation time as RFC 3339 UTC; naive times are read in the mapping's zone, with a warning."""
    column = mapping.observed_at
    if column is None:
        return None, []
    raw = row.get(column)
    where = pointer(index, column)
    if not isinstance(raw, str) or not raw.strip():
        return None, [Finding("datastore.missing-time", Severity.ERROR, where, f"{column} is empty")]
    try:
        parsed = (
            datetime.strptime(raw.strip(), mapping.time_format)
            if mapping.time_format
            else datetime.fromisoformat(raw.strip().replace("Z", "+00:00"))
        )
    except ValueError:
        expected = mapping.time_format or "ISO 8601"
        return None, [Finding("datastore.time-format", Severity.ERROR, where, f"{raw!r} does not match {expected}")]
    if parsed.tzinfo is not None:
        return utc_text(parsed), []
    message = f"{raw!r} has no time zone: {mapping.timezone} assumed"
    return utc_text(parsed.replace(tzinfo=ZoneInfo(mapping.timezone))), [
        Finding("datastore.naive-time", Severity.WARNING, where, message)
    ]


def cast(value: Any, kind: ValueType | None) -> Any:
    """``value`` as ``kind``; ValueError when that would lose or invent information."""
    if kind is None or kind == "str":
        return value if kind is None else str(value)
    if isinstance(value, bool):
        raise ValueError("a boolean is not a number")
    number = float(value.strip()) if isinstance(value, str) else value
    if not isinstance(number, int | float) or not math.isfinite(number):
        raise ValueError("not a finite number")
    if kind == "float":
        return float(number)
    if isinstance(number, float) and not number.is_integer():
        raise ValueError("not a whole number")
    return int(number)


def prop(value: Any, observed_at: str | None = None, unit: str | None = None) -> dict[str, Any]:
    """A normalized Property."""
    attr: dict[str, Any] = {"type": "Property", "value": value}
    if observed_at:
        attr["observedAt"] = observed_at
    if unit:
        attr["unitCode"] = unit
    return attr


@dataclass(slots=True)
class _Row:
    """One row being mapped: the values computed so far (for bounds and derivations), attributes and findings."""

    index: int
    data: Mapping[str, Any]
    observed_at: str | None
    findings: list[Finding]
    values: dict[str, Any]
    attrs: dict[str, Any]
    observed: set[str]

    def warn(self, rule: str, column: str | None, message: str, severity: Severity = Severity.WARNING) -> None:
        self.findings.append(Finding(rule, severity, pointer(self.index, column), message))

    def put(self, name: str, value: Any, *, observed: bool, unit: str | None = None) -> None:
        self.values[name] = value
        self.attrs[name] = prop(value, self.observed_at if observed else None, unit)
        if observed:
            self.observed.add(name)


def _bounded(row: _Row, name: str, spec: ColumnAttribute, value: Number) -> Number | None:
    """``value`` within the attribute's bounds: clamped (or left out) with a warning when it is not."""
    upper = row.values.get(spec.maximum) if isinstance(spec.maximum, str) else spec.maximum
    bound_name = spec.maximum if isinstance(spec.maximum, str) else "the maximum"
    if isinstance(upper, int | float) and value > upper:
        limit, relation = upper, f"exceeds {bound_name} {upper:g}"
    elif spec.minimum is not None and value < spec.minimum:
        limit, relation = spec.minimum, f"is below the minimum {spec.minimum:g}"
    else:
        return value
    if spec.out_of_range == "omit":
        row.warn("datastore.out-of-range", spec.column, f"{spec.column} {value:g} {relation}: {name} left out")
        return None
    clamped = int(limit) if isinstance(value, int) and float(limit).is_integer() else limit
    row.warn("datastore.clamped", spec.column, f"{spec.column} {value:g} {relation}: {name} clamped to {clamped:g}")
    return clamped


def _column_attribute(row: _Row, name: str, spec: ColumnAttribute) -> None:
    raw = row.data.get(spec.column)
    if raw is None or (isinstance(raw, str) and not raw.strip()):
        return  # no reading: the attribute is absent, not zero
    try:
        value = cast(raw, spec.type)
    except ValueError as exc:
        row.warn("datastore.value-type", spec.column, f"{spec.column} {raw!r} is not {spec.type} ({exc}): left out")
        return
    if isinstance(value, int | float) and not isinstance(value, bool):
        value = _bounded(row, name, spec, value)
        if value is None:
            return
    row.put(name, value, observed=spec.observed, unit=spec.unit)


def _derived(row: _Row, name: str, spec: Derivation) -> None:
    operands: list[Number] = [
        v
        for v in (row.values.get(op) for op in spec.operands)
        if isinstance(v, int | float) and not isinstance(v, bool)
    ]
    if len(operands) != len(spec.operands):
        return  # an operand is missing or not a number, and was reported when it was read
    if spec.difference is not None:
        value: Number = operands[0] - operands[1]
    elif spec.ratio is not None:
        if operands[1] == 0:
            row.warn("datastore.undefined", None, f"{name}: {spec.ratio[1]} is 0", Severity.INFO)
            return
        value = operands[0] / operands[1]
    else:
        value = sum(operands)
    if spec.digits is not None and isinstance(value, float):
        value = round(value, spec.digits)
    row.put(name, value, observed=any(op in row.observed for op in spec.operands), unit=spec.unit)


def _static(row: _Row, name: str, spec: StaticAttribute) -> None:
    raw = spec.value if spec.column is None else row.data.get(spec.column)
    if raw is None or (isinstance(raw, str) and not raw.strip()):
        return
    try:
        row.put(name, cast(raw, spec.type), observed=False)
    except ValueError as exc:
        row.warn("datastore.value-type", spec.column, f"{spec.column} {raw!r} is not {spec.type} ({exc}): left out")


def _location(row: _Row, spec: LocationSpec) -> None:
    if spec.key is not None:
        key = row.data.get(spec.key)
        point = spec.points.get(str(key).strip()) if key is not None else None
        if point is None:
            row.warn("datastore.location-unknown", spec.key, f"no coordinates are mapped for {spec.key} {key!r}")
            return
        lon, lat = point
    else:
        try:
            lon, lat = cast(row.data.get(spec.lon or ""), "float"), cast(row.data.get(spec.lat or ""), "float")
        except (TypeError, ValueError):
            row.warn("datastore.location", spec.lon, f"{spec.lon}/{spec.lat} are not numeric coordinates")
            return
    row.attrs["location"] = {"type": "GeoProperty", "value": {"type": "Point", "coordinates": [lon, lat]}}


def row_record(data: Mapping[str, Any], index: int, mapping: DatastoreMapping, context: TableContext) -> Record:
    """One datastore row as a normalized entity; without a usable id or time it is quarantined (entity None)."""
    identifier = entity_id(mapping, context.city_id, data, index)
    observed_at, findings = observation_time(mapping, data, index)
    if isinstance(identifier, Finding):
        return Record(pointer(index), None, [identifier, *findings])
    row = _Row(index, data, observed_at, findings, {}, {}, set())
    for name, static in mapping.static.items():
        _static(row, name, static)
    for name, attribute in mapping.attributes.items():
        _column_attribute(row, name, attribute)
    for name, derivation in mapping.derived.items():
        _derived(row, name, derivation)
    if mapping.location is not None:
        _location(row, mapping.location)
    if mapping.time_attribute and observed_at:
        row.attrs[mapping.time_attribute] = prop(observed_at)
    if context.source_url:
        row.attrs["source"] = prop(context.source_url)
    entity = {"id": identifier, "type": mapping.type, **row.attrs}
    has_error = any(f.severity is Severity.ERROR for f in row.findings)
    return Record(identifier, None if has_error else entity, row.findings)


def table_records(
    rows: Sequence[Any], mapping: DatastoreMapping, context: TableContext, *, start: int = 0
) -> list[Record]:
    """Every row of one page of a table; ``start`` is the page's offset, so pointers index the whole table."""
    records: list[Record] = []
    for position, data in enumerate(rows, start=start):
        if not isinstance(data, dict):
            found = Finding("datastore.row", Severity.ERROR, pointer(position), "row is not an object")
            records.append(Record(pointer(position), None, [found]))
            continue
        records.append(row_record(data, position, mapping, context))
    return records
