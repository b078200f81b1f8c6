"""Licence families, openness and combination verdicts, on top of :func:`schemas.licences.canonical_licence`.

:func:`normalise_licence` turns any spelling into one :class:`LicenceRecord` (canonical URI, SPDX id, EU code,
family, open or not), or an :class:`UnknownLicence` that says so: nothing is guessed. Besides the table of
:mod:`schemas.licences` it knows the licences that must be recognised to be refused (CC NC and ND variants) and
OGL 3.0, which the reference puts beside CC BY 4.0.

:func:`combine` applies the rules of ``shared/reference/catalogue.md``: {CC0, PDDL} < {CC BY 4.0 ≈ NLOD 2.0 ≈ ODC-BY
≈ OGL 3 ≈ DL-DE-BY 2.0} < {CC BY-SA 4.0}, with ODbL a separate share-alike branch above the attribution class. The
combined work takes the least upper bound; a set needing both CC BY-SA and ODbL can be bundled side by side but not
merged; NC, ND, unknown and missing licences block with a reason. NLOD 2.0 §9 is what lets Norwegian data join
CC BY 4.0 data; NLOD 1.0 has no such clause in the reference, so it blocks rather than being assumed compatible.
"""

from __future__ import annotations

from collections.abc import Iterable, Sequence
from dataclasses import dataclass, field
from enum import StrEnum
from typing import Any

from schemas import licences as table
from schemas.licences import Licence, canonical_licence, licence_key

NLOD_ATTRIBUTION = "Contains data under the Norwegian licence for Open Government data (NLOD) distributed by {licensor}"


class Family(StrEnum):
    """Where a licence sits in the combination order."""

    PUBLIC_DOMAIN = "public-domain"  # CC0, PDDL: no conditions
    ATTRIBUTION = "attribution"  # CC BY 4.0, NLOD, ODC-BY, OGL 3.0, DL-DE-BY 2.0
    SHARE_ALIKE = "share-alike"  # CC BY-SA 4.0
    DATABASE_SHARE_ALIKE = "database-share-alike"  # ODbL 1.0: a branch of its own
    NON_COMMERCIAL = "non-commercial"  # not open
    NO_DERIVATIVES = "no-derivatives"  # not open


def _cc(path: str, name: str, *more: str) -> Licence:
    """A Creative Commons 4.0 licence, its unversioned URL and CKAN-style ids (``cc-by-nc``, ``cc-by-nc-4.0``)."""
    spdx = f"CC-{path.upper()}-4.0"
    eu = "CC_" + path.upper().replace("-", "", 1).replace("-", "") + "_4_0"
    url = f"http://creativecommons.org/licenses/{path}/4.0/"
    return Licence(name, url, spdx, eu, (f"creativecommons.org/licenses/{path}", f"cc-{path}", f"cc-{path}-4.0", *more))


CC_BY_NC_4_0 = _cc("by-nc", "CC BY-NC 4.0", "cc-nc")  # CKAN's cc-nc: "Creative Commons Non-Commercial (Any)"
CC_BY_ND_4_0 = _cc("by-nd", "CC BY-ND 4.0")
CC_BY_NC_SA_4_0 = _cc("by-nc-sa", "CC BY-NC-SA 4.0")
CC_BY_NC_ND_4_0 = _cc("by-nc-nd", "CC BY-NC-ND 4.0")
OGL_3_0 = Licence(
    "OGL 3.0",
    "http://www.nationalarchives.gov.uk/doc/open-government-licence/version/3/",
    "OGL-UK-3.0",
    "OGL_3_0",
    ("uk-ogl", "ogl-uk-3.0", "Open Government Licence v3.0"),
)
EXTRA: tuple[Licence, ...] = (CC_BY_NC_4_0, CC_BY_ND_4_0, CC_BY_NC_SA_4_0, CC_BY_NC_ND_4_0, OGL_3_0)
FAMILIES: dict[str, Family] = {
    table.CC0_1_0.uri: Family.PUBLIC_DOMAIN,
    table.PDDL_1_0.uri: Family.PUBLIC_DOMAIN,
    table.CC_BY_4_0.uri: Family.ATTRIBUTION,
    table.NLOD_2_0.uri: Family.ATTRIBUTION,
    table.NLOD_1_0.uri: Family.ATTRIBUTION,
    table.ODC_BY_1_0.uri: Family.ATTRIBUTION,
    table.DL_DE_BY_2_0.uri: Family.ATTRIBUTION,
    OGL_3_0.uri: Family.ATTRIBUTION,
    table.CC_BY_SA_4_0.uri: Family.SHARE_ALIKE,
    table.ODBL_1_0.uri: Family.DATABASE_SHARE_ALIKE,
    CC_BY_NC_4_0.uri: Family.NON_COMMERCIAL,
    CC_BY_NC_SA_4_0.uri: Family.NON_COMMERCIAL,
    CC_BY_NC_ND_4_0.uri: Family.NON_COMMERCIAL,
    CC_BY_ND_4_0.uri: Family.NO_DERIVATIVES,
}
_EXTRA_INDEX = {licence_key(s): lic for lic in EXTRA for s in lic.spellings()}


