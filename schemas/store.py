"""The schema store: the official Smart Data Models and GBFS JSON Schemas on disk, verified against the manifest.

Layout under ``root`` (``settings.data_dir / "schemas"``): every artefact at its manifest path
(``smart-data-models/dataModel.Transportation/BikeHireDockingStation/schema.json``, ``gbfs/v2.3/station_status.json``)
and ``index.json``, written last by a sync, naming the collections synced. Nothing here touches the network:
:meth:`SchemaStore.sync_from_urls` is handed its fetch function, and ``$ref`` resolution uses only the
``referencing`` registry built from the files on disk (unknown URIs are unresolvable, never fetched).

A sync verifies every file's sha256 against ``schemas/manifest.toml`` before it writes anything, so a tampered or
changed upstream file leaves the store as it was and names itself in a :class:`~hub.errors.ConfigError`.
"""

from __future__ import annotations

import asyncio
import hashlib
import json
import os
import tomllib
from collections.abc import Awaitable, Callable, Iterable, Mapping, Sequence
from dataclasses import dataclass, field
from datetime import UTC, datetime
from enum import StrEnum
from pathlib import Path
from typing import Any

from jsonschema import Draft7Validator, Draft202012Validator, FormatChecker, validators
from jsonschema.protocols import Validator
from referencing import Registry, Resource
from referencing.jsonschema import DRAFT202012

from hub.errors import ConfigError
from schemas.ngsild import is_absolute_uri, is_rfc3339

MANIFEST_PATH = Path(__file__).with_name("manifest.toml")
SDM = "smart-data-models"
GBFS = "gbfs"
INDEX = "index.json"
Fetch = Callable[[str], Awaitable[bytes]]


class ArtefactKind(StrEnum):
    SDM_COMMON = "sdm-common"  # common-schema.json, the $ref target of every model
    SDM_SUBJECT = "sdm-subject"  # a subject-wide schema (Environment-schema.json, weather-schema.json)
    SDM_MODEL = "sdm-model"  # one model's schema.json
    GBFS = "gbfs"  # one GBFS file's official JSON Schema
    LD_CONTEXT = "ld-context"  # a JSON-LD @context (ngsi.contexts keeps its own manifest of them)


class ArtefactState(StrEnum):
    OK = "ok"
    MISSING = "missing"
    MODIFIED = "modified"  # on disk, but its sha256 is no longer the manifest's


@dataclass(frozen=True, slots=True)
class Artefact:
    """One manifest entry: where the file lives in the store, where it comes from, and its hash."""

    path: str
    kind: ArtefactKind
    url: str
    sha256: str
    commit: str = ""
    pinned_url: str | None = None
    aliases: tuple[str, ...] = ()
    subject: str | None = None
    model: str | None = None
    schema_version: str | None = None
    gbfs_version: str | None = None
    feed: str | None = None

    @property
    def collection(self) -> str:
        return self.path.split("/", 1)[0]

    @property
    def fetch_url(self) -> str:
        """The address a sync fetches: pinned to the recorded commit where there is one."""
        return self.pinned_url or self.url

    @property
    def version(self) -> str:
        """The artefact's own version (a model's ``$schemaVersion``, the GBFS version) and the upstream commit."""
        own = self.schema_version or self.gbfs_version
        return " @ ".join(part for part in (own, self.commit[:12]) if part)


@dataclass(frozen=True, slots=True)
class SyncReport:
    """What one sync did: files written (new or changed), files already identical, collections synced or absent."""

    source: str
    written: tuple[str, ...]
    unchanged: tuple[str, ...]
    collections: tuple[str, ...]
    skipped: tuple[str, ...] = ()

    @property
    def verified(self) -> int:
        return len(self.written) + len(self.unchanged)


def load_manifest(path: Path = MANIFEST_PATH) -> tuple[Artefact, ...]:
    """The artefacts listed in a manifest file; a malformed entry is a ConfigError naming it."""
    try:
        entries = tomllib.loads(path.read_text(encoding="utf-8")).get("artefact", [])
    except (OSError, tomllib.TOMLDecodeError) as exc:
        raise ConfigError(f"schema manifest {path}: {exc}") from exc
    artefacts = []
    for i, entry in enumerate(entries):
        try:
            artefacts.append(
                Artefact(**{**entry, "kind": ArtefactKind(entry["kind"]), "aliases": tuple(entry.get("aliases", ()))})
            )
        except (KeyError, TypeError, ValueError) as exc:
            raise ConfigError(f"schema manifest {path}: artefact {i} ({entry.get('path', '?')}): {exc}") from exc
    return tuple(artefacts)


def sha256_hex(data: bytes) -> str:
    return hashlib.sha256(data).hexdigest()


