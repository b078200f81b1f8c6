"""The context store: the JSON-LD @contexts the hub can resolve without the internet, and the name translations.

Two places hold contexts. The official ones (the ETSI core contexts 1.3 to 1.9 and the Smart Data Models contexts,
listed in ``ngsi/contexts.toml``) are files under ``settings.data_dir / "contexts"``, synced and sha256-verified
exactly as the schema store syncs its artefacts (``schemas.store.SchemaStore`` with this manifest); they are
read-only and the same in every process. Contexts added at run time — ``nordhub contexts add URL FILE``,
``POST /jsonldContexts``, or fetched when ``NORDHUB_CONTEXT_FETCH`` allows — go to the database
(``ngsi.context_store``), so every API process on one PostgreSQL sees them.

:class:`ContextService` resolves a request's @context value into a :class:`~ngsi.terms.Translation` and keeps
one per context URL (or per inline context document) in a bounded LRU. Nothing here touches the network: an
unknown URL raises :class:`ContextMissing`, which the API layer may answer by fetching (when allowed) and
:meth:`ContextService.add`-ing the document before asking again.
"""

from __future__ import annotations

import hashlib
import threading
import uuid
from collections import OrderedDict
from dataclasses import dataclass
from datetime import UTC, datetime
from enum import StrEnum
from pathlib import Path
from typing import Any

import orjson

from hub.db import Database
from hub.errors import BadRequestData, LdContextNotAvailable, ResourceNotFound
from ngsi import context_store
from ngsi.context import CORE_CONTEXT, DEFAULT_VOCAB
from ngsi.ldcontext import ActiveContext, process
from ngsi.terms import CORE_NAMES, Identity, Translation
from schemas.store import Artefact, SchemaStore, load_manifest

MANIFEST_PATH = Path(__file__).with_name("contexts.toml")
CORE_PREFIX = "https://uri.etsi.org/ngsi-ld/v1/ngsi-ld-core-context"
IDENTITY = Identity()


class ContextKind(StrEnum):
    CACHED = "Cached"  # a copy of a context published elsewhere, kept under its own URL
    HOSTED = "Hosted"  # a context added to this hub, served under its /jsonldContexts URL
    IMPLICIT = "ImplicitlyCreated"  # not used yet: inline request contexts are translated, not stored


@dataclass(frozen=True, slots=True)
class ContextInfo:
    """One entry of ``GET /jsonldContexts?details=true``."""

    url: str
    id: str
    kind: ContextKind
    created_at: datetime | None
    hits: int
    last_usage: datetime | None
    official: bool  # from the synced manifest: read-only


class ContextMissing(LdContextNotAvailable):
    """A context URL that is neither in the store nor in the database; ``url`` names it."""

    def __init__(self, url: str) -> None:
        super().__init__(
            f"@context {url} is not in the hub's context store (load it with `nordhub contexts add URL FILE` "
            "or POST /ngsi-ld/v1/jsonldContexts; this hub does not fetch contexts at query time)"
        )
        self.url = url


def context_id(url: str) -> str:
    """A stable local id for a context URL (the same in every process)."""
    return hashlib.sha256(url.encode()).hexdigest()[:32]


def is_core(url: str) -> bool:
    return url.startswith(CORE_PREFIX) and url.endswith(".jsonld")


def context_files(root: Path) -> SchemaStore:
    """The synced official contexts under ``root``, handled by the schema store's sync and verification."""
    return SchemaStore(root, manifest=load_manifest(MANIFEST_PATH))


def parse_document(url: str, body: bytes) -> dict[str, Any]:
    """A JSON-LD context document, checked: a JSON object with an ``@context`` member."""
    try:
        document = orjson.loads(body)
    except orjson.JSONDecodeError as exc:
        raise BadRequestData(f"@context document for {url} is not JSON ({exc})") from None
    if not isinstance(document, dict) or "@context" not in document:
        raise BadRequestData(f"@context document for {url} must be a JSON object with an @context member")
    return document


