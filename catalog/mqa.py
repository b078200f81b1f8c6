"""The data.europa.eu Metadata Quality Assessment, exactly as tabulated in ``shared/reference/catalogue.md``.

405 points over five dimensions; a distribution indicator counts the dataset's best distribution (the one earning
the most distribution points); bands Excellent (351-405), Good (221-350), Sufficient (121-220), Bad (0-120). A
source's, a city's or the catalogue's score is the weighted share of its datasets meeting each indicator (which is
the mean of the dataset scores).

Pure: the caller supplies what needs I/O. ``link_status`` maps a URL to whether it answered 2xx/3xx (the link
checker's cache, :mod:`catalog.linkcheck`); a URL missing from it is *not checked yet* and earns nothing, so without
link checks a dataset tops out at 325. ``compliant`` is the "DCAT-AP compliant" indicator: the API passes
:func:`mandatory_fields_present`, a structural check of DCAT-AP 3.0.1's mandatory properties, instead of running
SHACL per dataset. The vocabulary indicators read the MQA lists from a folder the caller names.

Two readings worth stating: a distribution without a licence of its own is scored with the dataset's (CKAN and
ckanext-dcat put the licence on the package and publish it on every distribution), and a literal format such as
``"CSV"`` counts as "from the EU vocabulary" when it names a code of the list, because the hub publishes it as that
code's IRI.
"""

from __future__ import annotations

import csv
import re
from collections import Counter
from collections.abc import Iterable, Mapping
from dataclasses import dataclass
from enum import StrEnum
from pathlib import Path
from typing import Any, NamedTuple

from catalog.model import Dataset, Distribution
from hub.errors import ConfigError
from schemas.dcat_normalise import FORMAT_ALIASES, IANA_IRI, MEDIA_FORMAT
from schemas.licences import canonical_licence, licence_key

MQA = "https://data.norge.no/vocabulary/dcatno-mqa#"
MAX_POINTS = 405
_EU_FILE_TYPE = re.compile(r"^https?://publications\.europa\.eu/resource/authority/file-type/(?P<code>[^/]+)/?$")


class Dimension(StrEnum):
    FINDABILITY = "findability"
    ACCESSIBILITY = "accessibility"
    INTEROPERABILITY = "interoperability"
    REUSABILITY = "reusability"
    CONTEXTUALITY = "contextuality"


class Level(StrEnum):
    """What an indicator is checked on."""

    DATASET = "dataset"
    DISTRIBUTION = "distribution"


class Band(StrEnum):
    EXCELLENT = "Excellent"
    GOOD = "Good"
    SUFFICIENT = "Sufficient"
    BAD = "Bad"


@dataclass(frozen=True, slots=True)
class Indicator:
    """One row of the MQA table: its key, dcatno-mqa metric, dimension, level and points."""

    key: str
    metric: str  # local name in the dcatno-mqa vocabulary
    dimension: Dimension
    level: Level
    points: int
    label: str

    @property
    def metric_iri(self) -> str:
        return MQA + self.metric

    def to_json(self) -> dict[str, Any]:
        return {
            "key": self.key,
            "label": self.label,
            "metric": self.metric_iri,
            "dimension": self.dimension.value,
            "checked_on": self.level.value,
            "max": self.points,
        }