def format_checker() -> FormatChecker:
    """The formats every schema here is checked with, strictly and without optional packages.

    ``date-time`` is RFC 3339 with a time zone (a naive one fails here; callers decide whether to repair it).
    """
    checker = FormatChecker(formats=())
    checker.checks("date-time")(lambda v: not isinstance(v, str) or is_rfc3339(v))
    checker.checks("date")(lambda v: not isinstance(v, str) or _is_date(v))
    checker.checks("uri")(lambda v: not isinstance(v, str) or is_absolute_uri(v))
    checker.checks("email")(lambda v: not isinstance(v, str) or ("@" in v and " " not in v.strip()))
    return checker


def _is_date(value: str) -> bool:
    try:
        return len(value) == 10 and bool(datetime.strptime(value, "%Y-%m-%d"))
    except ValueError:
        return False


@dataclass(slots=True)
class _Caches:
    """Built lazily from the files on disk; dropped by every sync."""

    registry: Registry[Any] | None = None
    schemas: dict[str, dict[str, Any] | None] = field(default_factory=dict)
    validators: dict[tuple[str, ...], Validator | None] = field(default_factory=dict)


class SchemaStore:
    """The schema artefacts under one directory: synced, verified, and resolved offline."""

    def __init__(self, root: Path, manifest: Sequence[Artefact] | None = None) -> None:
        self.root = root
        self.manifest: tuple[Artefact, ...] = tuple(manifest) if manifest is not None else load_manifest()
        self.format_checker = format_checker()
        self._caches = _Caches()

    # -- state ---------------------------------------------------------------------------------------------------

    def available(self) -> bool:
        """True once a sync has completed into this store (of any collection)."""
        return bool(self.collections())

    def collections(self) -> frozenset[str]:
        """The collections (``smart-data-models``, ``gbfs``) a completed sync has put in the store."""
        try:
            index = json.loads((self.root / INDEX).read_bytes())
        except (OSError, ValueError):
            return frozenset()  # never synced, or an interrupted sync: the store is not there
        names = index.get("collections") if isinstance(index, dict) else None
        return frozenset(str(n) for n in names) if isinstance(names, list) else frozenset()

    def inventory(self) -> list[tuple[Artefact, ArtefactState]]:
        """Every manifest artefact with its state on disk (hashes recomputed)."""
        states = []
        for artefact in self.manifest:
            file = self.root / artefact.path
            if not file.is_file():
                states.append((artefact, ArtefactState.MISSING))
            elif sha256_hex(file.read_bytes()) != artefact.sha256:
                states.append((artefact, ArtefactState.MODIFIED))
            else:
                states.append((artefact, ArtefactState.OK))
        return states

    # -- sync ----------------------------------------------------------------------------------------------------

    def sync_from_dir(self, source: Path) -> SyncReport:
        """Copy the artefacts from a local folder, verifying each sha256 against the manifest.

        ``source`` is either a folder holding the collections (``shared/data``) or one collection's folder
        (``shared/data/smart-data-models``); collections it does not hold are reported as skipped.
        """
        if not source.is_dir():
            raise ConfigError(f"schema source {source} is not a directory")
        roots = self._collection_roots(source)
        if not roots:
            wanted = ", ".join(sorted({a.collection for a in self.manifest}))
            raise ConfigError(f"schema source {source} holds none of the collections {wanted}")
        payloads: dict[Artefact, bytes] = {}
        for artefact in self.manifest:
            if artefact.collection not in roots:
                continue
            file = roots[artefact.collection] / artefact.path.split("/", 1)[1]
            if not file.is_file():
                raise ConfigError(f"schema artefact {artefact.path} is missing from {source}")
            payloads[artefact] = file.read_bytes()
        skipped = sorted({a.collection for a in self.manifest} - roots.keys())
        return self._install(payloads, source=str(source), skipped=skipped)

    def _collection_roots(self, source: Path) -> dict[str, Path]:
        roots = {}
        for collection in {a.collection for a in self.manifest}:
            if (source / collection).is_dir():
                roots[collection] = source / collection
            elif source.name == collection:
                roots[collection] = source
        return roots

    async def sync_from_urls(self, fetch: Fetch, *, concurrency: int = 8) -> SyncReport:
        """Fetch every artefact with ``fetch`` (URL → body), verify, then install them all or none.

        The fetch function's own errors (the hub's HarvestError family) propagate unchanged, after every fetch
        under way has finished.
        """
        gate = asyncio.Semaphore(concurrency)

        async def one(artefact: Artefact) -> bytes:
            async with gate:
                return await fetch(artefact.fetch_url)

        bodies = await asyncio.gather(*(one(a) for a in self.manifest), return_exceptions=True)
        for body in bodies:
            if isinstance(body, BaseException):
                raise body
        payloads = {a: b for a, b in zip(self.manifest, bodies, strict=True) if isinstance(b, bytes)}
        return self._install(payloads, source="official URLs", skipped=[])

    def _install(self, payloads: Mapping[Artefact, bytes], *, source: str, skipped: Iterable[str]) -> SyncReport:
        for artefact, data in payloads.items():
            digest = sha256_hex(data)
            if digest != artefact.sha256:
                raise ConfigError(
                    f"schema artefact {artefact.path} from {source}: sha256 {digest} does not match the manifest's "
                    f"{artefact.sha256}; the file was changed, or the manifest must be updated deliberately"
                )
        written, unchanged = [], []
        for artefact, data in payloads.items():
            target = self.root / artefact.path
            if target.is_file() and target.read_bytes() == data:
                unchanged.append(artefact.path)
                continue
            _write_atomically(target, data)
            written.append(artefact.path)
        collections = sorted({a.collection for a in payloads})
        self._write_index(collections, source)
        self._caches = _Caches()
        return SyncReport(source, tuple(written), tuple(unchanged), tuple(collections), tuple(skipped))

    def _write_index(self, collections: Iterable[str], source: str) -> None:
        merged = sorted(self.collections() | set(collections))
        index = {"collections": merged, "synced_at": datetime.now(UTC).isoformat(), "source": source}
        _write_atomically(self.root / INDEX, json.dumps(index, indent=2).encode())

    # -- reading -------------------------------------------------------------------------------------------------

    def registry(self) -> Registry[Any]:
        """A ``referencing`` registry over the synced Smart Data Models schemas: official URL, aliases and ``$id``."""
        if self._caches.registry is None:
            resources: list[tuple[str, Resource[Any]]] = []
            for artefact in self.manifest:
                schema = artefact.kind not in (ArtefactKind.GBFS, ArtefactKind.LD_CONTEXT)
                contents = self._load(artefact) if schema else None
                if contents is None:
                    continue
                resource = Resource.from_contents(contents, default_specification=DRAFT202012)
                uris = {artefact.url, *artefact.aliases, str(contents.get("$id", artefact.url))}
                resources.extend((uri, resource) for uri in sorted(uris))
            self._caches.registry = Registry().with_resources(resources).crawl()
        return self._caches.registry

    def model_schema(self, entity_type: str) -> dict[str, Any] | None:
        """The synced schema of a Smart Data Model by its entity type (``BikeHireDockingStation``), or None."""
        for artefact in self.manifest:
            if artefact.kind is ArtefactKind.SDM_MODEL and artefact.model == entity_type:
                return self._load(artefact)
        return None

    def gbfs_schema(self, version: str, feed: str) -> dict[str, Any] | None:
        """The synced official JSON Schema of one GBFS file at one version, or None."""
        for artefact in self.manifest:
            if artefact.kind is ArtefactKind.GBFS and artefact.gbfs_version == version and artefact.feed == feed:
                return self._load(artefact)
        return None

    def model_validator(self, entity_type: str) -> Validator | None:
        """A validator of one Smart Data Model (its ``$schema`` draft, ``$ref``s over :meth:`registry`), compiled
        once per store and reused; None when the model is not in the store."""
        key = ("sdm", entity_type)
        if key not in self._caches.validators:
            schema = self.model_schema(entity_type)
            compiled = None
            if schema is not None:
                cls = validators.validator_for(schema, default=Draft202012Validator)
                compiled = cls(schema, registry=self.registry(), format_checker=self.format_checker)
            self._caches.validators[key] = compiled
        return self._caches.validators[key]

    def gbfs_validator(self, version: str, feed: str) -> Validator | None:
        """A draft-07 validator of one GBFS file at one version, compiled once per store and reused."""
        key = ("gbfs", version, feed)
        if key not in self._caches.validators:
            schema = self.gbfs_schema(version, feed)
            compiled = Draft7Validator(schema, format_checker=self.format_checker) if schema is not None else None
            self._caches.validators[key] = compiled
        return self._caches.validators[key]

    def _load(self, artefact: Artefact) -> dict[str, Any] | None:
        if artefact.path not in self._caches.schemas:
            self._caches.schemas[artefact.path] = self._read(artefact)
        return self._caches.schemas[artefact.path]

    def _read(self, artefact: Artefact) -> dict[str, Any] | None:
        if artefact.collection not in self.collections():
            return None
        try:
            contents = json.loads((self.root / artefact.path).read_bytes())
        except (OSError, ValueError) as exc:
            raise ConfigError(f"schema store {self.root}: {artefact.path} is unreadable ({exc}); sync again") from exc
        return contents if isinstance(contents, dict) else None


def _write_atomically(target: Path, data: bytes) -> None:
    target.parent.mkdir(parents=True, exist_ok=True)
    partial = target.with_name(target.name + ".partial")
    partial.write_bytes(data)
    os.replace(partial, target)
