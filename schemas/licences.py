"""The canonical licence table: one record per licence, and the spellings real catalogues use for it.

A licence arrives as a CKAN licence id (``cc-by``, ``odc-odbl``), an SPDX id (``CC-BY-4.0``), an EU authority code or
URI (``CC_BY_4_0``), or a URL in any of its http/https, ``www.``, trailing-slash, ``legalcode``/``deed.xx`` or
unversioned forms. :func:`canonical_licence` maps all of them to one :class:`Licence`, whose ``uri`` is the
canonical URI of ``shared/reference/catalogue.md``. An unversioned URL or CKAN id means the current version.

CKAN's ``other-open``, ``other-at``, ``notspecified`` and friends name no licence: they map to None, as does anything
unknown. Nothing here reads a file.
"""

from __future__ import annotations

import re
from collections.abc import Mapping
from dataclasses import dataclass
from functools import cache

EU_LICENCE = "http://publications.europa.eu/resource/authority/licence/"


@dataclass(frozen=True, slots=True)
class Licence:
    """One licence: its canonical URI, SPDX id, EU authority code, and the other spellings seen in the wild."""

    name: str
    uri: str
    spdx: str
    eu_code: str
    variants: tuple[str, ...] = ()

    @property
    def eu_uri(self) -> str:
        """The licence's concept in the EU Publications Office licence authority table."""
        return EU_LICENCE + self.eu_code

    def spellings(self) -> tuple[str, ...]:
        """Every text that names this licence (canonical forms first)."""
        return (self.uri, self.eu_uri, self.spdx, self.eu_code, self.name, *self.variants)


NLOD_2_0 = Licence(
    "NLOD 2.0",
    "http://data.norge.no/nlod/no/2.0",
    "NLOD-2.0",
    "NLOD_2_0",
    (
        "https://data.norge.no/nlod/en/2.0",
        "data.norge.no/nlod/no",
        "data.norge.no/nlod/en",
        "data.norge.no/nlod",
        "nlod",
        "nlod2",
        "nlod-2.0",
        "Norsk lisens for offentlige data (NLOD) 2.0",
        "Norwegian Licence for Open Government Data (NLOD) 2.0",
    ),
)
NLOD_1_0 = Licence(
    "NLOD 1.0",
    "http://data.norge.no/nlod/no/1.0",
    "NLOD-1.0",
    "NLOD_1_0",
    ("https://data.norge.no/nlod/en/1.0", "nlod-1.0"),
)
CC_BY_4_0 = Licence(
    "CC BY 4.0",
    "http://creativecommons.org/licenses/by/4.0/",
    "CC-BY-4.0",
    "CC_BY_4_0",
    (
        "creativecommons.org/licenses/by",
        "cc-by",
        "cc-by-4.0",
        "cc-by-40",
        "cc by",
        "opendefinition.org/licenses/cc-by",
        "Creative Commons Attribution 4.0",
        "Creative Commons Attribution 4.0 International",
        "Creative Commons Navngivelse 4.0 Internasjonal",
    ),
)
CC0_1_0 = Licence(
    "CC0 1.0",
    "http://creativecommons.org/publicdomain/zero/1.0/",
    "CC0-1.0",
    "CC0",
    (
        "creativecommons.org/publicdomain/zero",
        "cc-zero",
        "cc0",
        "cc-0",
        "cc0-1.0",
        "opendefinition.org/licenses/cc-zero",
        "Creative Commons CCZero",
        "CC0 1.0 Universal",
    ),
)
CC_BY_SA_4_0 = Licence(
    "CC BY-SA 4.0",
    "http://creativecommons.org/licenses/by-sa/4.0/",
    "CC-BY-SA-4.0",
    "CC_BYSA_4_0",
    (
        "creativecommons.org/licenses/by-sa",
        "cc-by-sa",
        "cc-by-sa-4.0",
        "opendefinition.org/licenses/cc-by-sa",
        "Creative Commons Attribution Share-Alike 4.0",
    ),
)
ODBL_1_0 = Licence(
    "ODbL 1.0",
    "http://opendatacommons.org/licenses/odbl/1.0/",
    "ODbL-1.0",
    "ODC_BL",
    (
        "opendatacommons.org/licenses/odbl",
        "odc-odbl",
        "odbl",
        "opendefinition.org/licenses/odc-odbl",
        "Open Data Commons Open Database License (ODbL)",
    ),
)
ODC_BY_1_0 = Licence(
    "ODC-BY 1.0",
    "http://opendatacommons.org/licenses/by/1.0/",
    "ODC-By-1.0",
    "ODC_BY",
    (
        "opendatacommons.org/licenses/by",
        "odc-by",
        "opendefinition.org/licenses/odc-by",
        "Open Data Commons Attribution License",
    ),
)
PDDL_1_0 = Licence(
    "PDDL 1.0",
    "http://opendatacommons.org/licenses/pddl/1.0/",
    "PDDL-1.0",
    "ODC_PDDL",
    (
        "opendatacommons.org/licenses/pddl",
        "odc-pddl",
        "pddl",
        "opendefinition.org/licenses/odc-pddl",
        "Open Data Commons Public Domain Dedication and License (PDDL)",
    ),
)
DL_DE_BY_2_0 = Licence(
    "DL-DE-BY 2.0",
    "https://www.govdata.de/dl-de/by-2-0",
    "DL-DE-BY-2.0",
    "DLDE_BY_2_0",
    ("dl-by-de/2.0", "dl-de-by-2.0", "Datenlizenz Deutschland Namensnennung 2.0"),
)
LICENCES: tuple[Licence, ...] = (
    NLOD_2_0,
    NLOD_1_0,
    CC_BY_4_0,
    CC0_1_0,
    CC_BY_SA_4_0,
    ODBL_1_0,
    ODC_BY_1_0,
    PDDL_1_0,
    DL_DE_BY_2_0,
)

_SCHEME = re.compile(r"^[a-z][a-z0-9+.-]*://")
# A URL's tail that does not change the licence: the legal code or a translated deed, a language path
# (``/deed.no``, ``/legalcode.da``, ``/legalcode``) and trailing slashes.
_TAIL = re.compile(r"(/(legalcode|deed)(\.[a-z-]+)?)?/*$")


def licence_key(text: str) -> str:
    """The comparison key of a licence spelling: case, scheme, ``www.``, legal-code tails and slashes dropped."""
    key = " ".join(text.strip().lower().split())
    if _SCHEME.match(key):
        key = _SCHEME.sub("", key)
        key = key.removeprefix("www.")
        key = _TAIL.sub("", key)
    return key


@cache
def _index() -> Mapping[str, Licence]:
    index: dict[str, Licence] = {}
    for licence in LICENCES:
        for spelling in licence.spellings():
            index.setdefault(licence_key(spelling), licence)
    return index


def canonical_licence(text: str) -> Licence | None:
    """The licence a URL, CKAN id, SPDX id, EU code or name denotes; None when it names no known licence."""
    return _index().get(licence_key(text))
