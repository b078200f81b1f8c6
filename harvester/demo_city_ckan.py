"""A CKAN Action API of the simulated Danish member cities, shaped like Open Data DK (portal.opendata.dk).

Five organizations (``city-of-aarhus`` …) publish forty packages each: parking, traffic and bike counts, air
quality, trees, budgets… with Danish titles and notes, one to three resources (CSV, JSON, GeoJSON, XLSX) and the
licence ids real CKAN portals use. Every package is a pure function of its name, so the catalogue is the same on
every start and does not follow the clock; ``metadata_modified`` is fixed per package and spread over years, so an
incremental harvest sees a subset. ``package_search`` honours ``q``, ``fq`` (organization, tags, res_format, groups
and ``metadata_modified:[… TO …]`` joined by AND), ``rows`` (capped at 1000 like CKAN), ``start`` and ``sort``,
and answers errors with CKAN's envelope (``{"success": false, "error": {…}}``, HTTP 409 or 404).
"""

from __future__ import annotations

import hashlib
import re
import uuid
from collections import Counter
from collections.abc import Callable, Sequence
from dataclasses import dataclass
from datetime import UTC, datetime, timedelta
from typing import Any

import orjson
from starlette.requests import Request
from starlette.responses import Response
from starlette.routing import BaseRoute, Mount, Route

ACTION_PATH = "/ckan/api/3/action"
SITE = "@@SITE@@"  # replaced by the server's own ``http://host/ckan`` when a response is sent
MAX_ROWS = 1000
Package = dict[str, Any]


@dataclass(frozen=True, slots=True)
class DemoOrganization:
    """One Danish city publishing on the simulated portal."""

    city_id: str
    name: str  # the CKAN organization name
    title: str
    town: str  # as it reads in a Danish title ("Trafiktællinger i København")
    domain: str
    bbox: tuple[float, float, float, float]


DEMO_ORGANIZATIONS: tuple[DemoOrganization, ...] = (
    DemoOrganization("aarhus", "city-of-aarhus", "Aarhus Kommune", "Aarhus", "aarhus.dk", (9.98, 56.02, 10.36, 56.32)),
    DemoOrganization("copenhagen", "city-of-copenhagen", "Københavns Kommune", "København", "kk.dk",
                     (12.45, 55.61, 12.66, 55.74)),
    DemoOrganization("odense", "city-of-odense", "Odense Kommune", "Odense", "odense.dk", (10.20, 55.28, 10.58, 55.52)),
    DemoOrganization("vejle", "city-of-vejle", "Vejle Kommune", "Vejle", "vejle.dk", (9.04, 55.56, 9.90, 55.98)),
    DemoOrganization("aalborg", "city-of-aalborg", "Aalborg Kommune", "Aalborg", "aalborg.dk",
                     (9.48, 56.84, 10.42, 57.21)),
)  # fmt: skip


@dataclass(frozen=True, slots=True)
class _Topic:
    """What a city publishes about one subject."""

    stem: str
    group: str
    formats: tuple[str, ...]  # one resource per format, one to three
    tags: tuple[str, ...]
    title: str
    notes: str


