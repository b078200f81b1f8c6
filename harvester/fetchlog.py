"""What a run fetched, and what it may replay: the seam between the HTTP client and the run orchestration.

The run opens a :class:`FetchSession` around its adapter (a context variable, so concurrent runs in one event loop
each see their own); ``HttpClient.get`` consults it to make conditional requests from the previous good run's
payloads, to answer from stored payloads when re-importing, and records every fetch so the raw payloads can be kept.
Adapters need not know any of this.
"""

from __future__ import annotations

import hashlib
import zlib
from collections.abc import Iterator, Mapping
from contextlib import contextmanager
from contextvars import ContextVar
from dataclasses import dataclass, field

from hub.errors import PayloadInvalid


@dataclass(frozen=True, slots=True)
class StoredFetch:
    """A payload kept from an earlier fetch: what a conditional GET or a re-import needs."""

    url: str  # the final URL after redirects
    headers: Mapping[str, str]
    content: bytes

    @property
    def validators(self) -> dict[str, str]:
        """Request headers that make a GET conditional on this payload having changed."""
        out = {}
        if "etag" in self.headers:
            out["If-None-Match"] = self.headers["etag"]
        if "last-modified" in self.headers:
            out["If-Modified-Since"] = self.headers["last-modified"]
        return out


@dataclass(frozen=True, slots=True)
class Fetched:
    """One fetch of a run: the URL asked for, the final URL, headers, and the body kept compressed.

    A run may fetch hundreds of megabytes (a paged national catalogue); only the compressed bodies are held until the
    run stores them, so a harvest's memory is not the sum of its payloads.
    """

    requested: str
    url: str
    headers: Mapping[str, str]
    compressed: bytes
    sha256: str
    size: int
    not_modified: bool

    @classmethod
    def of(cls, requested: str, url: str, headers: Mapping[str, str], content: bytes, not_modified: bool) -> Fetched:
        digest = hashlib.sha256(content).hexdigest()
        return cls(requested, url, dict(headers), zlib.compress(content, 1), digest, len(content), not_modified)

    @property
    def content(self) -> bytes:
        return zlib.decompress(self.compressed)


@dataclass(slots=True)
class FetchSession:
    previous: Mapping[str, StoredFetch] = field(default_factory=dict)  # requested URL → last good payload
    replay: Mapping[str, StoredFetch] | None = None  # set when re-importing: no network at all
    fetched: list[Fetched] = field(default_factory=list)

    @property
    def all_not_modified(self) -> bool:
        return bool(self.fetched) and all(f.not_modified for f in self.fetched)

    def replayed(self, url: str) -> StoredFetch:
        assert self.replay is not None
        stored = self.replay.get(url)
        if stored is None:
            raise PayloadInvalid(f"re-import: no stored payload for {url} in the run being re-imported")
        return stored


_session: ContextVar[FetchSession | None] = ContextVar("nordhub_fetch_session", default=None)


def current_session() -> FetchSession | None:
    return _session.get()


@contextmanager
def fetch_session(session: FetchSession) -> Iterator[FetchSession]:
    token = _session.set(session)
    try:
        yield session
    finally:
        _session.reset(token)
