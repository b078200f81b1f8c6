"""Duplicate candidates: datasets under different URIs that look like one dataset. Flagged, never merged.

A dataset arriving by two paths under one URI is already one record (``catalog.store``). This finds the ones the
URI cannot catch: a city portal and a national portal minting their own URIs, or an identifier that changed. Two
datasets are candidates when

- a folded title (case, accents, punctuation and spacing ignored) and a folded publisher name (or the publisher's
  URI) are the same, or
- they share a distribution URL (access or download; scheme, ``www.``, default port, fragment and trailing slash
  ignored).

Each group names the reason and the key that matched. A key shared by more than ``max_group`` datasets (a portal's
generic download page, a publisher's "Data" title) says nothing about duplication and is left out.
"""

from __future__ import annotations

import re
import unicodedata
from collections import defaultdict
from collections.abc import Iterable, Iterator
from dataclasses import dataclass
from enum import StrEnum
from typing import Any
from urllib.parse import urlsplit

from catalog.model import Dataset

MAX_GROUP = 20
_NOT_WORD = re.compile(r"[\W_]+")


class Reason(StrEnum):
    SAME_TITLE_AND_PUBLISHER = "same-title-and-publisher"
    SHARED_DISTRIBUTION_URL = "shared-distribution-url"


@dataclass(frozen=True, slots=True)
class Candidates:
    """Datasets that may be one: the reason, the key that matched and the URIs (sorted)."""

    reason: Reason
    key: str
    uris: tuple[str, ...]

    def to_json(self) -> dict[str, Any]:
        return {"reason": self.reason.value, "key": self.key, "datasets": list(self.uris)}


def fold(text: str) -> str:
    """Text compared loosely: case-folded, accents dropped, punctuation and spacing collapsed to single spaces."""
    decomposed = unicodedata.normalize("NFKD", text.casefold())
    bare = "".join(ch for ch in decomposed if not unicodedata.combining(ch))
    return _NOT_WORD.sub(" ", bare).strip()


def url_key(url: str) -> str:
    """A URL compared loosely: no scheme, ``www.``, default port, fragment or trailing slash; host lower-cased."""
    try:
        parts = urlsplit(url.strip())
        port = parts.port
    except ValueError:
        return url.strip()
    host = (parts.hostname or "").removeprefix("www.")
    if port is not None and port not in (80, 443):
        host = f"{host}:{port}"
    query = f"?{parts.query}" if parts.query else ""
    return f"{host}{parts.path.rstrip('/')}{query}"


def _title_keys(ds: Dataset) -> Iterator[str]:
    titles = {t for t in (fold(v) for v in ds.title.values()) if t}
    publisher = ds.publisher
    if publisher is None:
        return
    names = {n for n in (fold(v) for v in publisher.name.values()) if n}
    if publisher.uri:
        names.add(url_key(publisher.uri))
    for title in sorted(titles):
        for name in sorted(names):
            yield f"{title} | {name}"


def _url_keys(ds: Dataset) -> Iterator[str]:
    urls = {u for d in ds.distributions for u in (d.access_url, d.download_url) if u}
    yield from sorted({url_key(u) for u in urls})


def find_candidates(datasets: Iterable[Dataset], *, max_group: int = MAX_GROUP) -> list[Candidates]:
    """Groups of datasets with different URIs that look the same, with the reason; the datasets are not touched."""
    index: dict[tuple[Reason, str], set[str]] = defaultdict(set)
    for ds in datasets:
        for key in _title_keys(ds):
            index[Reason.SAME_TITLE_AND_PUBLISHER, key].add(ds.uri)
        for key in _url_keys(ds):
            index[Reason.SHARED_DISTRIBUTION_URL, key].add(ds.uri)
    groups: dict[tuple[Reason, tuple[str, ...]], str] = {}
    for (reason, key), uris in sorted(index.items()):
        if 2 <= len(uris) <= max_group:
            groups.setdefault((reason, tuple(sorted(uris))), key)  # one group per reason and set: its first key
    return sorted(
        (Candidates(reason, key, uris) for (reason, uris), key in groups.items()),
        key=lambda c: (c.uris, c.reason),
    )
