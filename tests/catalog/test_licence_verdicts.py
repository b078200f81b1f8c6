"""catalog.licence_verdicts: one record per licence spelling, and the combination rules of the reference."""

from __future__ import annotations

import pytest

from catalog.licence_verdicts import (
    Family,
    LicenceRecord,
    UnknownLicence,
    combine,
    normalise_licence,
)

NLOD = "http://data.norge.no/nlod/no/2.0"
CC_BY = "http://creativecommons.org/licenses/by/4.0/"
CC0 = "http://creativecommons.org/publicdomain/zero/1.0/"
BY_SA = "http://creativecommons.org/licenses/by-sa/4.0/"
ODBL = "http://opendatacommons.org/licenses/odbl/1.0/"


@pytest.mark.parametrize(
    ("text", "uri", "spdx", "eu_code"),
    [
        # CKAN ids
        ("cc-by", CC_BY, "CC-BY-4.0", "CC_BY_4_0"),
        ("cc-by-4.0", CC_BY, "CC-BY-4.0", "CC_BY_4_0"),
        ("cc-zero", CC0, "CC0-1.0", "CC0"),
        ("odc-odbl", ODBL, "ODbL-1.0", "ODC_BL"),
        ("odc-by", "http://opendatacommons.org/licenses/by/1.0/", "ODC-By-1.0", "ODC_BY"),
        ("odc-pddl", "http://opendatacommons.org/licenses/pddl/1.0/", "PDDL-1.0", "ODC_PDDL"),
        ("cc-by-sa", BY_SA, "CC-BY-SA-4.0", "CC_BYSA_4_0"),
        # http/https and trailing slashes
        ("https://creativecommons.org/licenses/by/4.0/", CC_BY, "CC-BY-4.0", "CC_BY_4_0"),
        ("http://creativecommons.org/licenses/by/4.0", CC_BY, "CC-BY-4.0", "CC_BY_4_0"),
        ("https://data.norge.no/nlod/no/2.0/", NLOD, "NLOD-2.0", "NLOD_2_0"),
        ("https://opendatacommons.org/licenses/odbl/1.0", ODBL, "ODbL-1.0", "ODC_BL"),
        # language versions
        ("https://data.norge.no/nlod/en/2.0", NLOD, "NLOD-2.0", "NLOD_2_0"),
        ("https://creativecommons.org/licenses/by/4.0/deed.no", CC_BY, "CC-BY-4.0", "CC_BY_4_0"),
        ("https://creativecommons.org/licenses/by/4.0/legalcode.da", CC_BY, "CC-BY-4.0", "CC_BY_4_0"),
        # unversioned
        ("http://data.norge.no/nlod", NLOD, "NLOD-2.0", "NLOD_2_0"),
        ("https://data.norge.no/nlod/no/", NLOD, "NLOD-2.0", "NLOD_2_0"),
        # SPDX ids, EU codes and IRIs
        ("CC-BY-4.0", CC_BY, "CC-BY-4.0", "CC_BY_4_0"),
        ("http://publications.europa.eu/resource/authority/licence/NLOD_2_0", NLOD, "NLOD-2.0", "NLOD_2_0"),
        ("DL-DE-BY-2.0", "https://www.govdata.de/dl-de/by-2-0", "DL-DE-BY-2.0", "DLDE_BY_2_0"),
        # the not-open ones the hub must recognise to refuse
        ("https://creativecommons.org/licenses/by-nc/4.0/", "http://creativecommons.org/licenses/by-nc/4.0/",
         "CC-BY-NC-4.0", "CC_BYNC_4_0"),
        ("cc-nc", "http://creativecommons.org/licenses/by-nc/4.0/", "CC-BY-NC-4.0", "CC_BYNC_4_0"),
        ("CC-BY-ND-4.0", "http://creativecommons.org/licenses/by-nd/4.0/", "CC-BY-ND-4.0", "CC_BYND_4_0"),
    ],
)  # fmt: skip
def test_every_spelling_is_one_record(text: str, uri: str, spdx: str, eu_code: str) -> None:
    record = normalise_licence(text)
    assert isinstance(record, LicenceRecord)
    assert (record.uri, record.spdx, record.eu_code) == (uri, spdx, eu_code)
    assert record.eu_uri == "http://publications.europa.eu/resource/authority/licence/" + eu_code


@pytest.mark.parametrize(
    ("text", "family", "is_open"),
    [
        ("cc-zero", Family.PUBLIC_DOMAIN, True),
        ("odc-pddl", Family.PUBLIC_DOMAIN, True),
        ("nlod", Family.ATTRIBUTION, True),
        ("cc-by", Family.ATTRIBUTION, True),
        ("uk-ogl", Family.ATTRIBUTION, True),
        ("cc-by-sa", Family.SHARE_ALIKE, True),
        ("odc-odbl", Family.DATABASE_SHARE_ALIKE, True),
        ("cc-by-nc-sa", Family.NON_COMMERCIAL, False),
        ("creativecommons.org/licenses/by-nc-nd/4.0", Family.NON_COMMERCIAL, False),
        ("cc-by-nd", Family.NO_DERIVATIVES, False),
    ],
)
def test_families_and_openness(text: str, family: Family, is_open: bool) -> None:
    record = normalise_licence(text)
    assert isinstance(record, LicenceRecord)
    assert (record.family, record.open) == (family, is_open)


