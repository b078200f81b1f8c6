"""A CKAN-compatible Action API over the federated catalogue, so CKAN clients and harvesters work unchanged.

``/api/3/action/{action}`` (and ``/api/action/{action}``, which ``ckanapi`` calls), GET with query parameters or
POST with a JSON body or a form, answers ``package_search``, ``package_show``, ``package_list``,
``organization_list``, ``organization_show`` and ``status_show`` in CKAN's envelope
(``{"help": …, "success": true, "result": …}``). Errors keep CKAN's shape and statuses: ``Validation Error`` 409
naming the parameter (an unknown one, a bad number, a filter query the hub cannot read), ``Not Found Error`` 404,
400 for an unknown action or an unreadable body, 406 for an ``Accept`` without JSON.

Organizations are the member cities. A package is built from the stored dataset: its name is a slug of its URI and
its id the UUID 5 of the URI (both answer ``package_show``, as does the URI), its licence the SPDX id,
``metadata_modified`` the time the hub last changed it (so a harvester's incremental
``fq=metadata_modified:[… TO *]`` sees every change); the publisher's own dates are the ``issued``/``modified``
extras and the URI is the ``uri`` extra.

``package_search`` reads ``q`` (words, ``field:value`` terms as in ``fq``, or ``*:*``), ``fq`` and ``fq_list``
(``field:value``, ``field:"a b"``, ``field:(a OR b)``, ``metadata_modified:[2024-01-01T00:00:00Z TO *]``, joined by
spaces or AND; OR only between values of one field; no negation), ``rows`` (at most 1000, as CKAN), ``start``,
``sort`` (``score``, ``metadata_modified``, ``metadata_created``, ``name``, ``title_string``; asc or desc),
``facet``, ``facet.field``, ``facet.limit`` and ``fl``.
"""

from __future__ import annotations

import re
import uuid
from collections.abc import Callable, Iterator
from dataclasses import dataclass, field
from datetime import UTC, datetime
from typing import Annotated, Any, ClassVar
from urllib.parse import parse_qsl

import orjson
from fastapi import APIRouter, Depends, Request
from fastapi.responses import Response
from starlette.concurrency import run_in_threadpool

from api.routers.search import accepts_json
from api.state import HubState, hub_state
from catalog import store
from catalog.model import Dataset
from catalog.search import Clause, Facet, SearchQuery, SortKey, TimeRange, find_uri, search
from catalog.search_tables import (
    dataset_facets,
    format_code,
    is_open,
    licences_named,
    package_id,
    package_name,
    primary,
)
from hub import __version__
from hub.cities import City
from hub.errors import NordhubError
from schemas.licences import canonical_licence

router = APIRouter(tags=["CKAN API"])
State = Annotated[HubState, Depends(hub_state)]
CKAN_VERSION = "2.10.0"  # the generation of the Action API answered here
JSON = "application/json;charset=utf-8"
ROWS_MAX = 1000
NATURAL_MAX = 2**31 - 1
FACET_FIELDS = {"organization": Facet.CITY, "owner_org": Facet.CITY, "tags": Facet.KEYWORD}
FACET_FIELDS |= {"res_format": Facet.FORMAT, "license_id": Facet.LICENCE, "groups": Facet.THEME}
FACET_FIELDS |= {"country": Facet.COUNTRY, "quality": Facet.QUALITY}
TIME_FIELDS = {"metadata_modified": SortKey.CHANGED, "metadata_created": SortKey.CREATED}
SORT_FIELDS = {"score": SortKey.RELEVANCE, "name": SortKey.NAME, "title_string": SortKey.TITLE, **TIME_FIELDS}
SEARCH_KEYS = {"q", "fq", "fq_list", "rows", "start", "sort", "facet", "facet.field", "facet.limit", "fl"}
SEARCH_KEYS |= {"facet.mincount", "include_private", "include_drafts", "include_deleted", "use_default_schema"}
SEARCH_KEYS |= {"defType", "qf", "mm", "tie", "df", "hl"}  # Solr tuning: accepted, without effect here
_TERM = re.compile(r'(\+?)([A-Za-z_][\w.]*):("(?:[^"\\]|\\.)*"|\[[^\]]*\]|\([^)]*\)|[^\s()\[\]"]+)')
_RANGE = re.compile(r"\[\s*(\S+)\s+TO\s+(\S+)\s*\]")


