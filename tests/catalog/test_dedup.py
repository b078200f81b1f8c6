"""catalog.dedup: candidates across sources by folded title + publisher or by a shared distribution URL."""

from __future__ import annotations

from catalog.dedup import Candidates, Reason, find_candidates, fold, url_key
from catalog.model import Agent, Dataset, Distribution


def _ds(
    uri: str, title: str, publisher: str | None = "Oslo kommune", urls: tuple[str, ...] = (), lang: str = "nb"
) -> Dataset:
    return Dataset(
        uri=uri,
        title={lang: title},
        publisher=Agent(name={lang: publisher}) if publisher else None,
        distributions=[Distribution(access_url=u) for u in urls],
    )


def test_folding_ignores_case_accents_punctuation_and_spacing() -> None:
    assert fold("  Bysykkel \u2013 STASJONER! ") == "bysykkel stasjoner"
    assert fold("Café Ålesund") == fold("cafe alesund")
    assert fold("Vær") == "vær"  # æ is a letter of its own, not an accented a
    assert fold("Nedbør/temperatur") == "nedbør temperatur"


def test_url_keys_ignore_scheme_www_default_port_fragment_and_trailing_slash() -> None:
    assert url_key("https://www.Oslo.kommune.no:443/data/bikes.csv/#top") == "oslo.kommune.no/data/bikes.csv"
    assert url_key("http://oslo.kommune.no/data/bikes.csv") == "oslo.kommune.no/data/bikes.csv"
    assert url_key("http://oslo.kommune.no:8080/x?y=1") == "oslo.kommune.no:8080/x?y=1"


def test_same_title_and_publisher_under_two_uris_is_a_candidate() -> None:
    city = _ds("https://oslo.kommune.no/datasets/bysykkel", "Bysykkel-stasjoner")
    national = _ds("https://data.norge.no/datasets/4f1c", "bysykkel stasjoner", publisher="OSLO KOMMUNE")
    other = _ds("https://bergen.kommune.no/datasets/bysykkel", "Bysykkel-stasjoner", publisher="Bergen kommune")
    groups = find_candidates([city, national, other])
    assert groups == [
        Candidates(
            Reason.SAME_TITLE_AND_PUBLISHER,
            "bysykkel stasjoner | oslo kommune",
            ("https://data.norge.no/datasets/4f1c", "https://oslo.kommune.no/datasets/bysykkel"),
        )
    ]
    assert city.uri == "https://oslo.kommune.no/datasets/bysykkel"  # nothing is merged or changed
    assert len(city.distributions) == 0


def test_a_shared_distribution_url_is_a_candidate_even_with_other_titles() -> None:
    a = _ds("https://aarhus.dk/ds/1", "Cykelstier", urls=("https://aarhus.dk/files/cykel.csv",))
    b = _ds(
        "https://portal.example/ds/9", "Bike lanes Aarhus", "Aarhus Municipality", ("http://aarhus.dk/files/cykel.csv",)
    )
    groups = find_candidates([a, b])
    assert [(g.reason, g.uris) for g in groups] == [(Reason.SHARED_DISTRIBUTION_URL, (a.uri, b.uri))]
    assert groups[0].key == "aarhus.dk/files/cykel.csv"
    assert groups[0].to_json() == {
        "reason": "shared-distribution-url",
        "key": "aarhus.dk/files/cykel.csv",
        "datasets": [a.uri, b.uri],
    }


def test_both_reasons_are_reported_and_one_group_per_reason_and_set() -> None:
    urls = ("https://x.example/a.csv", "https://x.example/b.csv")
    a = _ds("urn:a", "Luftkvalitet", urls=urls)
    b = _ds("urn:b", "Luftkvalitet", urls=urls)
    groups = find_candidates([a, b])
    assert [(g.reason, g.uris) for g in groups] == [
        (Reason.SAME_TITLE_AND_PUBLISHER, ("urn:a", "urn:b")),
        (Reason.SHARED_DISTRIBUTION_URL, ("urn:a", "urn:b")),
    ]


def test_no_candidates_without_a_publisher_or_for_one_uri() -> None:
    assert find_candidates([_ds("urn:a", "Budget", None), _ds("urn:b", "Budget", None)]) == []
    same = _ds("urn:a", "Budget")
    assert find_candidates([same, same]) == []  # one dataset listed twice is one dataset
    assert find_candidates([_ds("urn:a", "Budget"), _ds("urn:b", "Budget 2024")]) == []


def test_a_key_shared_by_too_many_is_noise() -> None:
    generic = tuple(_ds(f"urn:{n}", f"Data {n}", urls=("https://portal.example/",)) for n in range(5))
    assert find_candidates(generic, max_group=4) == []
    assert len(find_candidates(generic, max_group=5)[0].uris) == 5
