"""CKAN package → ``catalog.model.Dataset``: pure functions, tested on real Action API payloads.

The mapping follows ckanext-dcat, so a dataset harvested through a portal's Action API and through the same
portal's DCAT feed gets the same URI: the package's ``uri`` field or ``uri`` extra, else
``{site}/dataset/{id}`` (the package id, which survives renames; the name only when there is no id). Plain CKAN
fields are read first from the top level (ckanext-scheming / ckanext-dcat schemas) and then from ``extras``
(ckanext-dcat's legacy keys: ``issued``, ``spatial_uri``, ``temporal_start``, ``contact_email``, …).

Dates are the publisher's (``issued``/``modified``, else CKAN's ``metadata_created``/``metadata_modified``),
never the harvest time. Licences are kept as published (``license_id``, else ``license_url``): normalising them
is the catalogue's job.
"""

from __future__ import annotations

import hashlib
import re
from typing import Any
from urllib.parse import urlsplit

import orjson

from catalog.model import Agent, Dataset, Distribution, LangMap
from catalog.tables import MAX_URI_LENGTH
from harvester.sources.base import Record
from schemas.findings import Finding, Severity

TRANSFORM_VERSION = "ckan/1"  # part of the content hash: a changed mapping re-imports every package once
# Keys whose values change without the publisher changing anything (page views, search scores, index stamps).
VOLATILE_KEYS = frozenset({"tracking_summary", "num_followers", "score", "_version_", "index_id", "indexed_ts"})
FILE_EXTENSIONS = frozenset(
    {"csv", "tsv", "json", "geojson", "xlsx", "xls", "ods", "xml", "zip", "pdf", "txt", "shp", "gpkg", "kml"}
    | {"gml", "parquet", "rdf", "ttl", "jsonld", "gz", "docx"}
)
_API_SUFFIX = re.compile(r"/api(?:/\d+)?(?:/action(?:/[a-z_]+)?)?/*$")
_LANG_TAG = re.compile(r"[a-zA-Z]{2,3}(?:-[a-zA-Z0-9]{2,8})*")
# EU Publications Office language authority codes of the languages a Nordic hub meets.
_EU_LANGUAGES = {
    "DAN": "da", "NOR": "no", "NOB": "nb", "NNO": "nn", "SWE": "sv", "FIN": "fi", "ISL": "is", "ENG": "en",
    "DEU": "de", "FRA": "fr", "SME": "se",
}  # fmt: skip


def site_root(portal_url: str) -> str:
    """The portal's site root: the Action API base (``…/api/3/action/``) without its API path."""
    return _API_SUFFIX.sub("", portal_url.strip()).rstrip("/")


def content_hash(pkg: dict[str, Any]) -> str:
    """sha256 of the package's canonical JSON (sorted keys), volatile keys left out, with the mapping version."""
    canonical = orjson.dumps(_without_volatile(pkg), option=orjson.OPT_SORT_KEYS)
    return "sha256:" + hashlib.sha256(TRANSFORM_VERSION.encode() + b"\n" + canonical).hexdigest()


def _without_volatile(value: Any) -> Any:
    if isinstance(value, dict):
        return {k: _without_volatile(v) for k, v in value.items() if k not in VOLATILE_KEYS}
    if isinstance(value, list):
        return [_without_volatile(v) for v in value]
    return value


def _text(value: Any) -> str | None:
    """A non-empty stripped string, or None (CKAN writes absent values as null, "" and, in extras, "None")."""
    if isinstance(value, bool) or value is None:
        return None
    text = str(value).strip() if isinstance(value, str | int | float) else ""
    return text if text and text != "None" else None


def _is_uri(value: str | None) -> bool:
    return value is not None and value.startswith(("http://", "https://")) and " " not in value


def extras_of(pkg: dict[str, Any]) -> dict[str, Any]:
    """A package's ``extras`` (a list of ``{key, value}``) as a dict; malformed entries are skipped."""
    raw = pkg.get("extras")
    if isinstance(raw, dict):
        return dict(raw)
    items = raw if isinstance(raw, list) else []
    return {str(e["key"]): e.get("value") for e in items if isinstance(e, dict) and _text(e.get("key"))}


def _field(pkg: dict[str, Any], extras: dict[str, Any], key: str) -> Any:
    """A top-level (scheming) field, else the extra of the same key."""
    value = pkg.get(key)
    return value if value not in (None, "", []) else extras.get(key)


