"""The canonical licence table: the records of catalogue.md and the spellings real catalogues use for them."""

from __future__ import annotations

import pytest

from schemas.licences import (
    CC0_1_0,
    CC_BY_4_0,
    CC_BY_SA_4_0,
    DL_DE_BY_2_0,
    LICENCES,
    NLOD_1_0,
    NLOD_2_0,
    ODBL_1_0,
    ODC_BY_1_0,
    PDDL_1_0,
    Licence,
    canonical_licence,
    licence_key,
)


@pytest.mark.parametrize(
    ("licence", "uri", "spdx", "eu_code"),
    [
        (NLOD_2_0, "http://data.norge.no/nlod/no/2.0", "NLOD-2.0", "NLOD_2_0"),
        (CC_BY_4_0, "http://creativecommons.org/licenses/by/4.0/", "CC-BY-4.0", "CC_BY_4_0"),
        (CC0_1_0, "http://creativecommons.org/publicdomain/zero/1.0/", "CC0-1.0", "CC0"),
        (CC_BY_SA_4_0, "http://creativecommons.org/licenses/by-sa/4.0/", "CC-BY-SA-4.0", "CC_BYSA_4_0"),
        (ODBL_1_0, "http://opendatacommons.org/licenses/odbl/1.0/", "ODbL-1.0", "ODC_BL"),
        (ODC_BY_1_0, "http://opendatacommons.org/licenses/by/1.0/", "ODC-By-1.0", "ODC_BY"),
        (PDDL_1_0, "http://opendatacommons.org/licenses/pddl/1.0/", "PDDL-1.0", "ODC_PDDL"),
        (DL_DE_BY_2_0, "https://www.govdata.de/dl-de/by-2-0", "DL-DE-BY-2.0", "DLDE_BY_2_0"),
    ],
)
def test_table_is_the_one_of_the_catalogue_reference(licence: Licence, uri: str, spdx: str, eu_code: str) -> None:
    assert (licence.uri, licence.spdx, licence.eu_code) == (uri, spdx, eu_code)
    assert licence.eu_uri == "http://publications.europa.eu/resource/authority/licence/" + eu_code
    assert canonical_licence(uri) is licence


@pytest.mark.parametrize(
    ("text", "expected"),
    [
        # CKAN licence ids
        ("cc-by", CC_BY_4_0),
        ("cc-by-4.0", CC_BY_4_0),
        ("CC-BY", CC_BY_4_0),
        ("cc-zero", CC0_1_0),
        ("cc-by-sa", CC_BY_SA_4_0),
        ("odc-odbl", ODBL_1_0),
        ("odc-by", ODC_BY_1_0),
        ("odc-pddl", PDDL_1_0),
        ("dl-de-by-2.0", DL_DE_BY_2_0),
        # http/https, www, trailing slash, legal code and deed tails
        ("https://creativecommons.org/licenses/by/4.0/", CC_BY_4_0),
        ("http://creativecommons.org/licenses/by/4.0", CC_BY_4_0),
        ("https://www.creativecommons.org/licenses/by/4.0", CC_BY_4_0),
        ("https://creativecommons.org/licenses/by/4.0/legalcode", CC_BY_4_0),
        ("https://creativecommons.org/licenses/by/4.0/legalcode.no", CC_BY_4_0),
        ("https://creativecommons.org/licenses/by/4.0/deed.da", CC_BY_4_0),
        ("  HTTPS://creativecommons.org/publicdomain/zero/1.0/  ", CC0_1_0),
        ("https://opendatacommons.org/licenses/odbl/1-0/", None),  # a different path is not guessed at
        ("https://opendatacommons.org/licenses/odbl/1.0", ODBL_1_0),
        # unversioned URLs mean the current version
        ("http://creativecommons.org/licenses/by/", CC_BY_4_0),
        ("https://opendatacommons.org/licenses/odbl/", ODBL_1_0),
        ("https://data.norge.no/nlod/no", NLOD_2_0),
        ("http://data.norge.no/nlod/", NLOD_2_0),
        # NLOD in Norwegian and English, both versions
        ("https://data.norge.no/nlod/no/2.0", NLOD_2_0),
        ("https://data.norge.no/nlod/en/2.0/", NLOD_2_0),
        ("http://data.norge.no/nlod/no/1.0", NLOD_1_0),
        ("https://data.norge.no/nlod/en/1.0", NLOD_1_0),
        # SPDX ids, EU authority codes and IRIs, the Open Definition URLs CKAN uses
        ("CC-BY-4.0", CC_BY_4_0),
        ("NLOD-2.0", NLOD_2_0),
        ("ODbL-1.0", ODBL_1_0),
        ("CC_BY_4_0", CC_BY_4_0),
        ("http://publications.europa.eu/resource/authority/licence/NLOD_2_0", NLOD_2_0),
        ("https://publications.europa.eu/resource/authority/licence/CC0", CC0_1_0),
        ("http://www.opendefinition.org/licenses/cc-by", CC_BY_4_0),
        ("http://www.opendefinition.org/licenses/odc-odbl", ODBL_1_0),
        # names
        ("Creative Commons Attribution 4.0 International", CC_BY_4_0),
        ("Norsk lisens for offentlige data (NLOD) 2.0", NLOD_2_0),
    ],
)
def test_variants_map_to_one_record(text: str, expected: Licence | None) -> None:
    assert canonical_licence(text) is expected


@pytest.mark.parametrize(
    "text",
    ["other-open", "other-at", "notspecified", "cc-nc", "", "http://creativecommons.org/licenses/by/3.0/", "MIT"],
)
def test_ids_that_name_no_known_licence_are_none(text: str) -> None:
    assert canonical_licence(text) is None


def test_no_spelling_names_two_licences() -> None:
    owners: dict[str, str] = {}
    for licence in LICENCES:
        for spelling in licence.spellings():
            key = licence_key(spelling)
            assert owners.setdefault(key, licence.name) == licence.name, f"{spelling!r} names two licences"
    assert all(canonical_licence(s) is lic for lic in LICENCES for s in lic.spellings())


def test_key_drops_only_what_does_not_change_the_licence() -> None:
    assert licence_key("HTTPS://www.Creativecommons.org/licenses/BY/4.0/legalcode.nb/") == (
        "creativecommons.org/licenses/by/4.0"
    )
    assert licence_key(" CC-BY ") == "cc-by"
