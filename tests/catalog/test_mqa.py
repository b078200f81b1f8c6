"""catalog.mqa: the MQA table's points exactly, best distribution, bands at their edges, weighted aggregation."""

from __future__ import annotations

import dataclasses
from collections.abc import Callable
from pathlib import Path

import pytest
from rdflib import Graph, URIRef
from rdflib.namespace import RDF

from catalog.model import Agent, Dataset, Distribution
from catalog.mqa import (
    DIMENSION_MAX,
    INDICATORS,
    MAX_POINTS,
    MQA,
    Band,
    Dimension,
    MqaScore,
    MqaVocabularies,
    aggregate,
    band,
    dqv_measurements,
    format_code,
    load_mqa_vocabularies,
    mandatory_fields_present,
    score_dataset,
)
from hub.errors import ConfigError

EU = "http://publications.europa.eu/resource/authority/"
ACCESS = "https://city.example/data/bikes.csv"
DOWNLOAD = "https://city.example/data/bikes-download.csv"
ALL_OK = {ACCESS: True, DOWNLOAD: True}


@pytest.fixture(scope="module")
def vocab(shared_data: Path) -> MqaVocabularies:
    return load_mqa_vocabularies(shared_data / "mqa" / "vocabs")


def full_dataset() -> Dataset:
    """Every indicator of the table met (given both URLs answer)."""
    return Dataset(
        uri="https://city.example/datasets/bikes",
        title={"en": "City bikes"},
        description={"en": "Stations and availability"},
        keywords={"en": ["bikes"]},
        themes=[EU + "data-theme/TRAN"],
        spatial=["https://sws.geonames.org/3143244/"],
        temporal=("2020-01-01", None),
        access_rights=EU + "access-right/PUBLIC",
        contact_point={"fn": "Open data team", "email": "data@city.example"},
        publisher=Agent(name={"en": "City of Example"}),
        issued="2020-01-01",
        modified="2025-11-01",
        distributions=[
            Distribution(
                access_url=ACCESS,
                uri="https://city.example/datasets/bikes/csv",
                download_url=DOWNLOAD,
                format=EU + "file-type/CSV",
                media_type="https://www.iana.org/assignments/media-types/text/csv",
                licence="http://creativecommons.org/licenses/by/4.0/",
                rights="Free to reuse with attribution",
                byte_size=1024,
            )
        ],
    )


def _dist(ds: Dataset, **changes: object) -> Dataset:
    return dataclasses.replace(ds, distributions=[dataclasses.replace(ds.distributions[0], **changes)])  # type: ignore[arg-type]


def _score(ds: Dataset, vocab: MqaVocabularies, links: dict[str, bool] | None = ALL_OK, ok: bool = True) -> MqaScore:
    return score_dataset(ds, link_status=links, compliant=ok, vocab=vocab)


def _met(score: MqaScore) -> dict[str, bool | None]:
    return {r.indicator.key: r.met for r in score.results}


def test_the_table_adds_up_to_405_in_five_dimensions() -> None:
    assert MAX_POINTS == sum(i.points for i in INDICATORS) == 405
    assert dict(DIMENSION_MAX) == {
        Dimension.FINDABILITY: 100,
        Dimension.ACCESSIBILITY: 100,
        Dimension.INTEROPERABILITY: 110,
        Dimension.REUSABILITY: 75,
        Dimension.CONTEXTUALITY: 20,
    }
    assert len(INDICATORS) == 23


def test_a_fully_described_dataset_scores_every_point(vocab: MqaVocabularies) -> None:
    score = _score(full_dataset(), vocab)
    assert score.points == 405
    assert score.band is Band.EXCELLENT
    assert dict(score.dimensions) == dict(DIMENSION_MAX)
    assert all(_met(score).values())
    assert score.distribution == "https://city.example/datasets/bikes/csv"
    assert mandatory_fields_present(full_dataset()) is True


