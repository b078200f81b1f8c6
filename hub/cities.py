"""The cities registry: ``cities.toml`` read into typed models, and written back.

The file is an array of ``[[cities]]`` tables, each with its own array of ``[[cities.sources]]``. Nothing is
returned until everything has been checked: a file with any problem raises one ``CitiesFileError`` that
lists every problem, one line each, naming the file, the city id, the source id and the field, so a broken
file never half-loads.
"""

from __future__ import annotations

import re
import tomllib
from collections.abc import Iterator, Mapping
from dataclasses import dataclass
from enum import StrEnum
from pathlib import Path
from typing import Annotated, Any
from urllib.parse import urlsplit

import tomli_w
from apscheduler.triggers.cron import CronTrigger
from pydantic import (
    AfterValidator,
    BaseModel,
    ConfigDict,
    Field,
    ValidationError,
    ValidationInfo,
    field_serializer,
    field_validator,
    model_validator,
)
from pydantic_core import ErrorDetails

from hub.errors import CitiesFileError

COUNTRIES = frozenset({"DK", "FI", "IS", "NO", "SE"})

_SLUG = re.compile(r"[a-z0-9][a-z0-9-]*")
_ENV_NAME = re.compile(r"[A-Z_][A-Z0-9_]*")
_HEADER_NAME = re.compile(r"[!#$%&'*+.^_`|~0-9A-Za-z-]+")  # an RFC 9110 token
_INTERVAL = re.compile(r"every\s+(\d+)\s*([smhd])")
_UNIT_SECONDS = {"s": 1, "m": 60, "h": 3600, "d": 86400}
_TOML_TYPES = {bool: "boolean", int: "integer", float: "float", str: "string", list: "array", dict: "table"}


class SourceKind(StrEnum):
    """How a source is read; the harvester has one adapter per kind."""

    GBFS = "gbfs"
    CKAN = "ckan"
    DCAT = "dcat"
    NGSILD = "ngsild"
    DATASTORE = "datastore"


class Schedule(BaseModel):
    """When a source is harvested: exactly one of a fixed interval or a 5-field crontab."""

    model_config = ConfigDict(frozen=True, extra="forbid")

    text: str
    interval_seconds: int | None = None
    cron: str | None = None

    @model_validator(mode="after")
    def _one_of(self) -> Schedule:
        if (self.interval_seconds is None) == (self.cron is None):
            raise ValueError("exactly one of interval_seconds and cron must be set")
        return self


def parse_schedule(text: str) -> Schedule:
    """Parse ``every <n>s|m|h|d`` or a 5-field crontab; raise ValueError saying what is wrong."""
    stripped = text.strip()
    interval = _INTERVAL.fullmatch(stripped)
    if interval:
        seconds = int(interval.group(1)) * _UNIT_SECONDS[interval.group(2)]
        if seconds <= 0:
            raise ValueError(f"the interval must be positive ({text!r})")
        return Schedule(text=text, interval_seconds=seconds)
    if len(stripped.split()) == 5:
        if any(c.isdigit() for c in stripped.split()[4]):
            # APScheduler counts weekdays from Monday=0, crontab from Sunday=0: names are unambiguous.
            raise ValueError(f"write the day of week by name (mon-fri, sun), not number ({text!r})")
        try:
            CronTrigger.from_crontab(stripped, timezone="UTC")
        except ValueError as exc:
            raise ValueError(f"not a valid cron expression ({text!r}): {exc}") from exc
        return Schedule(text=text, cron=stripped)
    raise ValueError(
        f"not a cron expression or interval ({text!r}); write 'every <n>s|m|h|d' "
        "or a 5-field crontab such as '0 3 * * *'"
    )


def _check_slug(value: str) -> str:
    if not _SLUG.fullmatch(value):
        raise ValueError(f"{value!r} is not a slug (a-z, 0-9 and '-', not starting with '-')")
    return value


def _check_http_url(value: str) -> str:
    try:
        parts = urlsplit(value)
        _ = parts.port  # raises on a malformed port
    except ValueError as exc:
        raise ValueError(f"{value!r} is not a valid URL: {exc}") from exc
    if parts.scheme not in ("http", "https"):
        raise ValueError(f"{value!r} is not an http or https URL (scheme {parts.scheme!r})")
    if not parts.hostname:
        raise ValueError(f"{value!r} has no host")
    return value