@pytest.mark.parametrize("text", ["other-open", "notspecified", "Fri bruk", "https://city.example/our-licence", ""])
def test_unknown_licences_are_reported_not_guessed(text: str) -> None:
    record = normalise_licence(text)
    assert isinstance(record, UnknownLicence)
    assert record.text == text
    assert record.to_json()["known"] is False
    assert record.reason in ("no licence given", "names no licence the hub knows (CKAN's other-* ids name none either)")


def test_nlod_and_cc_by_combine_under_cc_by_with_the_nlod_attribution() -> None:
    verdict = combine(
        [
            ("https://oslo.kommune.no/datasets/bysykkel", "https://data.norge.no/nlod/en/2.0/", "Oslo kommune", "NO"),
            ("https://aarhus.dk/datasets/cykler", "cc-by", "Aarhus Kommune", "DK"),
        ]
    )
    assert verdict.combinable is True
    assert verdict.licence is not None
    assert verdict.licence.uri == CC_BY
    assert verdict.blockers == ()
    assert verdict.attribution == (
        "Contains data under the Norwegian licence for Open Government data (NLOD) distributed by Oslo kommune",
        f"https://aarhus.dk/datasets/cykler, by Aarhus Kommune, licensed under CC BY 4.0 ({CC_BY})",
    )
    body = verdict.to_json()
    assert body["licence"]["spdx"] == "CC-BY-4.0"
    assert [d["country"] for d in body["datasets"]] == ["NO", "DK"]


def test_one_nlod_line_per_licensor() -> None:
    verdict = combine([("a", "nlod", "Bergen kommune", "NO"), ("b", NLOD, "Bergen kommune", "NO")])
    assert verdict.licence is not None
    assert verdict.licence.uri == NLOD  # the same licence stays itself
    assert verdict.attribution == (
        "Contains data under the Norwegian licence for Open Government data (NLOD) distributed by Bergen kommune",
    )


def test_cc0_and_cc_by_combine_under_cc_by() -> None:
    verdict = combine([("a", "cc-zero", "Vejle Kommune", "DK"), ("b", CC_BY, "Odense Kommune", "DK")])
    assert verdict.combinable is True
    assert verdict.licence is not None
    assert verdict.licence.uri == CC_BY
    assert verdict.attribution == (f"b, by Odense Kommune, licensed under CC BY 4.0 ({CC_BY})",)  # CC0 asks none


def test_public_domain_only_needs_no_attribution() -> None:
    verdict = combine([("a", "cc-zero", "X", "DK"), ("b", "odc-pddl", "Y", "DK")])
    assert verdict.licence is not None
    assert (verdict.licence.uri, verdict.attribution) == (CC0, ())


@pytest.mark.parametrize(
    ("others", "expected"),
    [
        (["cc-by", "nlod"], BY_SA),
        (["cc-zero"], BY_SA),
    ],
)
def test_share_alike_is_the_upper_bound(others: list[str], expected: str) -> None:
    items = [("sa", "cc-by-sa-4.0", "P", "DK")] + [(f"d{i}", t, "P", "NO") for i, t in enumerate(others)]
    verdict = combine(items)
    assert verdict.licence is not None
    assert verdict.licence.uri == expected


def test_odbl_is_a_branch_of_its_own() -> None:
    verdict = combine([("a", "odc-odbl", "Aalborg Kommune", "DK"), ("b", "cc-by", "Aarhus Kommune", "DK")])
    assert verdict.licence is not None
    assert verdict.licence.uri == ODBL


def test_cc_by_sa_and_odbl_can_only_be_bundled_side_by_side() -> None:
    verdict = combine(
        [("sa", BY_SA, "Copenhagen", "DK"), ("odbl", "odc-odbl", "Aalborg", "DK"), ("by", "cc-by", "Aarhus", "DK")]
    )
    assert verdict.combinable is False
    assert verdict.side_by_side is True
    assert verdict.licence is None
    assert [b.dataset for b in verdict.blockers] == ["sa", "odbl"]
    assert "CC BY-SA 4.0 and ODbL 1.0 are both share-alike" in verdict.blockers[0].reason
    assert "ODbL 1.0 and CC BY-SA 4.0 are both share-alike" in verdict.blockers[1].reason
    assert all("side by side, not merged" in b.reason for b in verdict.blockers)
    assert len(verdict.attribution) == 3


@pytest.mark.parametrize(
    ("text", "needle"),
    [
        ("cc-by-nc", "CC BY-NC 4.0 forbids commercial use: not open"),
        ("https://creativecommons.org/licenses/by-nd/4.0/", "CC BY-ND 4.0 forbids adaptations: not open"),
        ("other-open", "unknown licence"),
        (None, "no licence stated"),
        ("nlod-1.0", "NLOD 1.0 names no licence a combined work may take"),
    ],
)
def test_not_open_unknown_and_missing_licences_block_with_a_reason(text: str | None, needle: str) -> None:
    verdict = combine([("ok", "cc-by", "Aarhus", "DK"), ("bad", text, "Somebody", "NO")])
    assert verdict.combinable is False
    assert verdict.side_by_side is False
    assert verdict.licence is None
    assert [(b.dataset, b.licence) for b in verdict.blockers] == [("bad", text)]
    assert needle in verdict.blockers[0].reason
    assert verdict.to_json()["blockers"][0]["dataset"] == "bad"