class ContextService:
    """Resolves @context values through the files and the database; one per process (in ``HubState``)."""

    def __init__(self, root: Path, db: Database, *, cache_size: int = 256) -> None:
        self.files = context_files(root)
        self.db = db
        self.cache_size = cache_size
        self._lock = threading.Lock()  # sync routes run in a thread pool: the LRU and counters are shared
        self._translations: OrderedDict[str, Translation] = OrderedDict()
        self._usage: dict[str, tuple[int, datetime]] = {}
        self._official: dict[str, Artefact] | None = None
        self._documents: dict[str, dict[str, Any]] = {}
        self._default: tuple[ActiveContext, frozenset[str]] | None = None

    # -- documents ---------------------------------------------------------------------------------------------

    def official(self) -> dict[str, Artefact]:
        """URL (and alias) → manifest artefact, for the artefacts present in the synced store."""
        if self._official is None:
            synced = self.files.collections()
            self._official = {
                url: a for a in self.files.manifest if a.collection in synced for url in (a.url, *a.aliases)
            }
        return self._official

    def document(self, url: str) -> dict[str, Any] | None:
        """The context document stored under ``url`` (official file first, then the database), or None."""
        artefact = self.official().get(url)
        if artefact is not None:
            if artefact.path not in self._documents:
                self._documents[artefact.path] = orjson.loads((self.files.root / artefact.path).read_bytes())
            return self._documents[artefact.path]
        with self.db.connect() as conn:
            stored = context_store.find(conn, url)
        return orjson.loads(stored.body) if stored is not None and stored.url == url else None

    def load(self, url: str) -> Any:
        """The ``@context`` value of a stored context URL; :class:`ContextMissing` when it is not stored."""
        document = self.document(url)
        if document is None:
            raise ContextMissing(url)
        return document["@context"]

    def _count(self, url: str) -> None:
        with self._lock:
            hits, _last = self._usage.get(url, (0, datetime.now(UTC)))
            self._usage[url] = (hits + 1, datetime.now(UTC))

    # -- translations --------------------------------------------------------------------------------------------

    def translation(self, context: Any) -> Translation:
        """The name translation for a request's @context value (None: no context, the hub's own names)."""
        urls = context if isinstance(context, list) else [context]
        if isinstance(context, str):
            self._count(context)
        if context is None or all(isinstance(u, str) and is_core(u) for u in urls):
            return IDENTITY  # the core context alone: stored names are already the request's names
        key = context if isinstance(context, str) else "inline:" + hashlib.sha256(_canonical(context)).hexdigest()
        with self._lock:
            found = self._translations.get(key)
            if found is not None:
                self._translations.move_to_end(key)
        if found is not None:
            return found
        default, fixed = self._default_context()
        # NGSI-LD appends the core context to every request context that does not name one itself.
        full = urls if any(isinstance(u, str) and is_core(u) for u in urls) else [*urls, CORE_CONTEXT]
        active = process(ActiveContext(), full, self._load_or_core)
        built = Translation(active, default, fixed)
        with self._lock:
            self._translations[key] = built
            while len(self._translations) > self.cache_size:
                self._translations.popitem(last=False)
        return built

    def _load_or_core(self, url: str) -> Any:
        if is_core(url) and url not in self.official():
            # The core context is not synced: its @vocab and prefix keep the hub's names working without it.
            return {"ngsi-ld": "https://uri.etsi.org/ngsi-ld/", "@vocab": DEFAULT_VOCAB}
        return self.load(url)

    def _default_context(self) -> tuple[ActiveContext, frozenset[str]]:
        """The hub's default context: every Smart Data Models context in the store, then the core context."""
        if self._default is None:
            official = self.official()
            sdm = [a.url for a in self.files.manifest if a.url in official and not is_core(a.url)]
            default = process(ActiveContext(), [*sdm, CORE_CONTEXT], self._load_or_core)
            core = process(ActiveContext(), CORE_CONTEXT, self._load_or_core)
            self._default = (default, CORE_NAMES | frozenset(core.terms))
        return self._default

    # -- the store -----------------------------------------------------------------------------------------------

    def add(self, url: str, document: dict[str, Any], kind: ContextKind) -> ContextInfo:
        """Store a context document under ``url`` (replacing one stored there); official URLs are read-only."""
        if url in self.official():
            raise BadRequestData(f"@context {url} is an official context of the store; `nordhub contexts sync`")
        process(ActiveContext(), document["@context"], _not_following)  # refuse what could never be used
        now = datetime.now(UTC)
        stored = context_store.StoredContext(context_id(url), url, kind.value, orjson.dumps(document).decode(), now)
        with self.db.begin() as conn:
            context_store.put(conn, stored)
        self.forget()
        return ContextInfo(url, stored.id, kind, now, 0, None, False)

    def host(self, document: dict[str, Any], base_url: str) -> ContextInfo:
        """Store a context posted to this hub, under a new URL of its own."""
        new_id = uuid.uuid4().hex
        url = f"{base_url.rstrip('/')}/ngsi-ld/v1/jsonldContexts/{new_id}"
        process(ActiveContext(), document["@context"], _not_following)
        now = datetime.now(UTC)
        stored = context_store.StoredContext(
            new_id, url, ContextKind.HOSTED.value, orjson.dumps(document).decode(), now
        )
        with self.db.begin() as conn:
            context_store.put(conn, stored)
        return ContextInfo(url, new_id, ContextKind.HOSTED, now, 0, None, False)

    def remove(self, key: str) -> None:
        """Delete a stored context by id or URL; official contexts (the core above all) cannot be deleted."""
        official = {**{context_id(u): u for u in self.official()}, **{u: u for u in self.official()}}
        if key in official:
            what = "the core context" if is_core(official[key]) else "an official context of the store"
            raise BadRequestData(f"@context {official[key]} is {what} and cannot be deleted")
        with self.db.begin() as conn:
            stored = context_store.find(conn, key)
            if stored is None or not context_store.remove(conn, stored.id):
                raise ResourceNotFound(f"no @context {key!r} in this hub")
        self.forget()

    def entry(self, key: str) -> tuple[ContextInfo, dict[str, Any]]:
        """One context (by id or URL) and its document; ResourceNotFound when there is none."""
        for info in self.entries():
            if key in (info.id, info.url):
                document = self.document(info.url)
                if document is not None:
                    return info, document
        raise ResourceNotFound(f"no @context {key!r} in this hub")

    def entries(self) -> list[ContextInfo]:
        """Every context the hub can serve: the official ones, then those stored at run time."""
        with self.db.connect() as conn:
            stored = context_store.all_contexts(conn)
        out = [self._info(url, ContextKind.CACHED, None, official=True) for url in self.official()]
        out.extend(self._info(s.url, ContextKind(s.kind), s.created_at, official=False, id_=s.id) for s in stored)
        return out

    def _info(
        self, url: str, kind: ContextKind, created: datetime | None, *, official: bool, id_: str | None = None
    ) -> ContextInfo:
        hits, last = self._usage.get(url, (0, None))
        return ContextInfo(url, id_ or context_id(url), kind, created, hits, last, official)

    def forget(self) -> None:
        """Drop every cached translation and official-file view (after a store change in this process)."""
        with self._lock:
            self._translations.clear()
            self._official = None
            self._default = None
            self._documents.clear()


def _canonical(context: Any) -> bytes:
    return orjson.dumps(context, option=orjson.OPT_SORT_KEYS)


def _not_following(url: str) -> Any:
    # Checking a document being added: its remote references are resolved when it is used, not now.
    return {}