Slug = Annotated[str, AfterValidator(_check_slug)]
HttpUrl = Annotated[str, AfterValidator(_check_http_url)]


class Source(BaseModel):
    """One endpoint of a city, harvested on its own schedule."""

    model_config = ConfigDict(extra="forbid")

    id: Slug
    kind: SourceKind
    url: HttpUrl
    schedule: Schedule
    enabled: bool = True
    headers: dict[str, str] = Field(default_factory=dict)
    licence: HttpUrl | None = None
    title: str | None = None
    options: dict[str, Any] = Field(default_factory=dict)

    @field_validator("schedule", mode="before")
    @classmethod
    def _parse_schedule(cls, value: object) -> object:
        if isinstance(value, Schedule):
            return value
        if not isinstance(value, str):
            raise ValueError("must be a string such as 'every 60s' or '0 3 * * *'")
        return parse_schedule(value)

    @field_validator("headers")
    @classmethod
    def _env_names_only(cls, headers: dict[str, str]) -> dict[str, str]:
        bad_names = [name for name in headers if not _HEADER_NAME.fullmatch(name)]
        problems = [f"{name!r} is not an HTTP header name" for name in bad_names]
        # The value is never echoed: if it is not a variable name, it may well be the secret itself.
        problems += [
            f"header {name!r} must name an environment variable (^[A-Z_][A-Z0-9_]*$) holding its value; "
            "this looks like a value, and secrets never belong in cities.toml"
            for name, env in headers.items()
            if not _ENV_NAME.fullmatch(env)
        ]
        if problems:
            raise ValueError("; ".join(problems))
        return headers

    @field_serializer("schedule")
    def _schedule_text(self, schedule: Schedule) -> str:
        return schedule.text

    def header_values(self, environ: Mapping[str, str]) -> dict[str, str]:
        """The HTTP headers to send, read from ``environ``; a header whose variable is unset is left out."""
        return {name: environ[env] for name, env in self.headers.items() if env in environ}


class BBox(BaseModel):
    """A WGS84 bounding box, written in TOML as ``[min_lon, min_lat, max_lon, max_lat]``."""

    model_config = ConfigDict(frozen=True, extra="forbid")

    min_lon: float = Field(ge=-180, le=180)
    min_lat: float = Field(ge=-90, le=90)
    max_lon: float = Field(ge=-180, le=180)
    max_lat: float = Field(ge=-90, le=90)

    @model_validator(mode="before")
    @classmethod
    def _from_array(cls, value: object) -> object:
        if isinstance(value, Mapping):
            return value
        if isinstance(value, list | tuple) and len(value) == 4 and all(map(_is_number, value)):
            return dict(zip(("min_lon", "min_lat", "max_lon", "max_lat"), value, strict=True))
        raise ValueError(f"must be four numbers [min_lon, min_lat, max_lon, max_lat], got {value!r}")

    @model_validator(mode="after")
    def _ordered(self) -> BBox:
        if self.min_lon >= self.max_lon:
            raise ValueError(f"min_lon ({self.min_lon}) must be less than max_lon ({self.max_lon})")
        if self.min_lat >= self.max_lat:
            raise ValueError(f"min_lat ({self.min_lat}) must be less than max_lat ({self.max_lat})")
        return self

    def contains(self, lon: float, lat: float) -> bool:
        """Whether the point lies in the box, edges included."""
        return self.min_lon <= lon <= self.max_lon and self.min_lat <= lat <= self.max_lat


