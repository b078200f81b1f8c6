"""Validate a document, a folder or a URL the way the harvester would: the service behind
``POST /api/v1/validate`` and ``nordhub validate``.

Kinds: ``ngsi-ld`` (structure), ``sdm`` (structure + Smart Data Model), ``gbfs`` (official schemas + cross-file
rules; a gbfs.json URL, a folder of feed files, or one file), ``dcat`` (DCAT-AP SHACL with a profile), and ``auto``
(detected from the content). Every report has the same shape: ``{kind, valid, errors, warnings, counts, findings,
truncated, …}`` with counts exact and the findings list capped.
"""

from __future__ import annotations

from collections import Counter
from collections.abc import Mapping
from enum import StrEnum
from pathlib import Path
from typing import Any

import orjson
from rdflib import Graph

from harvester.http import HttpClient
from harvester.sources.dcat import parse_rdf
from harvester.sources.gbfs_transform import discover_feeds
from hub.errors import BadRequest, PayloadInvalid
from schemas.dcat import ApVersion, Profile, ShapesStore, validate_dcat
from schemas.findings import Finding, Severity
from schemas.gbfs import validate_gbfs
from schemas.ngsild import check_entity
from schemas.sdm import SdmValidator
from schemas.store import SchemaStore

CAP = 1000  # findings listed per report; counts are always exact


class Kind(StrEnum):
    AUTO = "auto"
    NGSI_LD = "ngsi-ld"
    SDM = "sdm"
    GBFS = "gbfs"
    DCAT = "dcat"


class Validators:
    """What validation needs from the hub: the schema store (may be empty) and the DCAT-AP shapes (parsed once)."""

    def __init__(self, store: SchemaStore) -> None:
        self.store = store
        self._shapes: ShapesStore | None = None

    @classmethod
    def for_data_dir(cls, data_dir: Path) -> Validators:
        return cls(SchemaStore(data_dir / "schemas"))

    def sdm(self) -> SdmValidator:
        return SdmValidator(self.store if self.store.available() else None)

    def shapes(self) -> ShapesStore:
        """The DCAT-AP shapes synced into the store (``nordhub schemas sync`` copies ``dcat-ap/shacl``)."""
        if self._shapes is None:
            if not (self.store.root / "dcat-ap" / "shacl").is_dir():
                raise BadRequest("DCAT-AP validation needs the SHACL shapes: run `nordhub schemas sync --from DIR`")
            self._shapes = ShapesStore(self.store.root)
        return self._shapes


def detect_kind(name: str, content: bytes) -> Kind:
    """Guess what a document is from its name and first bytes."""
    lowered = name.lower()
    if lowered.endswith((".ttl", ".rdf", ".nt", ".xml", ".n3")):
        return Kind.DCAT
    head = content.lstrip()[:1]
    if head not in (b"{", b"["):
        return Kind.DCAT
    try:
        doc = orjson.loads(content)
    except orjson.JSONDecodeError:
        return Kind.SDM  # reported as a parse finding by the entity validator
    if isinstance(doc, dict) and "last_updated" in doc and "data" in doc:
        return Kind.GBFS
    if isinstance(doc, dict) and "@graph" in doc:
        return Kind.DCAT
    return Kind.SDM


def _json(content: bytes, name: str) -> Any:
    try:
        return orjson.loads(content)
    except orjson.JSONDecodeError as exc:
        raise BadRequest(f"{name}: not valid JSON ({exc})") from None


def report(kind: Kind, findings: list[Finding], **extra: Any) -> dict[str, Any]:
    """The one report shape for every kind."""
    counts = Counter(f.rule for f in findings)
    errors = sum(f.severity is Severity.ERROR for f in findings)
    warnings = sum(f.severity is Severity.WARNING for f in findings)
    return {
        "kind": kind.value,
        "valid": errors == 0,
        "errors": errors,
        "warnings": warnings,
        "counts": dict(sorted(counts.items())),
        "truncated": len(findings) > CAP,
        "findings": [f.to_dict() for f in findings[:CAP]],
        **extra,
    }