def _as_list(value: Any) -> list[str]:
    """A list of strings from a list, a JSON-encoded list (ckanext-dcat extras) or a single value."""
    if isinstance(value, str) and value.strip().startswith("["):
        value = _json_or_text(value)
    items = value if isinstance(value, list) else [value]
    return [t for t in (_text(v) for v in items) if t is not None]


def _json_or_text(text: str) -> Any:
    try:
        return orjson.loads(text)
    except orjson.JSONDecodeError:
        return text  # a single value that merely starts with "["


def _language(value: str) -> str | None:
    """A BCP 47 tag from a tag or an EU language authority URI, or None."""
    if _is_uri(value):
        return _EU_LANGUAGES.get(value.rstrip("/").rsplit("/", 1)[-1].upper())
    return value.lower() if _LANG_TAG.fullmatch(value) else None


def _lang_map(text: Any, lang: str) -> LangMap:
    value = _text(text)
    return {lang: value} if value else {}


def dataset_from_ckan(pkg: Any, *, portal_url: str, pointer: str = "") -> Record:
    """One CKAN package (``package_show`` result or ``package_search`` item) as a Record carrying a Dataset.

    A package without an id (and name) or a title is returned with an error finding and no dataset, named by its
    URI when it has one (so the run does not take it for a package gone upstream), else by ``pointer``.
    """
    if not isinstance(pkg, dict):
        finding = Finding("ckan.not-an-object", Severity.ERROR, pointer, "package is not a JSON object")
        return Record(record_id=pointer or "(package)", entity=None, findings=[finding])
    findings: list[Finding] = []
    package_id, name, title = _text(pkg.get("id")), _text(pkg.get("name")), _text(pkg.get("title"))
    if not (package_id or name):
        findings.append(Finding("ckan.missing-id", Severity.ERROR, f"{pointer}/id", "package has no id or name"))
    if not title:
        findings.append(Finding("ckan.missing-title", Severity.ERROR, f"{pointer}/title", "package has no title"))
    extras = extras_of(pkg)
    site = site_root(portal_url)
    uri = _dataset_uri(pkg, extras, site, package_id or name or "", pointer, findings)
    if len(uri) > MAX_URI_LENGTH:
        message = f"dataset URI is longer than {MAX_URI_LENGTH} characters"
        findings.append(Finding("ckan.uri-too-long", Severity.ERROR, f"{pointer}/uri", message))
    if any(f.severity is Severity.ERROR for f in findings):
        # Named by its URI when it has one, so that a quarantined package does not count as gone upstream.
        identified = (package_id or name or _text(pkg.get("uri")) or _text(extras.get("uri"))) and len(
            uri
        ) <= MAX_URI_LENGTH
        return Record(record_id=uri if identified else pointer or "(package)", entity=None, findings=findings)
    dataset = _dataset(pkg, extras, uri=uri, site=site, pointer=pointer, findings=findings)
    return Record(record_id=uri, entity=None, findings=findings, dataset=dataset)


def _dataset_uri(
    pkg: dict[str, Any], extras: dict[str, Any], site: str, local_id: str, pointer: str, findings: list[Finding]
) -> str:
    published = _text(pkg.get("uri")) or _text(extras.get("uri"))
    if published and _is_uri(published):
        return published
    if published:
        message = f"the package's uri {published!r} is not an absolute http(s) URI: the portal URI is used"
        findings.append(Finding("ckan.uri-not-absolute", Severity.WARNING, f"{pointer}/uri", message))
    return f"{site}/dataset/{local_id}"