# Two lines a topic: "name stem | group | formats | tags | title", then the notes; ``{by}`` is the town, ``{org}``
# the organization, and a topic with ``{year}`` is published once a year: forty packages per organization.
_TOPIC_TABLE = """
parkeringshuse | transport | JSON CSV GeoJSON | parkering,realtid,trafik | Parkeringshuse: ledige pladser i {by}
    Ledige pladser i kommunens parkeringshuse, opdateret hvert femte minut.
parkeringszoner | transport | GeoJSON CSV | parkering,takster | Parkeringszoner og takster i {by}
    Betalingszoner for parkering med takster og gyldighedstider.
trafiktaellinger | transport | CSV XLSX JSON | trafik,tællinger,biler | Trafiktællinger i {by}
    Årsdøgntrafik (ÅDT) fra kommunens faste tællestationer på de største veje.
cykeltaellinger | transport | CSV JSON | cykler,tællinger,trafik | Cykeltællinger i {by}
    Antal cyklister registreret af automatiske tællere på udvalgte cykelstier, time for time.
luftkvalitet | miljo | CSV JSON XLSX | luftkvalitet,miljø,NO2 | Luftkvalitet: målestationer i {by}
    Timemålinger af NO2, PM10 og PM2,5 fra kommunens luftkvalitetsstationer.
stoejkortlaegning | miljo | GeoJSON | støj,miljø,trafik | Støjkortlægning af vejtrafik i {by}
    Støjbelastning fra vejtrafik (Lden) fra kommunens seneste støjkortlægning.
gadetraeer | miljo | GeoJSON CSV | træer,natur,byrum | Gadetræer i {by}
    Registrerede vejtræer med art, plantningsår, stammeomkreds og placering.
parker | miljo | GeoJSON | grønne områder,natur,fritid | Parker og grønne områder i {by}
    Afgrænsning af kommunens parker, naturområder og grønne kiler.
legepladser | fritid | GeoJSON CSV | legepladser,børn,fritid | Legepladser i {by}
    Offentlige legepladser med legeredskaber, aldersgruppe og adresse.
toiletter | borgerservice | GeoJSON CSV | toiletter,byrum | Offentlige toiletter i {by}
    Placering og åbningstider for offentlige toiletter, også handicaptoiletter.
ladestandere | transport | GeoJSON JSON CSV | elbiler,ladestandere,energi | Ladestandere til elbiler i {by}
    Offentligt tilgængelige ladestandere med effekt, stiktype og operatør.
vejarbejder | transport | GeoJSON JSON | vejarbejde,trafik | Vejarbejder og gravetilladelser i {by}
    Aktuelle vejarbejder og gravetilladelser med periode og trafikale gener.
affald | miljo | CSV | affald,genbrug | Affaldsindsamling: tømningskalender i {by}
    Tømningsdage for dagrenovation, papir, plast og haveaffald pr. adresse.
genbrugsstationer | miljo | GeoJSON CSV | affald,genbrug | Genbrugsstationer i {by}
    Genbrugsstationer med åbningstider og de fraktioner, der modtages.
badevand | miljo | CSV XLSX | badevand,miljø,sundhed | Badevandskvalitet i {by}
    Prøver af badevandets kvalitet (E. coli og enterokokker) ved kommunens badestrande.
befolkning | borgerservice | CSV XLSX JSON | befolkning,statistik | Befolkningstal pr. distrikt i {by}
    Befolkningen 1. januar fordelt på distrikt, køn og alder.
skoledistrikter | borgerservice | GeoJSON | skoler,børn | Skoledistrikter i {by}
    Afgrænsning af folkeskolernes distrikter.
daginstitutioner | borgerservice | CSV GeoJSON | børn,institutioner | Daginstitutioner i {by}
    Vuggestuer, børnehaver og dagplejere med adresse og antal pladser.
busstoppesteder | transport | GeoJSON CSV | bus,kollektiv trafik | Busstoppesteder i {by}
    Stoppesteder for bybusser med navn, stander-id og linjer.
cykelstier | transport | GeoJSON | cykler,infrastruktur | Cykelstier og supercykelstier i {by}
    Cykelstinettet med stitype, belægning og supercykelstiruter.
hundeskove | fritid | GeoJSON | hunde,fritid,natur | Hundeskove i {by}
    Indhegnede hundeskove og hundelufterområder.
energiforbrug | miljo | CSV XLSX | energi,bygninger,klima | Energiforbrug i kommunale bygninger i {by}
    Måneds forbrug af el, varme og vand i skoler, plejehjem og administrationsbygninger.
byggetilladelser | borgerservice | CSV | byggeri,sager | Byggetilladelser i {by}
    Meddelte byggetilladelser med sagstype, afgørelsesdato og matrikel.
valgsteder | borgerservice | GeoJSON CSV | valg,demokrati | Valgsteder i {by}
    Afstemningssteder ved kommunal-, folketings- og EU-valg.
biblioteksbesoeg | fritid | CSV JSON | biblioteker,kultur | Biblioteksbesøg i {by}
    Antal besøgende på kommunens biblioteker pr. dag.
vintertjeneste | transport | GeoJSON JSON | vintertjeneste,veje | Vintertjeneste: saltede veje i {by}
    Ruter og tidspunkter for glatførebekæmpelse på veje og cykelstier.
fredede-bygninger | fritid | GeoJSON CSV | kulturarv,bygninger | Fredede og bevaringsværdige bygninger i {by}
    Bygninger med fredning eller høj bevaringsværdi (SAVE).
klimaregnskab | miljo | XLSX CSV | klima,CO2,energi | Klimaregnskab for {by}
    Kommunens udledning af drivhusgasser fordelt på sektorer.
budget-{year} | okonomi | XLSX CSV | budget,økonomi | Budget {year}, {org}
    Det vedtagne budget for {year} fordelt på udvalg, bevillingsområder og hovedkonti.
regnskab-{year} | okonomi | XLSX | regnskab,økonomi | Regnskab {year}, {org}
    Kommunens årsregnskab for {year} med forbrug pr. bevillingsområde.
"""