_F, _A, _I, _R, _C = Dimension
_D, _X = Level
INDICATORS: tuple[Indicator, ...] = (
    Indicator("keyword", "keywordAvailability", _F, _D, 30, "dcat:keyword present"),
    Indicator("theme", "categoryAvailability", _F, _D, 30, "dcat:theme present"),
    Indicator("spatial", "spatialAvailability", _F, _D, 20, "dct:spatial present"),
    Indicator("temporal", "temporalAvailability", _F, _D, 20, "dct:temporal present"),
    Indicator("access_url_ok", "accessUrlStatusCode", _A, _X, 50, "dcat:accessURL answers 2xx/3xx"),
    Indicator("download_url", "downloadUrlAvailability", _A, _X, 20, "dcat:downloadURL present"),
    Indicator("download_url_ok", "downloadUrlStatusCode", _A, _X, 30, "dcat:downloadURL answers 2xx/3xx"),
    Indicator("format", "formatAvailability", _I, _X, 20, "dct:format present"),
    Indicator("media_type", "mediaTypeAvailability", _I, _X, 10, "dcat:mediaType present"),
    Indicator("format_vocabulary", "formatMediaTypeVocabularyAlignment", _I, _X, 10, "format from EU vocabulary"),
    Indicator("non_proprietary", "formatMediaTypeNonProprietary", _I, _X, 20, "format non-proprietary"),
    Indicator("machine_readable", "formatMediaTypeMachineInterpretable", _I, _X, 20, "format machine-readable"),
    Indicator("dcat_ap_compliant", "dcatApCompliance", _I, _D, 30, "DCAT-AP compliant"),
    Indicator("licence", "licenceAvailability", _R, _X, 20, "dct:license present"),
    Indicator("licence_vocabulary", "knownLicence", _R, _X, 10, "licence in the EU licence vocabulary"),
    Indicator("access_rights", "accessRightsAvailability", _R, _D, 10, "dct:accessRights present"),
    Indicator("access_rights_vocabulary", "accessRightsVocabularyAlignment", _R, _D, 5, "access rights from EU list"),
    Indicator("contact_point", "contactPointAvailability", _R, _D, 20, "dcat:contactPoint present"),
    Indicator("publisher", "publisherAvailability", _R, _D, 10, "dct:publisher present"),
    Indicator("rights", "rightsAvailability", _C, _X, 5, "dct:rights present"),
    Indicator("byte_size", "byteSizeAvailability", _C, _X, 5, "dcat:byteSize present"),
    Indicator("issued", "dateIssuedAvailability", _C, _D, 5, "dct:issued present"),
    Indicator("modified", "dateModifiedAvailability", _C, _D, 5, "dct:modified present"),
)
DIMENSION_MAX: Mapping[Dimension, int] = {
    dim: sum(i.points for i in INDICATORS if i.dimension is dim) for dim in Dimension
}
_DISTRIBUTION_INDICATORS = tuple(i for i in INDICATORS if i.level is Level.DISTRIBUTION)


def band(points: float) -> Band:
    """The band of a score: Excellent ≥ 351, Good ≥ 221, Sufficient ≥ 121, else Bad."""
    if points >= 351:
        return Band.EXCELLENT
    if points >= 221:
        return Band.GOOD
    if points >= 121:
        return Band.SUFFICIENT
    return Band.BAD


# ------------------------------------------------------------------------------------------------ vocabularies


@dataclass(frozen=True, slots=True)
class MqaVocabularies:
    """The MQA lists: EU file-type codes (all, non-proprietary, machine-readable), IANA media types (lower case),
    and the IRIs of the licence and access-right lists (as :func:`schemas.licences.licence_key` compares them)."""

    file_types: frozenset[str]
    non_proprietary: frozenset[str]
    machine_readable: frozenset[str]
    media_types: frozenset[str]
    licences: frozenset[str]
    access_rights: frozenset[str]


def _csv_rows(path: Path) -> list[list[str]]:
    try:
        with path.open(newline="", encoding="utf-8") as handle:
            return [row for row in csv.reader(handle) if len(row) > 1 and row[1]]
    except OSError as exc:
        raise ConfigError(
            f"MQA vocabulary list {path} cannot be read ({exc.strerror or exc}): run `nordhub schemas sync`"
        ) from exc


def load_mqa_vocabularies(folder: Path) -> MqaVocabularies:
    """The six MQA lists of ``folder`` (``shared/data/mqa/vocabs``, or ``<data_dir>/schemas/mqa/vocabs``)."""

    def codes(name: str) -> frozenset[str]:
        return frozenset(row[1].upper() for row in _csv_rows(folder / name))

    return MqaVocabularies(
        file_types=codes("file-types.csv"),
        non_proprietary=codes("non-proprietary.csv"),
        machine_readable=codes("machine-readable.csv"),
        media_types=frozenset(row[1].lower() for row in _csv_rows(folder / "media-types.csv")),
        licences=frozenset(licence_key(url) for row in _csv_rows(folder / "licenses.csv") for url in row[::2] if url),
        access_rights=frozenset(licence_key(row[0]) for row in _csv_rows(folder / "access-right.csv")),
    )


def _media(text: str) -> str | None:
    """``type/subtype`` (lower case) of a media type written as an IANA IRI or as itself."""
    iana = IANA_IRI.match(text)
    media = iana["media"] if iana else text
    media = media.split(";", 1)[0].strip().lower()
    return media if "/" in media and " " not in media else None


def format_code(text: str, vocab: MqaVocabularies) -> str | None:
    """The EU file-type code a ``dct:format`` value names (IRI, code, common name or media type), if any."""
    text = text.strip()
    eu = _EU_FILE_TYPE.match(text)
    if eu:
        code: str | None = eu["code"].upper()
    elif (media := _media(text)) is not None:
        code = MEDIA_FORMAT.get(media)
    else:
        key = " ".join(text.lower().lstrip(".").split())
        code = FORMAT_ALIASES.get(key) or re.sub(r"[^0-9a-z]+", "_", key).strip("_").upper()
    return code if code in vocab.file_types else None


