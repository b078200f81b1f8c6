"""Tables of the catalogue's search index. Only ``catalog.search`` issues SQL on them.

One ``catalog_search`` row per published (not removed) dataset: its URI, city, the CKAN name and id the hub answers
to, its title, keywords and description folded for search (``catalog.search.fold``), and the single-valued filter
columns. The many-valued ones (theme, format, licence, keyword) are rows of ``catalog_search_facets``, the filters'
index; theme, format and licence are also packed in one ``facet_codes`` JSON array, which counting reads: a result set's
facets are then a GROUP BY over rows already read, not one index lookup per match.

The full-text index itself is kept by the database, from the folded columns, by triggers the migration creates:

- SQLite: an FTS5 table ``fts_catalog_search`` with ``catalog_search`` as its external content (no second copy of
  the text); its bm25 weights (title 10, keywords 4, description 1) are stored in the FTS5 ``rank`` setting.
- PostgreSQL: ``search_vector``, a ``tsvector`` under the ``simple`` configuration with the same three parts as
  weights A, B and C, and a GIN index. On SQLite this column stays empty.

Both databases see the same pre-folded, space-separated words, so they find the same datasets.
"""

from __future__ import annotations

import hashlib
import re
import unicodedata
import uuid
from collections.abc import Iterable
from datetime import UTC, datetime
from enum import StrEnum
from urllib.parse import urlsplit

from sqlalchemy import Boolean, Column, ForeignKey, Index, Integer, PrimaryKeyConstraint, String, Table, Text
from sqlalchemy.dialects.postgresql import TSVECTOR
from sqlalchemy.types import TypeEngine

from catalog.model import Dataset
from catalog.tables import MAX_URI_LENGTH
from hub.db import UTCDateTime, metadata
from schemas.dcat_normalise import FORMAT_ALIASES, IANA_IRI, MEDIA_FORMAT
from schemas.licences import canonical_licence, licence_key

FTS_TABLE = "fts_catalog_search"  # SQLite only; a virtual table no MetaData can describe (nor its shadow tables)
MAX_FACET_VALUE = 512  # longer values (a theme or licence URI) are cut: they are filter keys, not text
HVD_LEGISLATION = "http://data.europa.eu/eli/reg_impl/2023/138/oj"
DATA_THEMES = frozenset(("AGRI", "ECON", "EDUC", "ENER", "ENVI", "GOVE", "HEAL", "INTR", "JUST", "OP_DATPRO"))
DATA_THEMES |= {"REGI", "SOCI", "TECH", "TRAN"}
_EU_CODE = re.compile(r"^https?://publications\.europa\.eu/resource/authority/(data-theme|file-type)/([^/\s]+)/?$")
_LETTERS = str.maketrans({"ø": "o", "æ": "ae", "å": "a", "ð": "d", "þ": "th", "ß": "ss", "đ": "d", "ł": "l"})
_WORD = re.compile(r"[^\W_]+")
LANGUAGES = ("", "da", "nb", "no", "nn", "sv", "fi", "is", "en")  # which text shows when there is room for one


class Facet(StrEnum):
    """What results can be filtered and counted by; theme, format, licence and keyword are many-valued."""

    CITY = "city"
    COUNTRY = "country"
    THEME = "theme"
    FORMAT = "format"
    LICENCE = "licence"
    QUALITY = "quality"
    KEYWORD = "keyword"


MANY_VALUED = (Facet.THEME, Facet.FORMAT, Facet.LICENCE, Facet.KEYWORD)
DEFAULT_FACETS = (Facet.CITY, Facet.COUNTRY, Facet.THEME, Facet.FORMAT, Facet.LICENCE, Facet.QUALITY)


def _bytewise(length: int) -> TypeEngine[str]:
    """Text sorted by code point on both databases (PostgreSQL's locale collations ignore spaces and hyphens)."""
    return String(length).with_variant(String(length, collation="C"), "postgresql")