class CkanError(Exception):
    """An error answered in CKAN's shape: ``{"__type": kind, "message": …, <parameter>: [messages]}``."""

    status: ClassVar[int] = 400
    kind: ClassVar[str] = "Bad Request"

    def __init__(self, message: str, fields: dict[str, list[str]] | None = None) -> None:
        super().__init__(message)
        self.error = {"__type": self.kind, "message": message, **(fields or {})}


class ValidationError(CkanError):
    status, kind = 409, "Validation Error"

    def __init__(self, parameter: str, message: str) -> None:
        super().__init__(f"{parameter}: {message}", {parameter: [message]})


class NotFoundError(CkanError):
    status, kind = 404, "Not Found Error"


class NotAcceptableError(CkanError):
    status, kind = 406, "Not Acceptable"


@dataclass(slots=True)
class Call:
    """One action call: the hub, the site's base URL and the request's data dict."""

    state: HubState
    site: str
    data: dict[str, Any]
    cities: dict[str, City] = field(init=False)

    def __post_init__(self) -> None:
        self.cities = {c.id: c for c in self.state.registry.cities}

    def only(self, allowed: set[str]) -> None:
        unknown = sorted(k for k in self.data if k not in allowed and not k.startswith("ext_"))
        if unknown:
            raise ValidationError("parameters", f"unknown parameter(s) {', '.join(unknown)}")

    def text(self, key: str) -> str:
        value = self.data.get(key)
        return "" if value is None else str(value[-1] if isinstance(value, list) else value).strip()

    def natural(self, key: str, default: int) -> int:
        value = self.text(key)
        if not value:
            return default
        if not value.lstrip("-").isdigit():
            raise ValidationError(key, "Invalid integer")
        if int(value) < 0:
            raise ValidationError(key, "Must be a natural number")
        if int(value) > NATURAL_MAX:
            raise ValidationError(key, f"Must be at most {NATURAL_MAX}")
        return int(value)

    def flag(self, key: str, default: bool) -> bool:
        value = self.data.get(key, default)
        return value if isinstance(value, bool) else str(value).strip().lower() in ("true", "1", "yes", "on")

    def strings(self, key: str) -> list[str]:
        """A list parameter: a JSON list, a JSON-encoded list or a single string."""
        value = self.data.get(key)
        if isinstance(value, str) and value.strip().startswith("["):
            try:
                value = orjson.loads(value)
            except orjson.JSONDecodeError:
                raise ValidationError(key, "not a JSON list") from None
        items = value if isinstance(value, list) else [] if value is None else [value]
        return [str(v).strip() for v in items if str(v).strip()]


# ------------------------------------------------------------------------------------------- reading a search


@dataclass(slots=True)
class _Filters:
    clauses: list[Clause] = field(default_factory=list)
    ranges: list[TimeRange] = field(default_factory=list)
    open: bool | None = None


def _terms(parameter: str, text: str) -> Iterator[tuple[str, str, str]]:
    """(operator, field, value) of each ``field:value`` term; anything else is a Validation Error."""
    position, operator = 0, "AND"
    while position < len(text):
        if text[position].isspace():
            position += 1
        elif text.startswith(("AND ", "OR ", "&& ", "|| "), position):
            operator = "OR" if text[position] in "O|" else "AND"
            position = text.index(" ", position)
        elif text.startswith("*:*", position):
            position += 3
        elif match := _TERM.match(text, position):
            yield operator, match[2], match[3]
            position, operator = match.end(), "AND"
        else:
            raise ValidationError(parameter, f"cannot read {text[position:]!r} (write field:value, field:\"a b\" "
                                  "or metadata_modified:[2024-01-01T00:00:00Z TO *])")  # fmt: skip


def _values(value: str) -> tuple[str, ...]:
    if value.startswith('"'):
        return (value[1:-1].replace('\\"', '"'),)
    if value.startswith("("):
        return tuple(v.strip('"') for v in re.split(r"\s+OR\s+", value[1:-1].strip()) if v.strip('"'))
    return (value,)