@dataclass(frozen=True, slots=True)
class LicenceRecord:
    """One licence as the hub knows it."""

    name: str
    uri: str
    spdx: str
    eu_code: str
    eu_uri: str
    family: Family
    open: bool

    def to_json(self) -> dict[str, Any]:
        return {
            "known": True,
            "name": self.name,
            "uri": self.uri,
            "spdx": self.spdx,
            "eu_code": self.eu_code,
            "eu_uri": self.eu_uri,
            "family": self.family.value,
            "open": self.open,
        }


@dataclass(frozen=True, slots=True)
class UnknownLicence:
    """A licence text that names no licence the hub knows: reported as it is, never guessed."""

    text: str
    reason: str

    def to_json(self) -> dict[str, Any]:
        return {"known": False, "text": self.text, "reason": self.reason}


def _record(licence: Licence) -> LicenceRecord:
    family = FAMILIES[licence.uri]
    is_open = family not in (Family.NON_COMMERCIAL, Family.NO_DERIVATIVES)
    return LicenceRecord(licence.name, licence.uri, licence.spdx, licence.eu_code, licence.eu_uri, family, is_open)


def normalise_licence(text: str) -> LicenceRecord | UnknownLicence:
    """The one record a licence URL, CKAN id, SPDX id, EU code or name denotes, or an UnknownLicence saying why."""
    if not text.strip():
        return UnknownLicence(text, "no licence given")
    licence = canonical_licence(text) or _EXTRA_INDEX.get(licence_key(text))
    if licence is None:
        return UnknownLicence(text, "names no licence the hub knows (CKAN's other-* ids name none either)")
    return _record(licence)


# ---------------------------------------------------------------------------------------------------- combine


@dataclass(frozen=True, slots=True)
class Blocker:
    """A dataset that stops the combination, and why."""

    dataset: str
    licence: str | None
    reason: str


@dataclass(frozen=True, slots=True)
class DatasetLicence:
    """One dataset of a combination: what it published and what that licence is."""

    dataset: str
    text: str | None
    publisher: str | None
    country: str | None
    licence: LicenceRecord | UnknownLicence

    def to_json(self) -> dict[str, Any]:
        return {
            "dataset": self.dataset,
            "published_as": self.text,
            "publisher": self.publisher,
            "country": self.country,
            "licence": self.licence.to_json(),
        }


@dataclass(frozen=True, slots=True)
class Verdict:
    """Whether datasets can be combined, under which licence, with which attribution lines, and what blocks it."""

    combinable: bool
    licence: LicenceRecord | None
    side_by_side: bool  # the data may be distributed together but each part keeps its own licence
    attribution: tuple[str, ...]
    blockers: tuple[Blocker, ...]
    datasets: tuple[DatasetLicence, ...] = field(default=())

    def to_json(self) -> dict[str, Any]:
        return {
            "combinable": self.combinable,
            "licence": self.licence.to_json() if self.licence else None,
            "side_by_side_only": self.side_by_side,
            "attribution": list(self.attribution),
            "blockers": [{"dataset": b.dataset, "licence": b.licence, "reason": b.reason} for b in self.blockers],
            "datasets": [d.to_json() for d in self.datasets],
        }