class City(BaseModel):
    """A member city and the sources the hub harvests for it."""

    model_config = ConfigDict(extra="forbid")

    id: Slug
    name: str = Field(min_length=1)
    name_en: str = Field(min_length=1)
    country: str
    municipality_code: str
    bbox: BBox
    licence: HttpUrl
    sources: list[Source] = Field(default_factory=list)

    @field_validator("country")
    @classmethod
    def _nordic(cls, value: str) -> str:
        if value not in COUNTRIES:
            allowed = ", ".join(sorted(COUNTRIES))
            raise ValueError(f"{value!r} is not one of {allowed} (ISO 3166-1 alpha-2, upper case)")
        return value

    @field_validator("municipality_code")
    @classmethod
    def _digits(cls, value: str) -> str:
        if not value.isascii() or not value.isdigit():
            raise ValueError(f"{value!r} is not a municipality number (digits only, leading zeros kept)")
        return value

    @field_serializer("bbox")
    def _bbox_array(self, bbox: BBox) -> list[float]:
        return [bbox.min_lon, bbox.min_lat, bbox.max_lon, bbox.max_lat]

    @property
    def scope(self) -> str:
        """The NGSI-LD scope of the city's entities."""
        return f"/Nordic/{self.country}/{self.id}"


class Registry(BaseModel):
    """Every member city; city ids and source ids are unique across the whole registry."""

    model_config = ConfigDict(extra="forbid")

    cities: list[City]

    @model_validator(mode="after")
    def _unique_ids(self, info: ValidationInfo) -> Registry:
        if info.context and info.context.get("duplicates_checked"):
            return self
        shape = [{"id": c.id, "sources": [{"id": s.id} for s in c.sources]} for c in self.cities]
        problems = _duplicate_problems(shape)
        if problems:
            raise ValueError("; ".join(p.message for p in problems))
        return self

    def city(self, city_id: str) -> City:
        """The city with this id; KeyError if there is none."""
        for city in self.cities:
            if city.id == city_id:
                return city
        raise KeyError(city_id)

    def sources(self) -> Iterator[tuple[City, Source]]:
        """Every (city, source) pair, in file order."""
        for city in self.cities:
            for source in city.sources:
                yield city, source

    def source(self, source_id: str) -> tuple[City, Source]:
        """The source with this id and its city; KeyError if there is none."""
        for city, source in self.sources():
            if source.id == source_id:
                return city, source
        raise KeyError(source_id)


@dataclass(frozen=True, slots=True)
class _Problem:
    """One thing wrong with the file, located by a pydantic-style path."""

    loc: tuple[int | str, ...]
    message: str


def parse_cities(text: str, *, filename: str = "cities.toml") -> Registry:
    """Parse the text of a cities file; raise CitiesFileError listing every problem."""
    try:
        data = tomllib.loads(text)
    except tomllib.TOMLDecodeError as exc:
        raise CitiesFileError(f"{filename}: TOML syntax error: {exc}") from exc
    problems: list[_Problem] = []
    registry: Registry | None = None
    try:
        # parse_cities reports duplicate ids itself, with positions, alongside every other problem.
        registry = Registry.model_validate(data, context={"duplicates_checked": True})
    except ValidationError as exc:
        problems = [_Problem(tuple(err["loc"]), _explain(err)) for err in exc.errors()]
    raw_cities = data.get("cities")
    if isinstance(raw_cities, list):
        problems += _duplicate_problems(raw_cities)
    if problems or registry is None:
        problems.sort(key=_position)  # stable: within one city or source, pydantic's field order is kept
        raise CitiesFileError("\n".join(_format(filename, data, p) for p in problems))
    return registry


def load_cities(path: Path) -> Registry:
    """Read and parse a cities file; raise CitiesFileError if it is missing, unreadable or invalid."""
    try:
        text = path.read_text(encoding="utf-8")
    except FileNotFoundError as exc:
        raise CitiesFileError(f"{path}: cities file not found") from exc
    except UnicodeDecodeError as exc:
        raise CitiesFileError(f"{path}: not UTF-8 text (byte {exc.start})") from exc
    except OSError as exc:
        raise CitiesFileError(f"{path}: cannot read the cities file: {exc.strerror}") from exc
    return parse_cities(text, filename=str(path))


def dump_cities(registry: Registry) -> str:
    """TOML text that parse_cities reads back to an equal Registry (comments of the original are not kept)."""
    data = registry.model_dump(mode="python", exclude_defaults=True, exclude_none=True)
    try:
        return tomli_w.dumps(data)
    except TypeError as exc:  # only options can hold values that TOML cannot express
        raise CitiesFileError(f"the registry cannot be written as TOML: {exc}") from exc


