"""The dataset domain's records as the harvester hands them over: plain dataclasses, no I/O.

A harvested dataset keeps the URI its publisher gave it; the hub never mints a second URI for it. Free text is a
language map (``{"da": "...", "en": "..."}``; ``""`` for an untagged literal).
"""

from __future__ import annotations

from dataclasses import dataclass, field
from typing import Any

LangMap = dict[str, str]


@dataclass(slots=True)
class Agent:
    """A publisher or creator (foaf:Agent)."""

    name: LangMap
    uri: str | None = None
    type: str | None = None  # an ADMS publisher-type URI when known


@dataclass(slots=True)
class Distribution:
    """A dcat:Distribution. ``access_url`` is mandatory in DCAT-AP."""

    access_url: str
    uri: str | None = None
    download_url: str | None = None
    title: LangMap = field(default_factory=dict)
    description: LangMap = field(default_factory=dict)
    format: str | None = None  # as published (literal or URI); normalised by the catalogue
    media_type: str | None = None
    licence: str | None = None
    rights: str | None = None
    byte_size: int | None = None
    issued: str | None = None  # ISO 8601 as published
    modified: str | None = None


@dataclass(slots=True)
class Dataset:
    """A dcat:Dataset with its distributions, as the publisher describes it."""

    uri: str
    title: LangMap
    description: LangMap = field(default_factory=dict)
    identifier: str | None = None
    keywords: dict[str, list[str]] = field(default_factory=dict)  # language → keywords
    themes: list[str] = field(default_factory=list)
    publisher: Agent | None = None
    contact_point: dict[str, str] = field(default_factory=dict)  # fn, email, url
    licence: str | None = None
    access_rights: str | None = None
    issued: str | None = None  # the publisher's own dates, never the harvest time
    modified: str | None = None
    landing_page: str | None = None
    languages: list[str] = field(default_factory=list)
    spatial: list[str] = field(default_factory=list)
    temporal: tuple[str | None, str | None] | None = None
    conforms_to: list[str] = field(default_factory=list)
    applicable_legislation: list[str] = field(default_factory=list)  # HVD: ELI of Regulation (EU) 2023/138
    hvd_categories: list[str] = field(default_factory=list)
    distributions: list[Distribution] = field(default_factory=list)
    extra: dict[str, Any] = field(default_factory=dict)  # anything else worth keeping, JSON-serialisable
    content_hash: str | None = None  # canonical hash of the source record (graph or package), for "unchanged"