documents = Table(
    "catalog_search",
    metadata,
    Column("id", Integer, primary_key=True, autoincrement=True),  # the FTS5 rowid
    Column("uri", String(MAX_URI_LENGTH), nullable=False),
    Column("city_id", String(64), nullable=False),
    Column("name", _bytewise(100), nullable=False),  # the CKAN package name: a slug of the URI
    Column("package_id", String(36), nullable=False),  # the CKAN package id: a UUID 5 of the URI
    Column("title_folded", Text, nullable=False),
    Column("keywords_folded", Text, nullable=False),
    Column("text_folded", Text, nullable=False),
    Column("title_sort", _bytewise(200), nullable=False),
    Column("search_vector", Text().with_variant(TSVECTOR(), "postgresql"), nullable=True),
    Column("facet_codes", Text, nullable=False),  # ["theme:TRAN", "format:CSV", "licence:CC-BY-4.0"] as JSON
    Column("modified", String(20), nullable=True),  # the publisher's dct:modified in UTC, YYYY-MM-DDTHH:MM:SSZ
    Column("first_seen", UTCDateTime, nullable=False),  # CKAN's metadata_created
    Column("changed_at", UTCDateTime, nullable=False),  # CKAN's metadata_modified: when the hub last rewrote it
    Column("open", Boolean, nullable=False),
    Column("hvd", Boolean, nullable=False),
    Column("quality_band", String(16), nullable=True),  # MQA band, set by ``catalog.search.set_quality``
    Column("quality_score", Integer, nullable=True),
    Index("ix_catalog_search_uri", "uri", unique=True),
    Index("ix_catalog_search_name", "name", unique=True),
    Index("ix_catalog_search_package_id", "package_id", unique=True),
    Index("ix_catalog_search_city_id", "city_id"),
    Index("ix_catalog_search_modified", "modified"),
    Index("ix_catalog_search_changed_at", "changed_at"),
    Index("ix_catalog_search_search_vector", "search_vector", postgresql_using="gin"),
)

# (document, facet, value): facet is one of the MANY_VALUED facets.
facets = Table(
    "catalog_search_facets",
    metadata,
    Column("doc_id", Integer, ForeignKey("catalog_search.id", ondelete="CASCADE"), nullable=False),
    Column("facet", String(16), nullable=False),
    Column("value", String(MAX_FACET_VALUE), nullable=False),
    PrimaryKeyConstraint("doc_id", "facet", "value"),
    Index("ix_catalog_search_facets_facet_value", "facet", "value", "doc_id"),
    sqlite_with_rowid=False,  # clustered by document: counting a result set's facets reads neighbouring rows
)


# ------------------------------------------------------------------------- what goes in the columns: text and codes


def fold(text: str) -> str:
    """Case- and accent-folded: NFKD, combining marks dropped, casefolded, ø→o æ→ae å→a ð→d þ→th ß→ss."""
    if text.isascii():
        return text.lower()
    decomposed = unicodedata.normalize("NFKD", text.casefold())
    return "".join(c for c in decomposed if not unicodedata.combining(c)).translate(_LETTERS)


def words(text: str) -> list[str]:
    """The folded words of ``text``, as both databases index them."""
    return _WORD.findall(fold(text))


def folded(texts: Iterable[str]) -> str:
    """The folded words of every text, space-separated: a folded column."""
    return " ".join(word for text in texts for word in words(text))


def primary(texts: dict[str, str]) -> str:
    """The one text to show or sort by: the publisher's own (Nordic or untagged) language, then English, then any."""
    for language in (*LANGUAGES, *sorted(texts)):
        if texts.get(language):
            return texts[language]
    return ""


def theme_code(theme: str) -> str:
    """``TRAN`` for an EU data-theme IRI or code; any other theme is kept as given."""
    text = theme.strip()
    match = _EU_CODE.match(text)
    if match and match[1] == "data-theme":
        return match[2].upper()
    return text.upper() if text.upper() in DATA_THEMES else text[:MAX_FACET_VALUE]