Change = Callable[[Dataset], Dataset]
# (what is taken away, which indicators it turns off, the points lost) — computed by hand from the table
OFF: list[tuple[str, Change, set[str], int, dict[str, bool] | None]] = [
    ("keyword", lambda d: dataclasses.replace(d, keywords={"en": []}), {"keyword"}, 30, None),
    ("theme", lambda d: dataclasses.replace(d, themes=[]), {"theme"}, 30, None),
    ("spatial", lambda d: dataclasses.replace(d, spatial=[]), {"spatial"}, 20, None),
    ("temporal", lambda d: dataclasses.replace(d, temporal=None), {"temporal"}, 20, None),
    ("access url down", lambda d: d, {"access_url_ok"}, 50, {ACCESS: False, DOWNLOAD: True}),
    ("no download url", lambda d: _dist(d, download_url=None), {"download_url", "download_url_ok"}, 50, None),
    ("download url down", lambda d: d, {"download_url_ok"}, 30, {ACCESS: True, DOWNLOAD: False}),
    ("format", lambda d: _dist(d, format=None), {"format"}, 20, None),  # the media type still names CSV
    ("media type", lambda d: _dist(d, media_type=None), {"media_type"}, 10, None),
    ("unlisted media type", lambda d: _dist(d, media_type="text/x-bikes"), {"format_vocabulary"}, 10, None),
    ("proprietary", lambda d: _dist(d, format="XLSX", media_type=None), {"non_proprietary", "media_type"}, 30, None),
    ("no licence", lambda d: _dist(d, licence=None), {"licence", "licence_vocabulary"}, 30, None),
    ("unlisted licence", lambda d: _dist(d, licence="https://city.example/licence"), {"licence_vocabulary"}, 10, None),
    (
        "no access rights",
        lambda d: dataclasses.replace(d, access_rights=None),
        {"access_rights", "access_rights_vocabulary"},
        15,
        None,
    ),
    (
        "own access rights",
        lambda d: dataclasses.replace(d, access_rights="open"),
        {"access_rights_vocabulary"},
        5,
        None,
    ),
    ("contact point", lambda d: dataclasses.replace(d, contact_point={}), {"contact_point"}, 20, None),
    ("publisher", lambda d: dataclasses.replace(d, publisher=None), {"publisher"}, 10, None),
    ("rights", lambda d: _dist(d, rights=None), {"rights"}, 5, None),
    ("byte size", lambda d: _dist(d, byte_size=None), {"byte_size"}, 5, None),
    ("issued", lambda d: dataclasses.replace(d, issued=None), {"issued"}, 5, None),
    ("modified", lambda d: dataclasses.replace(d, modified=None), {"modified"}, 5, None),
]


@pytest.mark.parametrize(("what", "change", "off", "lost", "links"), OFF, ids=[o[0] for o in OFF])
def test_each_indicator_off_loses_exactly_its_points(
    vocab: MqaVocabularies, what: str, change: Change, off: set[str], lost: int, links: dict[str, bool] | None
) -> None:
    score = _score(change(full_dataset()), vocab, links or ALL_OK)
    met = _met(score)
    assert {key for key, value in met.items() if not value} == off
    assert score.points == 405 - lost


def test_compliance_is_what_the_caller_says(vocab: MqaVocabularies) -> None:
    score = _score(full_dataset(), vocab, ok=False)
    assert score.points == 375
    assert score.dimensions[Dimension.INTEROPERABILITY] == 80
    assert _met(score)["dcat_ap_compliant"] is False


def test_machine_readable_follows_the_list(vocab: MqaVocabularies) -> None:
    # The shared list names every EU file type; with CSV taken out only that indicator goes.
    narrower = dataclasses.replace(vocab, machine_readable=vocab.machine_readable - {"CSV"})
    score = _score(full_dataset(), narrower)
    assert {k for k, v in _met(score).items() if not v} == {"machine_readable"}
    assert score.points == 385


def test_without_link_checks_the_url_indicators_are_not_assessed(vocab: MqaVocabularies) -> None:
    score = _score(full_dataset(), vocab, links=None)
    met = _met(score)
    assert met["access_url_ok"] is None
    assert met["download_url_ok"] is None
    assert score.points == 325
    assert score.band is Band.GOOD
    partly = _score(full_dataset(), vocab, links={ACCESS: True})  # the download URL not checked yet
    assert _met(partly)["download_url_ok"] is None
    assert partly.points == 375


def test_the_best_distribution_counts_not_a_mix(vocab: MqaVocabularies) -> None:
    rich_format = Distribution(
        access_url="https://city.example/a.csv",
        uri="https://city.example/dist/a",
        format="CSV",
        media_type="text/csv",
    )  # 50 + 20 + 10 + 10 + 20 + 20 + licence 30 = 160
    download_only = Distribution(
        access_url="https://city.example/b",
        uri="https://city.example/dist/b",
        download_url="https://city.example/b.bin",
        rights="yes",
        byte_size=3,
    )  # 50 + 20 + 30 + 5 + 5 + licence 30 = 140
    ds = Dataset(
        uri="https://city.example/datasets/two",
        title={"en": "Two"},
        licence="cc-by",
        distributions=[download_only, rich_format],
    )
    links = {"https://city.example/a.csv": True, "https://city.example/b": True, "https://city.example/b.bin": True}
    score = _score(ds, vocab, links=links, ok=False)
    assert score.distribution == "https://city.example/dist/a"
    assert score.points == 160
    assert _met(score)["download_url"] is False
    assert score.dimensions[Dimension.REUSABILITY] == 30  # the dataset's licence, inherited by the distribution