def _moment(parameter: str, value: str) -> datetime | None:
    if value == "*":
        return None
    try:
        moment = datetime.fromisoformat(value)
    except ValueError:
        raise ValidationError(parameter, f"{value!r} is not an ISO 8601 date-time (nor is date math read)") from None
    return moment if moment.tzinfo else moment.replace(tzinfo=UTC)


def _filter(parameter: str, text: str, found: _Filters) -> None:
    """Add the ``field:value`` terms of ``text`` to ``found``."""
    previous: str | None = None
    for operator, name, value in _terms(parameter, text):
        if operator == "OR" and (name != previous or name not in FACET_FIELDS):
            raise ValidationError(parameter, "OR is read only between values of one field, as field:(a OR b)")
        if name in TIME_FIELDS:
            bounds = _RANGE.fullmatch(value)
            if bounds is None:
                raise ValidationError(parameter, f"{name} takes a range such as [2024-01-01T00:00:00Z TO *]")
            low, high = (_moment(parameter, b) for b in bounds.groups())
            found.ranges.append(TimeRange(TIME_FIELDS[name], low, high))
        elif name == "isopen":
            found.open = value.lower() == "true"
        elif name in FACET_FIELDS:
            if operator == "OR":
                last = found.clauses.pop()
                found.clauses.append(Clause(last.facet, last.values + _values(value)))
            else:
                found.clauses.append(Clause(FACET_FIELDS[name], _values(value)))
        else:
            raise ValidationError(parameter, f"cannot filter on {name!r}: known are {', '.join(_FQ_NAMES)}")
        previous = name


_FQ_NAMES = sorted([*FACET_FIELDS, *TIME_FIELDS, "isopen"])


def _sort(call: Call) -> tuple[tuple[SortKey, bool], ...]:
    keys = []
    for part in (p.strip() for p in (call.text("sort") or "score desc, metadata_modified desc").split(",")):
        name, _, direction = part.partition(" ")
        if name not in SORT_FIELDS or direction.strip().lower() not in ("", "asc", "desc"):
            raise ValidationError("sort", f"cannot sort by {part!r}: use {', '.join(SORT_FIELDS)} with asc or desc")
        keys.append((SORT_FIELDS[name], direction.strip().lower() == "desc"))
    return tuple(keys)


def _search_query(call: Call) -> SearchQuery:
    found = _Filters()
    words = []
    for token in call.text("q").split():
        if _TERM.fullmatch(token) and token.lstrip("+").split(":", 1)[0] in (*FACET_FIELDS, *TIME_FIELDS):
            _filter("q", token, found)
        elif token not in ("*:*", "AND", "&&"):
            words.append(token)
    for fq in [call.text("fq"), *call.strings("fq_list")]:
        _filter("fq", fq, found)
    fields = call.strings("facet.field") if call.flag("facet", True) else []
    unknown = [f for f in fields if f not in FACET_FIELDS]
    if unknown:
        raise ValidationError("facet.field", f"cannot facet on {', '.join(unknown)}: use {', '.join(FACET_FIELDS)}")
    limit = call.natural("facet.limit", 50) if call.text("facet.limit") not in ("-1",) else 10_000
    return SearchQuery(
        text=" ".join(words),
        clauses=tuple(found.clauses),
        ranges=tuple(found.ranges),
        open=found.open,
        sort=_sort(call),
        offset=call.natural("start", 0),
        limit=min(call.natural("rows", 10), ROWS_MAX),
        facets=tuple(dict.fromkeys(FACET_FIELDS[f] for f in fields)),
        facet_limit=limit,
        countries={c.id: c.country for c in call.cities.values()},
    )


# ----------------------------------------------------------------------------------------------- CKAN's shapes


def _stamp(moment: datetime | None) -> str | None:
    """CKAN's timestamp: UTC without a zone, with microseconds."""
    return moment.astimezone(UTC).replace(tzinfo=None).isoformat(timespec="microseconds") if moment else None


def _organization(city: City, count: int | None = None) -> dict[str, Any]:
    extras = [
        {"key": "country", "value": city.country},
        {"key": "municipality_code", "value": city.municipality_code},
        {"key": "name_en", "value": city.name_en},
    ]
    org = {"id": city.id, "name": city.id, "title": city.name, "display_name": city.name,
           "description": f"Open data of {city.name_en} ({city.country}), harvested by Nordhub.", "image_url": "",
           "type": "organization", "is_organization": True, "state": "active", "approval_status": "approved",
           "extras": extras}  # fmt: skip
    return org if count is None else {**org, "package_count": count}