# ----------------------------------------------------------------------------------------------------- scoring


class Result(NamedTuple):  # a tuple: 23 per dataset, and a frozen dataclass costs 5x as much to build
    """One indicator of one dataset: met, not met, or ``None`` when not assessed (a URL not checked yet)."""

    indicator: Indicator
    met: bool | None

    @property
    def points(self) -> int:
        return self.indicator.points if self.met else 0


@dataclass(frozen=True, slots=True)
class MqaScore:
    """A dataset's MQA: every indicator, the distribution that counted, points per dimension, total and band."""

    dataset_uri: str
    met: tuple[bool | None, ...]  # one per row of INDICATORS, in its order
    distribution: str | None  # the best distribution's URI (its access URL when it has none)
    dimensions: Mapping[Dimension, int]
    points: int
    band: Band

    @property
    def results(self) -> tuple[Result, ...]:
        return tuple(map(Result, INDICATORS, self.met))

    def to_json(self) -> dict[str, Any]:
        return {
            "dataset": self.dataset_uri,
            "points": self.points,
            "max_points": MAX_POINTS,
            "band": self.band.value,
            "distribution": self.distribution,
            "dimensions": {d.value: {"points": p, "max": DIMENSION_MAX[d]} for d, p in self.dimensions.items()},
            "indicators": [{**r.indicator.to_json(), "met": r.met, "points": r.points} for r in self.results],
        }


def _status(url: str | None, link_status: Mapping[str, bool] | None) -> bool | None:
    if not url:
        return False
    return None if link_status is None else link_status.get(url)


def _distribution_checks(
    ds: Dataset, dist: Distribution, vocab: MqaVocabularies, link_status: Mapping[str, bool] | None
) -> tuple[bool | None, ...]:
    """The distribution indicators of ``dist``, in the order of ``_DISTRIBUTION_INDICATORS``."""
    fmt = format_code(dist.format, vocab) if dist.format else None
    media = _media(dist.media_type) if dist.media_type else None
    codes = {c for c in (fmt, MEDIA_FORMAT.get(media) if media else None) if c}
    aligned = (dist.format is None or fmt is not None) and (dist.media_type is None or media in vocab.media_types)
    licence = dist.licence or ds.licence
    return (
        _status(dist.access_url, link_status),
        bool(dist.download_url),
        _status(dist.download_url, link_status),
        bool(dist.format),
        bool(dist.media_type),
        bool(dist.format or dist.media_type) and aligned,
        not codes.isdisjoint(vocab.non_proprietary),
        not codes.isdisjoint(vocab.machine_readable),
        bool(licence),
        bool(licence) and _known_licence(licence or "", vocab),
        bool(dist.rights),
        dist.byte_size is not None,
    )


def _known_licence(text: str, vocab: MqaVocabularies) -> bool:
    if licence_key(text) in vocab.licences:
        return True
    licence = canonical_licence(text)
    return licence is not None and licence_key(licence.eu_uri) in vocab.licences


def _best_distribution(
    ds: Dataset, vocab: MqaVocabularies, link_status: Mapping[str, bool] | None
) -> tuple[Distribution | None, tuple[bool | None, ...]]:
    best: tuple[Distribution | None, tuple[bool | None, ...]] = (None, (False,) * len(_DISTRIBUTION_INDICATORS))
    best_points = -1
    for dist in ds.distributions:
        checks = _distribution_checks(ds, dist, vocab, link_status)
        points = sum(i.points for i, met in zip(_DISTRIBUTION_INDICATORS, checks, strict=True) if met)
        if points > best_points:  # the first of equals wins, so the choice is stable
            best, best_points = (dist, checks), points
    return best


def _dataset_checks(ds: Dataset, vocab: MqaVocabularies, compliant: bool) -> dict[str, bool]:
    rights = ds.access_rights
    return {
        "keyword": any(ds.keywords.values()),
        "theme": bool(ds.themes),
        "spatial": bool(ds.spatial),
        "temporal": ds.temporal is not None and any(ds.temporal),
        "dcat_ap_compliant": compliant,
        "access_rights": bool(rights),
        "access_rights_vocabulary": bool(rights) and licence_key(rights or "") in vocab.access_rights,
        "contact_point": any(ds.contact_point.values()),
        "publisher": ds.publisher is not None and (bool(ds.publisher.uri) or any(ds.publisher.name.values())),
        "issued": bool(ds.issued),
        "modified": bool(ds.modified),
    }