def format_code(value: str) -> str | None:
    """An EU file-type code (``CSV``, ``GEOJSON``) for a format or media type, as IRI, literal or extension."""
    text = value.strip()
    match = _EU_CODE.match(text)
    if match and match[1] == "file-type":
        return match[2].upper()
    if iana := IANA_IRI.match(text):
        text = iana["media"]
    elif "://" in text:
        text = text.rstrip("/").rsplit("/", 1)[-1]
    key = " ".join(text.lower().lstrip(".").split())
    if "/" in key:
        media = key.split(";", 1)[0].strip()
        return MEDIA_FORMAT.get(media, media[:MAX_FACET_VALUE])
    code = FORMAT_ALIASES.get(key) or re.sub(r"[^0-9a-z]+", "_", key).strip("_").upper()
    return code[:64] or None


def licence_code(text: str) -> tuple[str, bool]:
    """The SPDX id of a known (open) licence and True; an unknown one's compared spelling and False."""
    licence = canonical_licence(text)
    return (licence.spdx, True) if licence else (licence_key(text)[:MAX_FACET_VALUE], False)


def keyword_key(keyword: str) -> str:
    return " ".join(unicodedata.normalize("NFC", keyword).casefold().split())[:MAX_FACET_VALUE]


def package_name(uri: str) -> str:
    """The CKAN name of a dataset: a slug of its URI's host and path, made unique by a hash of the URI."""
    parts = urlsplit(uri)
    base = fold(f"{parts.netloc.removeprefix('www.')} {parts.path} {parts.query}")
    slug = re.sub(r"[^a-z0-9]+", "-", base).strip("-")[:80].strip("-")
    digest = hashlib.sha256(uri.encode()).hexdigest()[:8]
    return f"{slug}-{digest}" if slug else digest


def package_id(uri: str) -> str:
    """The CKAN id of a dataset: the UUID 5 of its URI, stable across harvests."""
    return str(uuid.uuid5(uuid.NAMESPACE_URL, uri))


def utc_stamp(value: str | None) -> str | None:
    """An ISO 8601 date or date-time (``2024``, ``2024-05``, ``2024-05-01``, zoned or not) as UTC ``…Z``."""
    text = (value or "").strip()
    if re.fullmatch(r"\d{4}(-\d{2})?", text):
        text = (text + "-01-01")[:10]
    try:
        moment = datetime.fromisoformat(text)
    except ValueError:
        return None
    return (moment if moment.tzinfo else moment.replace(tzinfo=UTC)).astimezone(UTC).strftime("%Y-%m-%dT%H:%M:%SZ")


def licences_named(ds: Dataset) -> list[str]:
    """Every licence the dataset and its distributions name, as written."""
    return [text for text in (ds.licence, *(d.licence for d in ds.distributions)) if text and text.strip()]


def is_open(ds: Dataset) -> bool:
    """True when the dataset names a licence and every licence it names is a known open one."""
    named = licences_named(ds)
    return bool(named) and all(licence_code(text)[1] for text in named)


def is_hvd(ds: Dataset) -> bool:
    return HVD_LEGISLATION in ds.applicable_legislation or bool(ds.hvd_categories)


def normalise(facet: Facet, value: str) -> str:
    """A filter value as the index stores it (``cc-by`` → ``CC-BY-4.0``, ``GeoJSON`` → ``GEOJSON``)."""
    if facet is Facet.THEME:
        return theme_code(value)
    if facet is Facet.FORMAT:
        return format_code(value) or ""
    if facet is Facet.LICENCE:
        return licence_code(value)[0]
    if facet is Facet.KEYWORD:
        return keyword_key(value)
    return value.strip().upper() if facet is Facet.COUNTRY else value.strip().lower()


def dataset_facets(ds: Dataset) -> dict[Facet, list[str]]:
    """The many-valued facet values of one dataset, in first-seen order."""
    formats = (format_code(d.format or d.media_type or "") for d in ds.distributions)
    licences = (licence_code(text)[0] for text in licences_named(ds))
    return {
        Facet.THEME: list(dict.fromkeys(theme_code(t) for t in ds.themes if t.strip())),
        Facet.FORMAT: list(dict.fromkeys(f for f in formats if f)),
        Facet.LICENCE: list(dict.fromkeys(licences)),
        Facet.KEYWORD: list(dict.fromkeys(k for ks in ds.keywords.values() for k in map(keyword_key, ks) if k)),
    }