def _licence(ds: Dataset) -> dict[str, str | None]:
    named = next(iter(licences_named(ds)), None)
    licence = canonical_licence(named) if named else None
    if licence is not None:
        return {"license_id": licence.spdx, "license_title": licence.name, "license_url": licence.uri}
    url = named if named and named.startswith(("http://", "https://")) else None
    return {"license_id": named or "notspecified", "license_title": named or "License not specified",
            "license_url": url}  # fmt: skip


def _resources(ds: Dataset, pid: str) -> list[dict[str, Any]]:
    resources = []
    for i, d in enumerate(ds.distributions):
        fmt = format_code(d.format or d.media_type or "") or ""
        resources.append({
            "id": str(uuid.uuid5(uuid.NAMESPACE_URL, f"{ds.uri}#{d.uri or d.access_url}#{i}")), "package_id": pid,
            "name": primary(d.title) or fmt or f"Resource {i + 1}", "description": primary(d.description),
            "format": fmt, "mimetype": (d.media_type or "").rsplit("/media-types/", 1)[-1] or None,
            "url": d.download_url or d.access_url, "access_url": d.access_url, "download_url": d.download_url,
            "size": d.byte_size, "license": d.licence, "created": d.issued, "last_modified": d.modified,
            "position": i, "state": "active", "uri": d.uri,
        })  # fmt: skip
    return resources


def _package(record: dict[str, Any], cities: dict[str, City]) -> dict[str, Any]:
    """A CKAN package dict from a stored dataset (``catalog.store.get_dataset``)."""
    ds, uri, city = store.dataset_from_dict(record["dataset"]), record["uri"], cities.get(record["city_id"])
    pid, themes = package_id(uri), dataset_facets(ds)[Facet.THEME]
    tags = list(dict.fromkeys(k for ks in ds.keywords.values() for k in ks))
    extras = {"uri": uri, "identifier": ds.identifier, "issued": ds.issued, "modified": ds.modified,
              "theme": orjson.dumps(ds.themes).decode() if ds.themes else None, "language": ",".join(ds.languages),
              "hvd_category": ",".join(ds.hvd_categories),
              "publisher_name": primary(ds.publisher.name) if ds.publisher else None}  # fmt: skip
    return {
        "id": pid, "name": package_name(uri), "title": primary(ds.title), "notes": primary(ds.description),
        "title_translated": ds.title, "notes_translated": ds.description, "type": "dataset", "state": "active",
        "private": False, "isopen": is_open(ds), "url": ds.landing_page or "", "version": None, "author": None,
        "author_email": None, "maintainer": ds.contact_point.get("fn"),
        "maintainer_email": (ds.contact_point.get("email") or "").removeprefix("mailto:") or None, **_licence(ds),
        "metadata_created": _stamp(record["first_seen"]), "metadata_modified": _stamp(record["changed_at"]),
        "owner_org": record["city_id"], "organization": _organization(city) if city else None,
        "tags": [{"name": t, "display_name": t, "state": "active", "vocabulary_id": None} for t in tags],
        "num_tags": len(tags), "groups": [{"name": t, "title": t, "display_name": t} for t in themes],
        "resources": _resources(ds, pid), "num_resources": len(ds.distributions),
        "extras": [{"key": k, "value": v} for k, v in extras.items() if v],
    }  # fmt: skip


# --------------------------------------------------------------------------------------------------- actions


def package_search(call: Call) -> dict[str, Any]:
    call.only(SEARCH_KEYS)
    query = _search_query(call)
    with call.state.db.connect() as conn:
        result = search(conn, query)
        records = store.get_datasets(conn, [hit.uri for hit in result.hits])
    packages = [_package(r, call.cities) for r in records]
    fl = [f for f in re.split(r"[\s,]+", call.text("fl")) if f]
    if fl:
        packages = [{k: p.get(k) for k in fl} for p in packages]
    fields = [f for f in call.strings("facet.field") if query.facets]
    facets = {f: dict(result.facets.get(FACET_FIELDS[f], [])) for f in fields}
    search_facets = {f: {"title": f, "items": [_facet_item(f, v, n, call) for v, n in counts.items()]}
                     for f, counts in facets.items()}  # fmt: skip
    sort = call.text("sort") or "score desc, metadata_modified desc"
    return {"count": result.total, "results": packages, "facets": facets, "search_facets": search_facets, "sort": sort}