def test_an_empty_dataset_scores_nothing(vocab: MqaVocabularies) -> None:
    score = _score(Dataset(uri="urn:x:empty", title={"en": "Empty"}), vocab, links={}, ok=False)
    assert score.points == 0
    assert score.band is Band.BAD
    assert score.distribution is None
    assert mandatory_fields_present(Dataset(uri="urn:x:empty", title={"en": "Empty"})) is False


@pytest.mark.parametrize(
    ("points", "expected"),
    [
        (0, Band.BAD),
        (120, Band.BAD),
        (120.99, Band.BAD),
        (121, Band.SUFFICIENT),
        (220, Band.SUFFICIENT),
        (221, Band.GOOD),
        (350, Band.GOOD),
        (350.5, Band.GOOD),
        (351, Band.EXCELLENT),
        (405, Band.EXCELLENT),
    ],
)
def test_bands_at_their_boundaries(points: float, expected: Band) -> None:
    assert band(points) is expected


def _strip(ds: Dataset, keep: set[str]) -> Dataset:
    """A dataset meeting only the dataset indicators in ``keep`` (no distributions)."""
    full = full_dataset()
    return dataclasses.replace(
        ds,
        keywords=full.keywords if "keyword" in keep else {},
        themes=full.themes if "theme" in keep else [],
        spatial=full.spatial if "spatial" in keep else [],
        temporal=full.temporal if "temporal" in keep else None,
        access_rights=full.access_rights if "access_rights" in keep else None,
        contact_point=full.contact_point if "contact_point" in keep else {},
        publisher=full.publisher if "publisher" in keep else None,
        issued=full.issued if "issued" in keep else None,
        modified=full.modified if "modified" in keep else None,
        distributions=[],
    )


@pytest.mark.parametrize(
    ("keep", "compliant", "points", "expected"),
    [
        ({"keyword", "theme", "spatial", "temporal", "contact_point"}, False, 120, Band.BAD),
        ({"keyword", "theme", "spatial", "temporal", "contact_point", "issued"}, False, 125, Band.SUFFICIENT),
        ({"keyword", "theme", "spatial", "temporal", "publisher", "modified"}, True, 145, Band.SUFFICIENT),
    ],
)
def test_dataset_scores_either_side_of_the_bad_boundary(
    vocab: MqaVocabularies, keep: set[str], compliant: bool, points: int, expected: Band
) -> None:
    score = _score(_strip(full_dataset(), keep), vocab, ok=compliant)
    assert score.points == points
    assert score.band is expected


def test_dataset_scores_either_side_of_the_good_and_excellent_boundaries(vocab: MqaVocabularies) -> None:
    # 405 - 50 (access URL down) - 5 (rights) = 350: Good; 405 - 50 = 355: Excellent.
    down = {ACCESS: False, DOWNLOAD: True}
    assert _score(_dist(full_dataset(), rights=None), vocab, links=down).band is Band.GOOD
    assert _score(_dist(full_dataset(), rights=None), vocab, links=down).points == 350
    assert _score(full_dataset(), vocab, links=down).points == 355
    assert _score(full_dataset(), vocab, links=down).band is Band.EXCELLENT
    # 220 and 225: 140 of dataset indicators, compliance (30) and an answering access URL (50); then a byte size.
    keep = {"keyword", "theme", "spatial", "temporal", "contact_point", "publisher", "issued", "modified"}
    near = dataclasses.replace(_strip(full_dataset(), keep), distributions=[Distribution(access_url=ACCESS)])
    assert _score(near, vocab, links={ACCESS: True}).points == 220
    assert _score(near, vocab, links={ACCESS: True}).band is Band.SUFFICIENT
    sized = _dist(near, byte_size=1)
    assert _score(sized, vocab, links={ACCESS: True}).points == 225
    assert _score(sized, vocab, links={ACCESS: True}).band is Band.GOOD