def _dataset(
    pkg: dict[str, Any], extras: dict[str, Any], *, uri: str, site: str, pointer: str, findings: list[Finding]
) -> Dataset:
    languages = [t for t in (_language(v) for v in _as_list(_field(pkg, extras, "language"))) if t]
    lang = languages[0] if languages else ""
    package_id = _text(pkg.get("id"))
    themes, theme_labels = _themes(pkg, extras)
    tags = [t for t in (_text(tag.get("name")) for tag in _dicts(pkg.get("tags"))) if t]
    resources = _dicts(pkg.get("resources"))
    distributions = [
        d
        for i, res in enumerate(resources)
        if (d := _distribution(res, site, package_id, lang, f"{pointer}/resources/{i}", findings)) is not None
    ]
    return Dataset(
        uri=uri,
        title=_lang_map(pkg.get("title"), lang),
        description=_lang_map(pkg.get("notes"), lang),
        identifier=_text(_field(pkg, extras, "identifier")) or _text(extras.get("guid")) or package_id,
        keywords={lang: list(dict.fromkeys(tags))} if tags else {},
        themes=themes,
        publisher=_publisher(pkg, extras, lang),
        contact_point=_contact(pkg, extras),
        licence=_text(pkg.get("license_id")) or _text(pkg.get("license_url")),
        access_rights=_text(_field(pkg, extras, "access_rights")),
        issued=_text(_field(pkg, extras, "issued")) or _text(pkg.get("metadata_created")),
        modified=_text(_field(pkg, extras, "modified")) or _text(pkg.get("metadata_modified")),
        landing_page=url if _is_uri(url := _text(pkg.get("url"))) else None,
        languages=languages,
        spatial=_spatial(pkg, extras),
        temporal=_temporal(pkg, extras),
        conforms_to=_as_list(_field(pkg, extras, "conforms_to")),
        applicable_legislation=_as_list(_field(pkg, extras, "applicable_legislation")),
        hvd_categories=_as_list(_field(pkg, extras, "hvd_category")),
        distributions=distributions,
        extra=_extra(pkg, extras, theme_labels),
        content_hash=content_hash(pkg),
    )


def _dicts(value: Any) -> list[dict[str, Any]]:
    return [v for v in value if isinstance(v, dict)] if isinstance(value, list) else []


def _themes(pkg: dict[str, Any], extras: dict[str, Any]) -> tuple[list[str], list[str]]:
    """Theme URIs (``theme`` field or extra, and groups named by URI) and the labels of the other groups."""
    values = _as_list(_field(pkg, extras, "theme"))
    for group in _dicts(pkg.get("groups")):
        values.append(_text(group.get("uri")) or _text(group.get("name")) or "")
    uris = [v for v in values if _is_uri(v)]
    labels = [v for v in values if v and not _is_uri(v)]
    return list(dict.fromkeys(uris)), list(dict.fromkeys(labels))


def _publisher(pkg: dict[str, Any], extras: dict[str, Any], lang: str) -> Agent | None:
    """The explicit DCAT publisher (scheming list or ``publisher_*`` extras), else the owning organization."""
    listed = _dicts(pkg.get("publisher"))
    first = listed[0] if listed else {}
    name = _text(first.get("name")) or _text(extras.get("publisher_name"))
    uri = next(
        (u for u in (_text(first.get("identifier")), _text(first.get("uri")), _text(extras.get("publisher_uri")))
         if _is_uri(u)),
        _text(first.get("url")) or _text(extras.get("publisher_url")),
    )  # fmt: skip
    kind = _text(first.get("type")) or _text(extras.get("publisher_type"))
    if name is None:
        org = pkg.get("organization") if isinstance(pkg.get("organization"), dict) else {}
        assert isinstance(org, dict)
        name = _text(org.get("title")) or _text(org.get("name"))
        uri = _text(org.get("uri")) or _text(org.get("url"))
        kind = None
    if name is None:
        return None
    return Agent(name={lang: name}, uri=uri if _is_uri(uri) else None, type=kind if _is_uri(kind) else None)


def _contact(pkg: dict[str, Any], extras: dict[str, Any]) -> dict[str, str]:
    """fn/email/url of the first contact: scheming ``contact``, ``contact_*`` extras, maintainer, then author."""
    listed = _dicts(pkg.get("contact"))
    first = listed[0] if listed else {}
    candidates = (
        (first.get("name"), first.get("email"), first.get("url") or first.get("identifier")),
        (extras.get("contact_name"), extras.get("contact_email"), extras.get("contact_uri")),
        (pkg.get("maintainer"), pkg.get("maintainer_email"), None),
        (pkg.get("author"), pkg.get("author_email"), None),
    )
    for fn, email, url in candidates:
        found = {"fn": _text(fn), "email": _text(email), "url": _text(url)}
        if any(found.values()):
            return {k: v for k, v in found.items() if v is not None}
    return {}