def _parse_topics(table: str) -> tuple[_Topic, ...]:
    lines = [line.strip() for line in table.strip().splitlines()]
    topics = []
    for head, notes in zip(lines[::2], lines[1::2], strict=True):
        stem, group, formats, tags, title = (part.strip() for part in head.split("|"))
        topics.append(_Topic(stem, group, tuple(formats.split()), tuple(tags.split(",")), title, notes))
    return tuple(topics)


_YEARS = (2020, 2021, 2022, 2023, 2024, 2025)
_GROUPS = {"transport": "Transport", "miljo": "Miljø og klima", "fritid": "Kultur og fritid",
           "borgerservice": "Borgerservice", "okonomi": "Økonomi"}  # fmt: skip
_LICENCES = (
    ("cc-by", "Creative Commons Attribution", "http://www.opendefinition.org/licenses/cc-by"),
    ("cc-by-4.0", "Creative Commons Attribution 4.0", "https://creativecommons.org/licenses/by/4.0/"),
    ("odc-odbl", "Open Data Commons Open Database License (ODbL)", "http://www.opendefinition.org/licenses/odc-odbl"),
    ("cc-zero", "Creative Commons CCZero", "http://www.opendefinition.org/licenses/cc-zero"),
)
_MEDIA = {"CSV": ("csv", "text/csv"), "JSON": ("json", "application/json"),
          "GeoJSON": ("geojson", "application/geo+json"),
          "XLSX": ("xlsx", "application/vnd.openxmlformats-officedocument.spreadsheetml.sheet")}  # fmt: skip
_EPOCH = datetime(2016, 1, 1, tzinfo=UTC)
_LATEST = datetime(2025, 11, 15, tzinfo=UTC)
_NAMESPACE = uuid.UUID("6c1f3f0e-2b8a-4f57-9a43-6e0a7d2b9c11")


def _unit(*parts: object) -> float:
    """A number in [0, 1) fixed by ``parts``: the same on every run and Python version."""
    digest = hashlib.sha256("/".join(map(str, parts)).encode()).digest()
    return int.from_bytes(digest[:8], "big") / 2**64


def _uid(*parts: object) -> str:
    return str(uuid.uuid5(_NAMESPACE, "/".join(map(str, parts))))


def _stamp(moment: datetime) -> str:
    """CKAN's timestamp: UTC without a zone, with microseconds."""
    return moment.astimezone(UTC).replace(tzinfo=None).isoformat(timespec="microseconds")


def _between(start: datetime, end: datetime, *key: object) -> datetime:
    return start + timedelta(microseconds=int((end - start) / timedelta(microseconds=1) * _unit(*key)))


def _topics(org: DemoOrganization) -> list[_Topic]:
    """The forty topics of one organization: yearly ones (``{year}`` in the stem) once per year."""
    topics = []
    for t in _parse_topics(_TOPIC_TABLE):
        for year in _YEARS if "{year}" in t.stem else (None,):
            text = {"by": org.town, "org": org.title, "year": year}
            topics.append(_Topic(t.stem.format(**text), t.group, t.formats, t.tags, t.title.format(**text),
                                 t.notes.format(**text)))  # fmt: skip
    return topics