def _facet_item(field_name: str, value: str, count: int, call: Call) -> dict[str, Any]:
    city = call.cities.get(value) if FACET_FIELDS[field_name] is Facet.CITY else None
    return {"name": value, "display_name": city.name if city else value, "count": count}


def package_show(call: Call) -> dict[str, Any]:
    call.only({"id", "use_default_schema", "include_tracking", "include_plugin_data"})
    ref = call.text("id")
    if not ref:
        raise ValidationError("id", "Missing value")
    with call.state.db.connect() as conn:
        uri = find_uri(conn, ref)
        record = store.get_dataset(conn, uri) if uri else None
    if record is None or record["removed"]:
        raise NotFoundError(f"Not found: no dataset {ref!r}")
    return _package(record, call.cities)


def package_list(call: Call) -> list[str]:
    call.only({"limit", "offset"})
    limit = call.natural("limit", 0) or 1_000_000_000  # CKAN: every name unless limited
    query = SearchQuery(sort=((SortKey.NAME, False),), offset=call.natural("offset", 0), limit=limit, facets=())
    with call.state.db.connect() as conn:
        return [hit.name for hit in search(conn, query).hits]


def _counts(call: Call) -> dict[str, int]:
    with call.state.db.connect() as conn:
        found = search(conn, SearchQuery(limit=0, facets=(Facet.CITY,), facet_limit=10_000))
    return dict(found.facets[Facet.CITY])


ORG_KEYS = {"id", "sort", "limit", "offset", "organizations", "all_fields", "include_dataset_count", "type", "q"}
ORG_KEYS |= {"include_extras", "include_tags", "include_groups", "include_users", "include_followers"}


def organization_list(call: Call) -> list[Any]:
    call.only(ORG_KEYS - {"id"})
    counts = _counts(call)
    name, _, direction = (call.text("sort") or "name asc").partition(" ")
    if name not in ("name", "title", "package_count") or direction.strip() not in ("", "asc", "desc"):
        raise ValidationError("sort", f"cannot sort organizations by {call.text('sort')!r}")
    wanted = set(call.strings("organizations"))
    cities = [c for c in call.cities.values() if not wanted or c.id in wanted]
    key = {"name": lambda c: c.id, "title": lambda c: c.name, "package_count": lambda c: counts.get(c.id, 0)}[name]
    cities.sort(key=key, reverse=direction.strip() == "desc")
    offset = call.natural("offset", 0)
    chosen = cities[offset : offset + call.natural("limit", 1000)]
    if call.flag("all_fields", False):
        return [_organization(c, counts.get(c.id, 0)) for c in chosen]
    return [c.id for c in chosen]


def organization_show(call: Call) -> dict[str, Any]:
    call.only(ORG_KEYS - {"sort", "limit", "offset", "organizations", "all_fields", "q"} | {"include_datasets"})
    city = call.cities.get(call.text("id"))
    if city is None:
        raise NotFoundError(f"Not found: no organization {call.text('id')!r}")
    org = _organization(city, _counts(call).get(city.id, 0))
    if call.flag("include_datasets", False):
        query = SearchQuery(clauses=(Clause(Facet.CITY, (city.id,)),), sort=((SortKey.NAME, False),), limit=ROWS_MAX)
        with call.state.db.connect() as conn:
            hits = search(conn, query).hits
            org["packages"] = [_package(r, call.cities) for r in store.get_datasets(conn, [h.uri for h in hits])]
    return org


def status_show(call: Call) -> dict[str, Any]:
    call.only(set())
    return {"site_title": "Nordhub", "site_description": "The federated open-data catalogue of Nordic cities",
            "site_url": call.site, "ckan_version": CKAN_VERSION, "error_emails_to": None, "locale_default": "en",
            "extensions": ["nordhub"], "nordhub_version": __version__}  # fmt: skip