def _duplicate_problems(raw_cities: list[Any]) -> list[_Problem]:
    """Duplicate city ids and source ids (unique across the file), each naming where the id was first used."""
    problems: list[_Problem] = []
    city_seen: dict[str, int] = {}
    source_seen: dict[str, tuple[int, int]] = {}
    for ci, city in enumerate(raw_cities):
        city_id = _raw_id(city)
        if city_id is not None:
            if city_id in city_seen:
                where = f"city #{ci + 1} in the file repeats city #{city_seen[city_id] + 1}"
                problems.append(_Problem(("cities", ci, "id"), f"duplicate city id {city_id!r}: {where}"))
            city_seen.setdefault(city_id, ci)
        sources = city.get("sources") if isinstance(city, dict) else None
        for si, source in enumerate(sources if isinstance(sources, list) else []):
            source_id = _raw_id(source)
            if source_id is None:
                continue
            if source_id in source_seen:
                fci, fsi = source_seen[source_id]
                first = f"{_label(raw_cities, fci, 'city')}, source #{fsi + 1}"
                message = f"duplicate source id {source_id!r}, first used in {first}"
                problems.append(_Problem(("cities", ci, "sources", si, "id"), message))
            source_seen.setdefault(source_id, (ci, si))
    return problems


def _position(problem: _Problem) -> tuple[int, int]:
    """(city index, source index) of a problem, -1 where it is not inside one; used to sort the report."""
    loc = problem.loc
    city = loc[1] if len(loc) > 1 and loc[0] == "cities" and isinstance(loc[1], int) else -1
    source = loc[3] if city >= 0 and len(loc) > 3 and loc[2] == "sources" and isinstance(loc[3], int) else -1
    return city, source


def _explain(err: ErrorDetails) -> str:
    """A pydantic error in the words of the cities file."""
    kind, ctx, value = err["type"], err.get("ctx") or {}, err.get("input")
    if kind == "value_error" and "error" in ctx:
        return str(ctx["error"])
    if kind == "missing":
        return "required field is missing"
    if kind == "extra_forbidden":
        return f"unknown field{_allowed_fields(err['loc'])}"
    if kind == "enum":
        return f"unknown kind {value!r}; allowed kinds: {', '.join(k.value for k in SourceKind)}"
    if kind.endswith("_type"):
        return f"{err['msg']}, got {_toml_type(value)}"
    return str(err["msg"])


def _allowed_fields(loc: tuple[int | str, ...]) -> str:
    # An unknown key sits at depth 1 (top level), 3 (in a city) or 5 (in a source).
    models: dict[int, type[BaseModel]] = {1: Registry, 3: City, 5: Source}
    model = models.get(len(loc))
    return f" (allowed: {', '.join(model.model_fields)})" if model else ""


def _format(filename: str, data: dict[str, Any], problem: _Problem) -> str:
    """``file: city 'x', source 'y', field 'z': message``, with the parts that are known."""
    city_index, source_index = _position(problem)
    loc, parts = problem.loc, []
    if city_index >= 0:  # pydantic and _duplicate_problems only point into cities when it is a list
        parts.append(_label(data["cities"], city_index, "city"))
        loc = loc[2:]
    if source_index >= 0:
        parts.append(_label(data["cities"][city_index]["sources"], source_index, "source"))
        loc = loc[2:]
    if loc:
        parts.append(f"field {'.'.join(str(p) for p in loc)!r}")
    where = ", ".join(parts)
    return f"{filename}: {where}: {problem.message}" if where else f"{filename}: {problem.message}"


def _label(items: list[Any], index: int, noun: str) -> str:
    """``city 'oslo'`` when the item has a usable id, else ``city #3`` (1-based position in the file)."""
    item_id = _raw_id(items[index]) if index < len(items) else None
    return f"{noun} {item_id!r}" if item_id else f"{noun} #{index + 1}"


def _raw_id(item: object) -> str | None:
    if isinstance(item, dict):
        value = item.get("id")
        if isinstance(value, str) and value:
            return value
    return None


def _is_number(value: object) -> bool:
    return isinstance(value, int | float) and not isinstance(value, bool)


def _toml_type(value: object) -> str:
    name = _TOML_TYPES.get(type(value), type(value).__name__)
    return f"{name} {value!r}" if isinstance(value, int | float) else name