def _spatial(pkg: dict[str, Any], extras: dict[str, Any]) -> list[str]:
    uris = _as_list(extras.get("spatial_uri"))
    uris += [u for u in (_text(c.get("uri")) for c in _dicts(pkg.get("spatial_coverage"))) if u]
    return list(dict.fromkeys(uris))


def _temporal(pkg: dict[str, Any], extras: dict[str, Any]) -> tuple[str | None, str | None] | None:
    coverage = _dicts(pkg.get("temporal_coverage"))
    first = coverage[0] if coverage else {}
    start = _text(first.get("start")) or _text(extras.get("temporal_start"))
    end = _text(first.get("end")) or _text(extras.get("temporal_end"))
    return (start, end) if start or end else None


# Extras consumed by the mapping above; every other extra is kept in ``Dataset.extra["extras"]``.
_MAPPED_EXTRAS = frozenset(
    {"uri", "guid", "identifier", "issued", "modified", "language", "theme", "access_rights", "conforms_to"}
    | {"applicable_legislation", "hvd_category", "spatial_uri", "temporal_start", "temporal_end"}
    | {"contact_name", "contact_email", "contact_uri", "publisher_name", "publisher_uri", "publisher_url"}
    | {"publisher_type"}
)


def _extra(pkg: dict[str, Any], extras: dict[str, Any], theme_labels: list[str]) -> dict[str, Any]:
    """What else is worth keeping: CKAN's own ids, licence details, group labels, geometry, unmapped extras."""
    org = pkg.get("organization") if isinstance(pkg.get("organization"), dict) else {}
    assert isinstance(org, dict)
    geometries = [extras["spatial"]] if _text(extras.get("spatial")) else []
    geometries += [orjson.dumps(c["geom"]).decode() for c in _dicts(pkg.get("spatial_coverage")) if c.get("geom")]
    candidates: dict[str, Any] = {
        "ckan_id": _text(pkg.get("id")),
        "ckan_name": _text(pkg.get("name")),
        "organization": _text(org.get("name")),
        "license_url": _text(pkg.get("license_url")),
        "license_title": _text(pkg.get("license_title")),
        "groups": theme_labels,
        "frequency": _text(_field(pkg, extras, "frequency")),
        "version": _text(pkg.get("version")),
        "spatial_geometry": geometries,
        "spatial_text": _text(extras.get("spatial_text")),
        "extras": {k: v for k, v in extras.items() if k not in _MAPPED_EXTRAS and k != "spatial"},
    }
    return {k: v for k, v in candidates.items() if v not in (None, [], {})}


def _looks_like_file(res: dict[str, Any], url: str) -> bool:
    if res.get("url_type") == "upload" or "/download/" in url:
        return True
    last = urlsplit(url).path.rsplit("/", 1)[-1]
    return "." in last and last.rsplit(".", 1)[-1].lower() in FILE_EXTENSIONS


def _distribution(
    res: dict[str, Any], site: str, package_id: str | None, lang: str, pointer: str, findings: list[Finding]
) -> Distribution | None:
    """One resource as a Distribution; a resource without a URL is skipped with a warning (accessURL is required)."""
    if res.get("state") == "deleted":
        return None
    access = _text(res.get("access_url")) or _text(res.get("url"))
    if access is None:
        findings.append(Finding("ckan.resource-without-url", Severity.WARNING, f"{pointer}/url", "resource has no URL"))
        return None
    download = _text(res.get("download_url")) or (access if _looks_like_file(res, access) else None)
    res_id = _text(res.get("id"))
    size = res.get("size")
    uri = _text(res.get("uri"))
    return Distribution(
        access_url=access,
        uri=uri
        if _is_uri(uri)
        else (f"{site}/dataset/{package_id}/resource/{res_id}" if package_id and res_id else None),
        download_url=download,
        title=_lang_map(res.get("name"), lang),
        description=_lang_map(res.get("description"), lang),
        format=_text(res.get("format")),
        media_type=_text(res.get("mimetype")),
        licence=_text(res.get("license")),
        rights=_text(res.get("rights")),
        byte_size=int(size) if isinstance(size, int) and not isinstance(size, bool) else _int_text(size),
        issued=_text(res.get("issued")) or _text(res.get("created")),
        modified=_text(res.get("modified")) or _text(res.get("last_modified")),
    )


def _int_text(value: Any) -> int | None:
    text = _text(value)
    return int(text) if text is not None and text.isascii() and text.isdigit() else None