def _resource(pkg_id: str, name: str, fmt: str, index: int, created: datetime, modified: datetime) -> Package:
    """One resource; a JSON one is sometimes the live datastore API rather than a file, as on Open Data DK."""
    extension, media_type = _MEDIA[fmt]
    res_id = _uid(name, "resource", index)
    api = fmt == "JSON" and _unit(name, "api") < 0.5
    url = f"{SITE}/dataset/{pkg_id}/resource/{res_id}/download/{name}.{extension}"
    return {
        "id": res_id, "package_id": pkg_id, "name": "API (datastore)" if api else f"{name}.{extension}",
        "description": f"Data som {fmt}" + (" via datastore API" if api else ""), "format": fmt,
        "mimetype": media_type if _unit(name, "mime", index) < 0.6 else None,
        "url": f"{SITE}/api/3/action/datastore_search?resource_id={res_id}" if api else url,
        "url_type": None if api else "upload",
        "size": None if api else int(2_000 + 4_000_000 * _unit(name, "size", index) ** 3),
        "created": _stamp(created), "last_modified": None if api else _stamp(modified),
        "datastore_active": fmt == "CSV" or api, "position": index, "state": "active",
    }  # fmt: skip


def _package(org: DemoOrganization, topic: _Topic) -> Package:
    name, formats, group = f"{topic.stem}-{org.city_id}", topic.formats, topic.group
    pkg_id = _uid(name)
    created = _between(_EPOCH, datetime(2022, 12, 31, tzinfo=UTC), name, "created")
    modified = _between(created, _LATEST, name, "modified")
    draw = _unit(name, "licence")
    licence = _LICENCES[0 if draw < 0.4 else 1 if draw < 0.7 else 2 if draw < 0.85 else 3]
    extras = [{"key": "language", "value": '["da"]'}]
    if "GeoJSON" in formats:
        w, s, e, n = org.bbox
        polygon = {"type": "Polygon", "coordinates": [[[w, s], [e, s], [e, n], [w, n], [w, s]]]}
        extras.append({"key": "spatial", "value": orjson.dumps(polygon).decode()})
    count = 1 + int(_unit(name, "resources") * len(formats)) if len(formats) > 1 else 1
    resources = [_resource(pkg_id, name, fmt, i, created, modified) for i, fmt in enumerate(formats[:count])]
    return {
        "id": pkg_id, "name": name, "title": topic.title, "notes": topic.notes, "type": "dataset", "state": "active",
        "private": False, "isopen": True, "version": None, "url": "", "author": None, "author_email": None,
        "maintainer": f"{org.title}, Digitalisering", "maintainer_email": f"opendata@{org.domain}",
        "license_id": licence[0], "license_title": licence[1], "license_url": licence[2],
        "metadata_created": _stamp(created), "metadata_modified": _stamp(modified),
        "owner_org": _uid(org.name), "creator_user_id": _uid(org.name, "user"),
        "organization": {
            "id": _uid(org.name), "name": org.name, "title": org.title, "type": "organization",
            "description": f"Åbne data fra {org.title}.", "image_url": "", "created": "2016-01-04T09:00:00.000000",
            "is_organization": True, "approval_status": "approved", "state": "active",
        },
        "groups": [{"id": _uid("group", group), "name": group, "title": _GROUPS[group],
                    "display_name": _GROUPS[group], "description": "", "image_display_url": ""}],
        "tags": [{"id": _uid("tag", t), "name": t, "display_name": t, "state": "active", "vocabulary_id": None}
                 for t in topic.tags],
        "extras": extras, "resources": resources, "num_resources": len(resources), "num_tags": len(topic.tags),
        "relationships_as_object": [], "relationships_as_subject": [],
        "tracking_summary": {"total": int(500 * _unit(name, "views")), "recent": int(20 * _unit(name, "recent"))},
    }  # fmt: skip