# (dataset URI, licence text as published, publisher name, country code)
LicencedDataset = tuple[str, str | None, str | None, str | None]


def _blocker(uri: str, text: str | None, found: LicenceRecord | UnknownLicence) -> Blocker | None:
    if isinstance(found, UnknownLicence):
        reason = "no licence stated" if not (text or "").strip() else f"unknown licence: {found.reason}"
        return Blocker(uri, text, reason + "; ask the publisher, the hub does not guess")
    if found.family is Family.NON_COMMERCIAL:
        return Blocker(uri, text, f"{found.name} forbids commercial use: not open, cannot join open data")
    if found.family is Family.NO_DERIVATIVES:
        return Blocker(uri, text, f"{found.name} forbids adaptations: not open, a combined work is one")
    if found.uri == table.NLOD_1_0.uri:
        return Blocker(uri, text, "NLOD 1.0 names no licence a combined work may take (NLOD 2.0 §9 does)")
    return None


def _upper_bound(records: Sequence[LicenceRecord]) -> LicenceRecord:
    """The least upper bound of open licences of one branch; equal licences stay themselves."""
    if len({r.uri for r in records}) == 1:
        return records[0]
    families = {r.family for r in records}
    if Family.DATABASE_SHARE_ALIKE in families:
        return _record(table.ODBL_1_0)
    if Family.SHARE_ALIKE in families:
        return _record(table.CC_BY_SA_4_0)
    if Family.ATTRIBUTION in families:
        return _record(table.CC_BY_4_0)  # NLOD 2.0 §9: a combined work may be distributed under CC BY 4.0
    return _record(table.CC0_1_0)


def attribution_line(record: LicenceRecord, uri: str, publisher: str | None) -> str | None:
    """What a combined work must say for one dataset; None for public-domain dedications."""
    if record.family is Family.PUBLIC_DOMAIN:
        return None
    if record.uri == table.NLOD_2_0.uri:
        return NLOD_ATTRIBUTION.format(licensor=publisher or "the licensor named at " + uri)
    return f"{uri}, by {publisher or 'its publisher'}, licensed under {record.name} ({record.uri})"


def _attributions(found: Iterable[tuple[LicencedDataset, LicenceRecord | UnknownLicence]]) -> tuple[str, ...]:
    lines: dict[str, None] = {}  # ordered and without repeats: one NLOD line per licensor
    for (uri, _text, publisher, _country), record in found:
        if isinstance(record, LicenceRecord) and (line := attribution_line(record, uri, publisher)):
            lines.setdefault(line)
    return tuple(lines)


def _side_by_side(found: Sequence[tuple[LicencedDataset, LicenceRecord]]) -> tuple[Blocker, ...]:
    """Both share-alike branches present: every CC BY-SA and ODbL dataset is named."""
    partner = {Family.SHARE_ALIKE: table.ODBL_1_0.name, Family.DATABASE_SHARE_ALIKE: table.CC_BY_SA_4_0.name}
    return tuple(
        Blocker(
            item[0],
            item[1],
            f"{record.name} and {partner[record.family]} are both share-alike and incompatible with each other: "
            "the data can be bundled side by side, not merged",
        )
        for item, record in found
        if record.family in partner
    )


def combine(licences: Sequence[LicencedDataset]) -> Verdict:
    """Can these datasets be combined, under which licence, with which attribution lines; what blocks it and why."""
    found = [(item, normalise_licence(item[1] or "")) for item in licences]
    datasets = tuple(DatasetLicence(*item, licence=record) for item, record in found)
    attribution = _attributions(found)
    blockers = tuple(b for item, record in found if (b := _blocker(item[0], item[1], record)) is not None)
    if blockers:
        return Verdict(False, None, False, attribution, blockers, datasets)
    known = [(item, record) for item, record in found if isinstance(record, LicenceRecord)]
    families = {record.family for _item, record in known}
    if {Family.SHARE_ALIKE, Family.DATABASE_SHARE_ALIKE} <= families:
        return Verdict(False, None, True, attribution, _side_by_side(known), datasets)
    if not known:
        return Verdict(False, None, False, (), (), datasets)
    bound = _upper_bound([record for _item, record in known])
    return Verdict(True, bound, False, attribution, (), datasets)