def score_dataset(
    ds: Dataset, *, link_status: Mapping[str, bool] | None, compliant: bool, vocab: MqaVocabularies
) -> MqaScore:
    """Score one dataset: dataset indicators on the dataset, distribution indicators on its best distribution."""
    dist, checks = _best_distribution(ds, vocab, link_status)
    met: dict[str, bool | None] = dict(_dataset_checks(ds, vocab, compliant))
    met.update(zip((i.key for i in _DISTRIBUTION_INDICATORS), checks, strict=True))
    results = tuple(met[i.key] for i in INDICATORS)
    dimensions = dict.fromkeys(Dimension, 0)
    for indicator, ok in zip(INDICATORS, results, strict=True):
        if ok:
            dimensions[indicator.dimension] += indicator.points
    points = sum(dimensions.values())
    chosen = (dist.uri or dist.access_url) if dist is not None else None
    return MqaScore(ds.uri, results, chosen, dimensions, points, band(points))


def mandatory_fields_present(ds: Dataset) -> bool:
    """The cheap stand-in for SHACL: DCAT-AP 3.0.1's mandatory properties (dataset title and description, each
    distribution's access URL as an absolute http(s) IRI, a publisher's name) are there."""
    if not any(v.strip() for v in ds.title.values()) or not any(v.strip() for v in ds.description.values()):
        return False
    if any(not _IRI.match(d.access_url or "") for d in ds.distributions):
        return False
    return ds.publisher is None or any(v.strip() for v in ds.publisher.name.values())


_IRI = re.compile(r"^https?://[^\s<>\"{}|\\^`]+$")


# ------------------------------------------------------------------------------------------------- aggregation


@dataclass(frozen=True, slots=True)
class Share:
    """How many datasets of a set meet one indicator, and the points that share earns."""

    indicator: Indicator
    met: int
    assessed: int  # datasets where the indicator could be assessed (URL indicators need a checked URL)
    share: float  # met / datasets
    points: float  # share x the indicator's points


@dataclass(frozen=True, slots=True)
class MqaSummary:
    """A source's, city's or the catalogue's MQA: the weighted share of its datasets meeting each indicator."""

    datasets: int
    shares: tuple[Share, ...]
    dimensions: Mapping[Dimension, float]
    points: float
    band: Band | None  # None for an empty set
    bands: Mapping[Band, int]  # how many datasets fall in each band

    def to_json(self) -> dict[str, Any]:
        return {
            "datasets": self.datasets,
            "points": round(self.points, 2),
            "max_points": MAX_POINTS,
            "band": self.band.value if self.band else None,
            "bands": {b.value: self.bands.get(b, 0) for b in Band},
            "dimensions": {
                d.value: {"points": round(p, 2), "max": DIMENSION_MAX[d]} for d, p in self.dimensions.items()
            },
            "indicators": [
                {
                    **s.indicator.to_json(),
                    "met": s.met,
                    "assessed": s.assessed,
                    "share": round(s.share, 4),
                    "points": round(s.points, 2),
                }
                for s in self.shares
            ],
        }


def aggregate(scores: Iterable[MqaScore]) -> MqaSummary:
    """The weighted share over ``scores``: each indicator earns its points x the share of datasets meeting it."""
    met = [0] * len(INDICATORS)
    assessed = [0] * len(INDICATORS)
    bands: Counter[Band] = Counter()
    count = 0
    for score in scores:
        count += 1
        bands[score.band] += 1
        for n, ok in enumerate(score.met):
            if ok is not None:
                assessed[n] += 1
                met[n] += ok
    shares = tuple(
        Share(i, met[n], assessed[n], share, share * i.points)
        for n, i in enumerate(INDICATORS)
        for share in (met[n] / count if count else 0.0,)
    )
    dimensions = dict.fromkeys(Dimension, 0.0)
    for share in shares:
        dimensions[share.indicator.dimension] += share.points
    points = sum(dimensions.values())
    return MqaSummary(count, shares, dimensions, points, band(points) if count else None, dict(bands))


# ------------------------------------------------------------------------------------------------------- DQV


def dqv_measurements(score: MqaScore) -> list[tuple[str, str, float | bool]]:
    """(metric IRI, IRI the measurement is computed on, value) for ``dqv:hasQualityMeasurement``.

    Dataset indicators are computed on the dataset, distribution indicators on the best distribution (on the
    dataset when it has none); a URL not checked yet has no measurement. The last one is the total,
    ``dcatno-mqa:score``, on the dataset.
    """
    target = score.distribution or score.dataset_uri
    found: list[tuple[str, str, float | bool]] = [
        (r.indicator.metric_iri, score.dataset_uri if r.indicator.level is Level.DATASET else target, r.met)
        for r in score.results
        if r.met is not None
    ]
    found.append((MQA + "score", score.dataset_uri, float(score.points)))
    return found