def demo_packages() -> list[Package]:
    """Every package of the simulated portal, in organization order (with ``@@SITE@@`` for the site URL)."""
    return [_package(org, topic) for org in DEMO_ORGANIZATIONS for topic in _topics(org)]


# ------------------------------------------------------------------------------------------------- the API


class _CkanError(Exception):
    """An error answered with CKAN's envelope: its HTTP status and the ``error`` object."""

    def __init__(
        self, status: int, kind: str, message: str | None = None, fields: dict[str, Any] | None = None
    ) -> None:
        super().__init__(message or kind)
        self.status = status
        self.error: dict[str, Any] = {"__type": kind, **({"message": message} if message else {}), **(fields or {})}


def _answer(request: Request, action: str, payload: dict[str, Any], status: int = 200) -> Response:
    site = f"{request.url.scheme}://{request.url.netloc}/ckan"
    body = {"help": f"{SITE}/api/3/action/help_show?name={action}", **payload}
    content = orjson.dumps(body).replace(SITE.encode(), site.encode())
    return Response(content, status_code=status, media_type="application/json;charset=utf-8")


def _natural(value: str | None, default: int, field: str) -> int:
    if value is None or value == "":
        return default
    if not value.isascii() or not value.isdigit():
        raise _CkanError(409, "Validation Error", fields={field: ["Must be a natural number"]})
    return int(value)


_FQ_TERM = re.compile(r'\+?(\w+):(?:"([^"]*)"|\[(\S+) TO (\S+)\]|(\S+))')


def _solr_time(value: str) -> datetime | None:
    if value == "*":
        return None
    try:
        moment = datetime.fromisoformat(value.replace("Z", "+00:00"))
    except ValueError as exc:
        raise _CkanError(409, "Search Query Error", f"Search Index Error: Invalid Date String:'{value}'") from exc
    return moment if moment.tzinfo else moment.replace(tzinfo=UTC)


def _fq_filter(fq: str) -> Callable[[Package], bool]:
    """CKAN's filter query, for the fields a harvester uses; anything else is a Solr error as on a real portal."""
    checks: list[Callable[[Package], bool]] = []
    for term in (t.strip() for t in re.split(r"\s+AND\s+", fq.strip()) if t.strip()):
        match = _FQ_TERM.fullmatch(term)
        if match is None or match.group(1) not in _FIELDS:
            raise _CkanError(409, "Search Query Error", f"Search Index Error: cannot parse fq term {term!r}")
        field, quoted, low, high, plain = match.groups()
        if field == "metadata_modified":
            if low is None or high is None:
                raise _CkanError(409, "Search Query Error", f"Search Index Error: expected a range in {term!r}")
            checks.append(_modified_between(_solr_time(low), _solr_time(high)))
        else:
            checks.append(_has(field, quoted if quoted is not None else plain or ""))
    return lambda pkg: all(check(pkg) for check in checks)


def _modified_between(low: datetime | None, high: datetime | None) -> Callable[[Package], bool]:
    def moment(pkg: Package) -> datetime:
        return datetime.fromisoformat(pkg["metadata_modified"]).replace(tzinfo=UTC)

    return lambda pkg: (low is None or moment(pkg) >= low) and (high is None or moment(pkg) <= high)


_FIELDS: dict[str, Callable[[Package], list[str]]] = {
    "organization": lambda pkg: [pkg["organization"]["name"]],
    "tags": lambda pkg: [t["name"] for t in pkg["tags"]],
    "groups": lambda pkg: [g["name"] for g in pkg["groups"]],
    "res_format": lambda pkg: [r["format"] for r in pkg["resources"]],
    "metadata_modified": lambda pkg: [pkg["metadata_modified"]],
}


def _has(field: str, value: str) -> Callable[[Package], bool]:
    return lambda pkg: value in _FIELDS[field](pkg)


_SORTABLE = ("metadata_modified", "metadata_created", "name", "title_string")