def validate_entities(content: bytes, name: str, kind: Kind, validators: Validators) -> dict[str, Any]:
    """An NGSI-LD entity or an array of them (normalized, concise or key-values)."""
    try:
        doc = _json(content, name)
    except BadRequest as exc:  # a document that is not JSON is a finding about it, not a failure of the tool
        return report(kind, [Finding("json.parse", Severity.ERROR, "", exc.detail)], entities=0)
    entities = doc if isinstance(doc, list) else [doc]
    sdm = validators.sdm() if kind is Kind.SDM else None
    findings: list[Finding] = []
    for index, entity in enumerate(entities):
        prefix = f"/{index}" if isinstance(doc, list) else ""
        if not isinstance(entity, dict):
            findings.append(Finding("ngsild.entity", Severity.ERROR, prefix or "/", "an entity must be a JSON object"))
            continue
        found = check_entity(entity) + (sdm.check(entity) if sdm is not None else [])
        findings.extend(Finding(f.rule, f.severity, prefix + f.pointer, f.message, f.normalized) for f in found)
    structural_only = sdm is None or sdm.structural_only
    return report(kind, findings, entities=len(entities), structural_only=structural_only)


def validate_gbfs_files(files: Mapping[str, bytes], validators: Validators) -> dict[str, Any]:
    """GBFS feed files by feed name (``station_status`` …) → schemas and cross-file rules."""
    docs = {}
    for feed, content in files.items():
        doc = _json(content, f"{feed}.json")
        if not isinstance(doc, dict):
            raise BadRequest(f"{feed}.json: a GBFS file is a JSON object")
        docs[feed] = doc
    store = validators.store if validators.store.available() else None
    result = validate_gbfs(docs, store=store, cap=CAP).to_dict()
    return {"kind": Kind.GBFS.value, "valid": result["errors"] == 0, "files": sorted(docs), **result}


def gbfs_folder(folder: Path) -> dict[str, bytes]:
    """The feed files of a local GBFS folder (``*.json``, named after their feed)."""
    files = {path.stem: path.read_bytes() for path in sorted(folder.glob("*.json"))}
    if not files:
        raise BadRequest(f"{folder}: no *.json GBFS files in this folder")
    return files


async def gbfs_from_url(client: HttpClient, url: str) -> dict[str, bytes]:
    """A gbfs.json URL and every feed it lists (fetched through the SSRF-guarded client)."""
    discovery = await client.get(url)
    doc = _json(discovery.content, url)
    feeds = discover_feeds(doc) if isinstance(doc, dict) else {}
    if not feeds:
        raise BadRequest(f"{url}: not a gbfs.json (no feeds listed)")
    files = {"gbfs": discovery.content}
    for name, feed_url in feeds.items():
        files[name] = (await client.get(feed_url)).content
    return files


def validate_document(
    content: bytes, *, name: str, kind: Kind, validators: Validators, profile: str | None = None
) -> dict[str, Any]:
    """One document of any kind (``auto`` detects it)."""
    chosen = detect_kind(name, content) if kind is Kind.AUTO else kind
    if chosen in (Kind.NGSI_LD, Kind.SDM):
        return validate_entities(content, name, chosen, validators)
    if chosen is Kind.GBFS:
        stem = Path(name).stem or "gbfs"
        return validate_gbfs_files({stem: content}, validators)
    return validate_rdf(content, name=name, validators=validators, profile=profile)


def validate_rdf(content: bytes, *, name: str, validators: Validators, profile: str | None) -> dict[str, Any]:
    """DCAT-AP: parsed like a harvest (no remote JSON-LD contexts), normalised, then SHACL with a profile."""
    version, _, chosen = (profile or "base").rpartition(":")
    try:
        ap_version = ApVersion(version) if version else ApVersion.DCAT_AP_3_0_1
        ap_profile = Profile(chosen)
    except ValueError:
        versions = ", ".join(v.value for v in ApVersion)
        profiles = ", ".join(p.value for p in Profile)
        raise BadRequest(
            f"profile {profile!r}: use [VERSION:]PROFILE with VERSION in {versions} and PROFILE in {profiles}"
        ) from None
    try:
        triples = parse_rdf(content, url=f"file:///{Path(name).name}")
    except PayloadInvalid as exc:
        raise BadRequest(exc.detail) from None
    graph = Graph().parse(data="\n".join(f"{s} {p} {o} ." for s, p, o in triples), format="nt")
    result = validate_dcat(graph, shapes=validators.shapes(), version=ap_version, profile=ap_profile)
    return report(
        Kind.DCAT,
        result.findings,
        fixes=[f.to_dict() for f in result.fixes],
        triples=len(graph),
        profile=f"{ap_version.value}:{ap_profile.value}",
        seconds=round(result.seconds, 3),
    )