def test_aggregation_is_the_weighted_share_per_indicator(vocab: MqaVocabularies) -> None:
    full = _score(full_dataset(), vocab)  # 405
    no_keyword = _score(dataclasses.replace(full_dataset(), keywords={}), vocab)  # 375
    empty = _score(Dataset(uri="urn:x:e", title={"en": "E"}), vocab, links=None, ok=False)  # 0
    summary = aggregate([full, no_keyword, empty])
    shares = {s.indicator.key: s for s in summary.shares}
    assert summary.datasets == 3
    assert shares["keyword"].met == 1
    assert shares["keyword"].share == pytest.approx(1 / 3)
    assert shares["keyword"].points == pytest.approx(10.0)
    assert shares["theme"].points == pytest.approx(20.0)
    assert shares["access_url_ok"].assessed == 3  # the empty one has no URL at all: assessed, not met
    assert summary.points == pytest.approx((405 + 375 + 0) / 3)
    assert summary.dimensions[Dimension.FINDABILITY] == pytest.approx((100 + 70 + 0) / 3)
    assert summary.band is Band.GOOD
    assert dict(summary.bands) == {Band.EXCELLENT: 2, Band.BAD: 1}
    body = summary.to_json()
    assert body["points"] == 260.0
    assert body["bands"] == {"Excellent": 2, "Good": 0, "Sufficient": 0, "Bad": 1}


def test_unchecked_urls_are_counted_as_not_assessed_in_aggregates(vocab: MqaVocabularies) -> None:
    summary = aggregate([_score(full_dataset(), vocab, links=None), _score(full_dataset(), vocab)])
    shares = {s.indicator.key: s for s in summary.shares}
    assert (shares["access_url_ok"].met, shares["access_url_ok"].assessed) == (1, 1)
    assert summary.points == pytest.approx((325 + 405) / 2)


def test_an_empty_set_has_no_band() -> None:
    summary = aggregate([])
    assert (summary.datasets, summary.points, summary.band) == (0, 0.0, None)


def test_dqv_measurements_use_the_dcatno_mqa_metrics(vocab: MqaVocabularies, shared_data: Path) -> None:
    graph = Graph().parse(shared_data / "mqa" / "dcatno-mqa-vocabulary.ttl")
    metrics = {str(s) for s in graph.subjects(RDF.type, URIRef("http://www.w3.org/ns/dqv#Metric"))}
    score = _score(_dist(full_dataset(), rights=None), vocab, links={ACCESS: True})
    measurements = dqv_measurements(score)
    assert {metric for metric, _on, _value in measurements} <= metrics
    by_metric = {metric: (on, value) for metric, on, value in measurements}
    assert by_metric[MQA + "keywordAvailability"] == ("https://city.example/datasets/bikes", True)
    assert by_metric[MQA + "rightsAvailability"] == ("https://city.example/datasets/bikes/csv", False)
    assert MQA + "downloadUrlStatusCode" not in by_metric  # not checked yet: no measurement
    assert by_metric[MQA + "score"] == ("https://city.example/datasets/bikes", 370.0)
    assert len(measurements) == 23


@pytest.mark.parametrize(
    ("text", "code"),
    [
        ("CSV", "CSV"),
        (".csv", "CSV"),
        ("text/csv", "CSV"),
        ("http://publications.europa.eu/resource/authority/file-type/CSV", "CSV"),
        ("https://www.iana.org/assignments/media-types/text/csv", "CSV"),
        ("GeoJSON", "GEOJSON"),
        ("application/vnd.geo+json", "GEOJSON"),
        ("Shapefile", "SHP"),
        ("text/xml", "XML"),
        ("bikes format", None),
        ("application/x-bikes", None),
    ],
)
def test_format_codes(vocab: MqaVocabularies, text: str, code: str | None) -> None:
    assert format_code(text, vocab) == code


@pytest.mark.parametrize(
    "licence",
    ["cc-by", "https://creativecommons.org/licenses/by/4.0/deed.no", "https://data.norge.no/nlod/en/2.0/", "CC0-1.0"],
)
def test_licence_spellings_count_as_listed(vocab: MqaVocabularies, licence: str) -> None:
    score = _score(_dist(full_dataset(), licence=licence), vocab)
    assert _met(score)["licence_vocabulary"] is True


def test_mandatory_fields(vocab: MqaVocabularies) -> None:
    full = full_dataset()
    assert mandatory_fields_present(dataclasses.replace(full, description={})) is False
    assert mandatory_fields_present(_dist(full, access_url="not a url")) is False
    assert mandatory_fields_present(dataclasses.replace(full, publisher=Agent(name={"en": " "}))) is False
    assert mandatory_fields_present(dataclasses.replace(full, publisher=None)) is True


def test_a_missing_list_is_one_clear_error(tmp_path: Path) -> None:
    with pytest.raises(ConfigError, match=r"MQA vocabulary list .*file-types\.csv cannot be read"):
        load_mqa_vocabularies(tmp_path)