def _sorted(packages: list[Package], sort: str) -> list[Package]:
    """Apply ``sort`` ("field dir, field dir"); relevance ("score") keeps the catalogue order, as with no ``q``."""
    keys = [part.split() for part in sort.split(",") if part.strip()]
    for field_dir in reversed(keys):
        field, direction = field_dir[0], (field_dir[1] if len(field_dir) > 1 else "asc")
        if field == "score":
            continue
        if field not in _SORTABLE or direction not in ("asc", "desc"):
            raise _CkanError(409, "Search Query Error", f"Search Index Error: can not sort on {field!r}")
        attribute = "title" if field == "title_string" else field
        packages = sorted(packages, key=lambda pkg: str(pkg[attribute]), reverse=direction == "desc")
    return packages


def _matches_q(q: str) -> Callable[[Package], bool]:
    words = [w.lower() for w in q.split() if w not in ("*:*", "*")]
    return lambda pkg: all(w in f"{pkg['title']} {pkg['notes']}".lower() for w in words)


def _organizations(packages: list[Package], all_fields: bool) -> list[Any]:
    """``organization_list``: names, or (``all_fields``) dicts with their package counts."""
    if not all_fields:
        return sorted(org.name for org in DEMO_ORGANIZATIONS)
    counts = Counter(p["organization"]["name"] for p in packages)
    orgs = sorted(DEMO_ORGANIZATIONS, key=lambda org: org.name)
    return [{"name": o.name, "title": o.title, "id": _uid(o.name), "package_count": counts[o.name]} for o in orgs]


def routes(systems: Sequence[object], clock: Callable[[], float]) -> BaseRoute:
    """The CKAN Action API mount (``/ckan/api/3/action/…``); ``systems`` and ``clock`` are not needed."""
    packages = demo_packages()
    by_key = {pkg["id"]: pkg for pkg in packages} | {pkg["name"]: pkg for pkg in packages}

    async def package_search(request: Request) -> Response:
        params = request.query_params
        try:
            rows = min(_natural(params.get("rows"), 10, "rows"), MAX_ROWS)
            start = _natural(params.get("start"), 0, "start")
            wanted, matches = _fq_filter(params.get("fq", "")), _matches_q(params.get("q", ""))
            found = [pkg for pkg in packages if wanted(pkg) and matches(pkg)]
            found = _sorted(found, params.get("sort", "score desc, metadata_modified desc"))
        except _CkanError as exc:
            return _answer(request, "package_search", {"success": False, "error": exc.error}, exc.status)
        result = {"count": len(found), "sort": params.get("sort", "score desc, metadata_modified desc"),
                  "facets": {}, "search_facets": {}, "results": found[start : start + rows]}  # fmt: skip
        return _answer(request, "package_search", {"success": True, "result": result})

    async def package_show(request: Request) -> Response:
        key = request.query_params.get("id", "")
        if not key:
            error = {"__type": "Validation Error", "id": ["Missing value"]}
            return _answer(request, "package_show", {"success": False, "error": error}, 409)
        if key not in by_key:
            error = {"__type": "Not Found Error", "message": "Not found"}
            return _answer(request, "package_show", {"success": False, "error": error}, 404)
        return _answer(request, "package_show", {"success": True, "result": by_key[key]})

    async def organization_list(request: Request) -> Response:
        all_fields = request.query_params.get("all_fields", "").lower() in ("true", "1")
        return _answer(request, "organization_list", {"success": True, "result": _organizations(packages, all_fields)})

    actions = (package_search, package_show, organization_list)
    return Mount(ACTION_PATH, routes=[Route(f"/{action.__name__}", action) for action in actions])


def sources(systems: Sequence[object], base_url: str) -> list[tuple[str, dict[str, object]]]:
    """One ``ckan`` source per Danish city, filtered to its organization on the simulated portal."""
    url = f"{base_url.rstrip('/')}{ACTION_PATH}/"
    return [
        (org.city_id, {"id": f"{org.city_id}-ckan-demo", "kind": "ckan", "url": url, "schedule": "every 1h",
                       "title": f"Open Data DK: {org.title} (demo)", "options": {"organization": org.name}})
        for org in DEMO_ORGANIZATIONS
    ]  # fmt: skip