ACTIONS: dict[str, Callable[[Call], Any]] = {
    f.__name__: f
    for f in (package_search, package_show, package_list, organization_list, organization_show, status_show)
}


# ------------------------------------------------------------------------------------------------ the routes


async def _data(request: Request) -> dict[str, Any]:
    """The data dict as CKAN reads it: a form, else a JSON body, else the query string."""
    body = await request.body()
    media = request.headers.get("content-type", "").split(";")[0].strip().lower()
    if request.method == "POST" and media == "application/x-www-form-urlencoded" and body:
        pairs = parse_qsl(body.decode("utf-8", "replace"), keep_blank_values=True)
        if len(pairs) == 1 and pairs[0][1] in ("", "1"):  # CKAN: a form whose only key is the JSON
            body = pairs[0][0].encode()
        else:
            return _mixed(pairs)
    if request.method == "POST" and body.strip():
        try:
            data = orjson.loads(body)
        except orjson.JSONDecodeError as exc:
            raise CkanError(f"Bad request - JSON Error: {exc}") from None
        if not isinstance(data, dict):
            raise CkanError(f"Bad request - Bad request data: {data!r} is not a JSON object")
        return data
    return _mixed(request.query_params.multi_items())


def _mixed(pairs: list[tuple[str, str]]) -> dict[str, Any]:
    """One value per key, a list when a key is repeated (as CKAN); JSONP's ``callback`` dropped."""
    grouped: dict[str, list[str]] = {}
    for key, value in pairs:
        grouped.setdefault(key, []).append(value)
    return {k: v[0] if len(v) == 1 else v for k, v in grouped.items() if k != "callback"}


def _answer(site: str, action: str, payload: dict[str, Any], status: int = 200) -> Response:
    body = {"help": f"{site}/api/3/action/help_show?name={action}", **payload}
    return Response(orjson.dumps(body), status_code=status, media_type=JSON)


async def _dispatch(request: Request, state: HubState, action: str) -> Response:
    site = str(request.base_url).rstrip("/")
    try:
        if not accepts_json(request.headers.get("accept")):
            raise NotAcceptableError(f"cannot answer with any of {request.headers.get('accept')!r}: only JSON")
        handler = ACTIONS.get(action)
        if handler is None:
            raise CkanError(f"Bad request - Action name not known: {action}")
        result = await run_in_threadpool(handler, Call(state, site, await _data(request)))
    except CkanError as exc:
        return _answer(site, action, {"success": False, "error": exc.error}, exc.status)
    except NordhubError as exc:  # the hub's own errors (a database down…), in CKAN's shape here
        error = {"__type": exc.title, "message": exc.detail}
        return _answer(site, action, {"success": False, "error": error}, exc.status)
    return _answer(site, action, {"success": True, "result": result})


_ENVELOPE = {"content": {"application/json": {"schema": {"type": "object", "required": ["help", "success"]}}}}
# CKAN's own error envelope and statuses, declared over the hub's problem responses for these two routes.
CKAN_ERRORS: dict[int | str, dict[str, Any]] = {
    400: {"description": "Unknown action or unreadable body (CKAN envelope)", **_ENVELOPE},
    404: {"description": "Not Found Error (CKAN envelope)", **_ENVELOPE},
    406: {"description": "Not Acceptable (CKAN envelope)", **_ENVELOPE},
    409: {"description": "Validation Error naming the parameter (CKAN envelope)", **_ENVELOPE},
}


@router.get(
    "/api/3/action/{action}",
    summary="CKAN Action API (GET): package_search, package_show, …",
    responses=CKAN_ERRORS,
)
async def action_get(request: Request, state: State, action: str) -> Response:
    return await _dispatch(request, state, action)


@router.post("/api/3/action/{action}", summary="CKAN Action API (POST, JSON body or form)", responses=CKAN_ERRORS)
async def action_post(request: Request, state: State, action: str) -> Response:
    return await _dispatch(request, state, action)


@router.api_route("/api/action/{action}", methods=["GET", "POST"], include_in_schema=False)
async def action_unversioned(request: Request, state: State, action: str) -> Response:
    return await _dispatch(request, state, action)


@router.get("/api/3", summary="CKAN API version")
@router.get("/api", include_in_schema=False)
def api_version() -> dict[str, int]:
    return {"version": 3}
