"""The cities registry: the shipped cities.toml, the models, and every way a cities file can be wrong."""

from __future__ import annotations

import copy
import re
from pathlib import Path
from typing import Any

import pytest
import tomli_w
from hypothesis import given, settings
from hypothesis import strategies as st
from pydantic import ValidationError

from hub.cities import (
    BBox,
    City,
    Registry,
    Schedule,
    Source,
    SourceKind,
    dump_cities,
    load_cities,
    parse_cities,
    parse_schedule,
)
from hub.errors import CitiesFileError

SHIPPED = Path(__file__).resolve().parents[2] / "cities.toml"

MEMBER_IDS = {
    "aarhus",
    "copenhagen",
    "vejle",
    "aalborg",
    "odense",
    "bergen",
    "trondheim",
    "oslo",
    "stavanger",
    "baerum",
    "tromso",
    "kristiansand",
    "reykjavik",
    "helsinki",
    "stockholm",
}

# (lon, lat) of each city hall (Bærum: Sandvika); a swapped or mistyped bbox leaves it outside.
CITY_HALLS = {
    "aarhus": (10.2039, 56.1527),
    "copenhagen": (12.5700, 55.6761),
    "vejle": (9.5357, 55.7093),
    "aalborg": (9.9217, 57.0488),
    "odense": (10.3883, 55.3959),
    "bergen": (5.3221, 60.3913),
    "trondheim": (10.3951, 63.4305),
    "oslo": (10.7336, 59.9118),
    "stavanger": (5.7331, 58.9700),
    "baerum": (10.5228, 59.8910),
    "tromso": (18.9553, 69.6492),
    "kristiansand": (7.9956, 58.1467),
    "reykjavik": (-21.9426, 64.1466),
    "helsinki": (24.9525, 60.1675),
    "stockholm": (18.0545, 59.3275),
}

LICENCE_BY_COUNTRY = {
    "DK": "http://creativecommons.org/licenses/by/4.0/",
    "NO": "http://data.norge.no/nlod/no/2.0",
    "FI": "http://creativecommons.org/licenses/by/4.0/",
    "SE": "http://creativecommons.org/publicdomain/zero/1.0/",
    "IS": "http://creativecommons.org/licenses/by/4.0/",
}


# --------------------------------------------------------------------------------------------- factories


def source_dict(source_id: str = "oslo-bysykkel", **fields: Any) -> dict[str, Any]:
    return {
        "id": source_id,
        "kind": "gbfs",
        "url": "https://gbfs.urbansharing.com/oslobysykkel.no/gbfs.json",
        "schedule": "every 60s",
        **fields,
    }


def city_dict(city_id: str = "oslo", *sources: dict[str, Any], **fields: Any) -> dict[str, Any]:
    city: dict[str, Any] = {
        "id": city_id,
        "name": "Oslo",
        "name_en": "Oslo",
        "country": "NO",
        "municipality_code": "0301",
        "bbox": [10.48, 59.80, 10.95, 60.14],
        "licence": "http://data.norge.no/nlod/no/2.0",
        **fields,
    }
    if sources:
        city["sources"] = list(sources)
    return city


def write(tmp_path: Path, *cities: dict[str, Any]) -> Path:
    path = tmp_path / "cities.toml"
    path.write_text(tomli_w.dumps({"cities": list(cities)}), encoding="utf-8")
    return path


def error_of(path: Path) -> str:
    with pytest.raises(CitiesFileError) as info:
        load_cities(path)
    return info.value.detail


def without(mapping: dict[str, Any], key: str) -> dict[str, Any]:
    return {k: v for k, v in mapping.items() if k != key}


# ------------------------------------------------------------------------------------ the shipped file


def test_shipped_registry_has_exactly_the_fifteen_member_cities() -> None:
    registry = load_cities(SHIPPED)

    ids = [city.id for city in registry.cities]
    assert len(ids) == 15
    assert set(ids) == MEMBER_IDS
    assert registry.city("copenhagen").name == "København"
    assert registry.city("tromso").name == "Tromsø"
    assert registry.city("reykjavik").country == "IS"


def test_shipped_registry_uses_every_kind_that_has_a_real_endpoint() -> None:
    registry = load_cities(SHIPPED)

    kinds = {source.kind for _, source in registry.sources()}
    # No member city runs a public NGSI-LD broker yet: cities.toml documents how one would be registered.
    assert kinds == set(SourceKind) - {SourceKind.NGSILD}


def test_shipped_sources_all_have_titles_and_unique_ids() -> None:
    pairs = list(load_cities(SHIPPED).sources())

    assert all(source.title for _, source in pairs)
    assert len({source.id for _, source in pairs}) == len(pairs)


@pytest.mark.parametrize("city_id", sorted(MEMBER_IDS))
def test_shipped_bbox_contains_the_city_hall(city_id: str) -> None:
    city = load_cities(SHIPPED).city(city_id)

    assert city.bbox.contains(*CITY_HALLS[city_id])
    overlapping = {"oslo": "baerum"}.get(city_id)  # Sandvika lies inside Oslo's box, west of the city line
    others = [hall for other, hall in CITY_HALLS.items() if other not in (city_id, overlapping)]
    assert not any(city.bbox.contains(*hall) for hall in others)


def test_shipped_licences_and_urban_sharing_headers() -> None:
    registry = load_cities(SHIPPED)

    for city in registry.cities:
        assert city.licence == LICENCE_BY_COUNTRY[city.country], city.id
    for city_id in ("oslo", "bergen", "trondheim"):
        _, source = registry.source(f"{city_id}-bysykkel")
        assert source.headers == {"Client-Identifier": "NORDHUB_URBANSHARING_CLIENT_ID"}
        assert source.schedule.interval_seconds == 60
    _, parking = registry.source("aarhus-parking")
    assert parking.kind is SourceKind.DATASTORE
    assert parking.options["resource_id"] == "2a82a145-0195-4081-a13c-b0e587e9b89c"
    assert parking.schedule.interval_seconds == 300


def test_shipped_registry_round_trips_through_dump() -> None:
    registry = load_cities(SHIPPED)

    assert parse_cities(dump_cities(registry)) == registry


def test_round_trip_keeps_non_default_fields() -> None:
    source = source_dict(
        enabled=False,
        schedule="*/5 * * * *",
        headers={"Client-Identifier": "NORDHUB_CLIENT"},
        licence="http://creativecommons.org/publicdomain/zero/1.0/",
        title="Bysykkel",
        options={"types": ["BikeHireDockingStation"], "nested": {"depth": 2, "ratio": 0.5}},
    )
    registry = parse_cities(tomli_w.dumps({"cities": [city_dict("oslo", source), city_dict("bergen")]}))

    again = parse_cities(dump_cities(registry))

    assert again == registry
    _, parsed = again.source("oslo-bysykkel")
    assert parsed.enabled is False
    assert parsed.schedule.cron == "*/5 * * * *"
    assert parsed.options["nested"] == {"depth": 2, "ratio": 0.5}
    assert again.city("bergen").sources == []


# ------------------------------------------------------------------------------- one test per bad input


def test_toml_syntax_error_gives_line_and_column(tmp_path: Path) -> None:
    path = tmp_path / "broken.toml"
    path.write_text('[[cities]]\nid = "oslo"\nname = Oslo\n', encoding="utf-8")

    message = error_of(path)

    assert str(path) in message
    assert "TOML syntax error" in message
    assert "line 3" in message
    assert "column" in message


def test_missing_file_names_the_path(tmp_path: Path) -> None:
    path = tmp_path / "nowhere" / "cities.toml"

    message = error_of(path)

    assert str(path) in message
    assert "not found" in message


def test_file_that_is_not_utf8(tmp_path: Path) -> None:
    path = tmp_path / "cities.toml"
    path.write_bytes(b'[[cities]]\nname = "K\xf8benhavn"\n')

    assert "not UTF-8" in error_of(path)


def test_empty_file_lacks_cities(tmp_path: Path) -> None:
    path = tmp_path / "cities.toml"
    path.write_text("# nothing yet\n", encoding="utf-8")

    assert error_of(path) == f"{path}: field 'cities': required field is missing"


# (case id, source overrides, field, fragment of the message)
SOURCE_CASES = [
    ("missing-url", lambda s: without(s, "url"), "url", "required field is missing"),
    (
        "unknown-field",
        lambda s: {**s, "schedul": "every 1m"},
        "schedul",
        "unknown field (allowed: id, kind, url",
    ),
    (
        "unknown-kind",
        lambda s: {**s, "kind": "wms"},
        "kind",
        "unknown kind 'wms'; allowed kinds: gbfs, ckan, dcat, ngsild, datastore",
    ),
    ("ftp-url", lambda s: {**s, "url": "ftp://example.org/x"}, "url", "not an http or https URL"),
    ("file-url", lambda s: {**s, "url": "file:///etc/passwd"}, "url", "not an http or https URL"),
    ("url-without-host", lambda s: {**s, "url": "https:///gbfs.json"}, "url", "has no host"),
    ("bad-port", lambda s: {**s, "url": "https://example.org:99999/"}, "url", "not a valid URL"),
    ("bad-cron", lambda s: {**s, "schedule": "61 * * * *"}, "schedule", "not a valid cron expression"),
    (
        "garbage-schedule",
        lambda s: {**s, "schedule": "every 5 parsecs"},
        "schedule",
        "not a cron expression or interval ('every 5 parsecs')",
    ),
    ("schedule-not-string", lambda s: {**s, "schedule": 60}, "schedule", "must be a string"),
    (
        "header-env-name",
        lambda s: {**s, "headers": {"Client-Identifier": "nordhub-client"}},
        "headers",
        "header 'Client-Identifier' must name an environment variable",
    ),
    (
        "header-name",
        lambda s: {**s, "headers": {"Bad Header": "TOKEN"}},
        "headers",
        "not an HTTP header name",
    ),
    ("bad-slug", lambda s: {**s, "id": "Oslo_Bysykkel"}, "id", "is not a slug"),
    ("licence-not-uri", lambda s: {**s, "licence": "CC-BY-4.0"}, "licence", "not an http or https URL"),
    ("enabled-not-bool", lambda s: {**s, "enabled": "maybe"}, "enabled", "valid boolean"),
]


SOURCE_PARAMS = [pytest.param(*case[1:], id=case[0]) for case in SOURCE_CASES]


@pytest.mark.parametrize(("change", "field", "fragment"), SOURCE_PARAMS)
def test_bad_source_field(tmp_path: Path, change: Any, field: str, fragment: str) -> None:
    bad = change(source_dict("oslo-bysykkel"))
    path = write(tmp_path, city_dict("oslo", bad))

    message = error_of(path)

    source_label = f"source '{bad['id']}'" if "id" in bad else "source #1"
    assert message.startswith(f"{path}: city 'oslo', {source_label}, field '{field}': "), message
    assert fragment in message
    assert "\n" not in message  # exactly one problem


# (case id, city overrides, field, fragment of the message)
CITY_CASES = [
    ("missing-name-en", lambda c: without(c, "name_en"), "name_en", "required field is missing"),
    (
        "unknown-field",
        lambda c: {**c, "population": 700000},
        "population",
        "unknown field (allowed: id, name",
    ),
    (
        "lower-case-country",
        lambda c: {**c, "country": "no"},
        "country",
        "'no' is not one of DK, FI, IS, NO, SE",
    ),
    (
        "non-nordic-country",
        lambda c: {**c, "country": "DE"},
        "country",
        "'DE' is not one of DK, FI, IS, NO, SE",
    ),
    ("bbox-three-numbers", lambda c: {**c, "bbox": [10.0, 59.0, 11.0]}, "bbox", "four numbers"),
    ("bbox-not-numbers", lambda c: {**c, "bbox": ["a", 59.0, 11.0, 60.0]}, "bbox", "four numbers"),
    (
        "bbox-min-over-max",
        lambda c: {**c, "bbox": [10.95, 59.8, 10.48, 60.1]},
        "bbox",
        "min_lon (10.95) must be less",
    ),
    (
        "bbox-lat-swapped",
        lambda c: {**c, "bbox": [10.4, 60.1, 10.9, 59.8]},
        "bbox",
        "min_lat (60.1) must be less",
    ),
    (
        "bbox-lat-range",
        lambda c: {**c, "bbox": [10.4, -91.0, 10.9, 59.8]},
        "bbox.min_lat",
        "greater than or equal",
    ),
    ("code-as-integer", lambda c: {**c, "municipality_code": 301}, "municipality_code", "got integer 301"),
    ("code-not-digits", lambda c: {**c, "municipality_code": "03O1"}, "municipality_code", "digits only"),
    ("city-slug", lambda c: {**c, "id": "Oslo"}, "id", "'Oslo' is not a slug"),
]


CITY_PARAMS = [pytest.param(*case[1:], id=case[0]) for case in CITY_CASES]


@pytest.mark.parametrize(("change", "field", "fragment"), CITY_PARAMS)
def test_bad_city_field(tmp_path: Path, change: Any, field: str, fragment: str) -> None:
    bad = change(city_dict("oslo"))
    path = write(tmp_path, bad)

    message = error_of(path)

    assert message.startswith(f"{path}: city '{bad['id']}', field '{field}': "), message
    assert fragment in message
    assert "\n" not in message


def test_city_without_id_is_named_by_position(tmp_path: Path) -> None:
    path = write(tmp_path, city_dict("oslo"), without(city_dict("bergen"), "id"))

    assert error_of(path) == f"{path}: city #2, field 'id': required field is missing"


def test_secret_in_header_is_refused_and_not_echoed(tmp_path: Path) -> None:
    secret = "Bearer eyJhbGciOiJIUzI1NiJ9.s3cr3t"
    path = write(tmp_path, city_dict("oslo", source_dict(headers={"Authorization": secret})))

    message = error_of(path)

    assert "city 'oslo', source 'oslo-bysykkel', field 'headers'" in message
    assert "secrets never belong in cities.toml" in message
    assert secret not in message
    assert "s3cr3t" not in message


def test_duplicate_city_id_names_both_places(tmp_path: Path) -> None:
    path = write(tmp_path, city_dict("oslo"), city_dict("bergen"), city_dict("oslo"))

    message = error_of(path)

    assert message == (
        f"{path}: city 'oslo', field 'id': duplicate city id 'oslo': city #3 in the file repeats city #1"
    )


def test_duplicate_source_id_across_cities_names_both_places(tmp_path: Path) -> None:
    path = write(
        tmp_path,
        city_dict("oslo", source_dict("bysykkel"), source_dict("oslo-datanorge", kind="dcat")),
        city_dict("bergen", source_dict("bergen-datanorge", kind="dcat"), source_dict("bysykkel")),
    )

    message = error_of(path)

    assert message == (
        f"{path}: city 'bergen', source 'bysykkel', field 'id': "
        "duplicate source id 'bysykkel', first used in city 'oslo', source #1"
    )


def test_several_problems_are_reported_together_one_per_line(tmp_path: Path) -> None:
    path = write(
        tmp_path,
        city_dict("oslo", source_dict("oslo-bysykkel", schedule="every 5 parsecs"), country="XX"),
        city_dict("bergen", source_dict("oslo-bysykkel", kind="wms")),
        city_dict("trondheim", source_dict("trondheim-bysykkel", url="ftp://x.no/")),
    )

    lines = error_of(path).splitlines()

    country = "'XX' is not one of DK, FI, IS, NO, SE (ISO 3166-1 alpha-2, upper case)"
    # In file order, each city's and source's problems together, duplicates included.
    assert lines == [
        f"{path}: city 'oslo', field 'country': {country}",
        f"{path}: city 'oslo', source 'oslo-bysykkel', field 'schedule': not a cron expression or interval "
        "('every 5 parsecs'); write 'every <n>s|m|h|d' or a 5-field crontab such as '0 3 * * *'",
        f"{path}: city 'bergen', source 'oslo-bysykkel', field 'kind': unknown kind 'wms'; "
        "allowed kinds: gbfs, ckan, dcat, ngsild, datastore",
        f"{path}: city 'bergen', source 'oslo-bysykkel', field 'id': duplicate source id 'oslo-bysykkel', "
        "first used in city 'oslo', source #1",
        f"{path}: city 'trondheim', source 'trondheim-bysykkel', field 'url': 'ftp://x.no/' is not an http "
        "or https URL (scheme 'ftp')",
    ]


def test_one_bad_source_yields_no_registry(tmp_path: Path) -> None:
    good = [city_dict(city_id, source_dict(f"{city_id}-bysykkel")) for city_id in ("oslo", "bergen")]
    broken = copy.deepcopy(good)
    broken[1]["sources"][0]["url"] = "gopher://bergen.no/"
    loaded: list[Registry] = []

    assert len(load_cities(write(tmp_path, *good)).cities) == 2
    with pytest.raises(CitiesFileError, match="city 'bergen', source 'bergen-bysykkel', field 'url'"):
        loaded.append(load_cities(write(tmp_path, *broken)))
    assert loaded == []


def test_default_filename_in_messages() -> None:
    with pytest.raises(CitiesFileError, match=r"^cities\.toml: field 'cities': "):
        parse_cities("cities = 3\n")


# ----------------------------------------------------------------------------------------- schedules


@pytest.mark.parametrize(
    ("text", "seconds"),
    [("every 60s", 60), ("every 15m", 900), ("every 1h", 3600), ("every 1d", 86400), ("every 5 m", 300)],
)
def test_parse_schedule_intervals(text: str, seconds: int) -> None:
    assert parse_schedule(text) == Schedule(text=text, interval_seconds=seconds, cron=None)


@pytest.mark.parametrize("text", ["*/5 * * * *", "0 3 * * *", "30 2 1 * *", "0 6 * * mon-fri"])
def test_parse_schedule_crons(text: str) -> None:
    schedule = parse_schedule(text)

    assert schedule.cron == text
    assert schedule.interval_seconds is None
    assert schedule.text == text


@pytest.mark.parametrize(
    ("text", "fragment"),
    [
        ("every 5 parsecs", "not a cron expression or interval ('every 5 parsecs')"),
        ("", "not a cron expression or interval"),
        ("hourly", "not a cron expression or interval"),
        ("every -5m", "not a cron expression or interval"),
        ("* * * *", "not a cron expression or interval"),
        ("every 0s", "the interval must be positive"),
        ("61 * * * *", "not a valid cron expression ('61 * * * *')"),
        ("0 25 * * *", "not a valid cron expression"),
        ("0 3 * * 1-5", "write the day of week by name"),
    ],
)
def test_parse_schedule_rejects_garbage(text: str, fragment: str) -> None:
    with pytest.raises(ValueError, match=re.escape(fragment)):
        parse_schedule(text)


def test_schedule_needs_exactly_one_of_interval_and_cron() -> None:
    with pytest.raises(ValidationError, match="exactly one of"):
        Schedule(text="x")
    with pytest.raises(ValidationError, match="exactly one of"):
        Schedule(text="x", interval_seconds=60, cron="* * * * *")


@settings(database=None)
@given(n=st.integers(min_value=1, max_value=10**6), unit=st.sampled_from("smhd"))
def test_interval_strings_round_trip(n: int, unit: str) -> None:
    text = f"every {n}{unit}"
    registry = parse_cities(tomli_w.dumps({"cities": [city_dict("oslo", source_dict(schedule=text))]}))

    schedule = parse_cities(dump_cities(registry)).source("oslo-bysykkel")[1].schedule

    assert schedule.text == text
    assert schedule.interval_seconds == n * {"s": 1, "m": 60, "h": 3600, "d": 86400}[unit]
    assert schedule.cron is None


# ------------------------------------------------------------------------------------ models in Python


def test_header_values_resolves_env_names_and_skips_missing() -> None:
    headers = {"Client-Identifier": "NORDHUB_CLIENT_ID", "ET-Client-Name": "NORDHUB_ENTUR_NAME"}
    source = Source.model_validate(source_dict(headers=headers))

    values = source.header_values({"NORDHUB_CLIENT_ID": "nordhub-hub", "UNRELATED": "x"})

    assert values == {"Client-Identifier": "nordhub-hub"}
    assert source.header_values({}) == {}


def test_header_defaults_are_not_shared() -> None:
    first = Source.model_validate(source_dict("a"))
    second = Source.model_validate(source_dict("b"))

    first.headers["X-Test"] = "NORDHUB_X"

    assert second.headers == {}


def test_bbox_contains() -> None:
    bbox = BBox.model_validate([10.48, 59.80, 10.95, 60.14])

    assert bbox.contains(10.75, 59.91)
    assert bbox.contains(10.48, 59.80)  # edges count
    assert bbox.contains(10.95, 60.14)
    assert not bbox.contains(59.91, 10.75)  # lat/lon swapped
    assert not bbox.contains(5.32, 60.39)  # Bergen
    assert not bbox.contains(10.75, 60.15)


def test_city_scope() -> None:
    city = City.model_validate(city_dict("oslo"))

    assert city.scope == "/Nordic/NO/oslo"


def test_registry_lookups() -> None:
    registry = parse_cities(
        tomli_w.dumps(
            {
                "cities": [
                    city_dict("oslo", source_dict("oslo-a"), source_dict("oslo-b")),
                    city_dict("bergen", source_dict("bergen-a")),
                ]
            }
        )
    )

    assert registry.city("bergen").id == "bergen"
    assert [(c.id, s.id) for c, s in registry.sources()] == [
        ("oslo", "oslo-a"),
        ("oslo", "oslo-b"),
        ("bergen", "bergen-a"),
    ]
    city, source = registry.source("oslo-b")
    assert (city.id, source.id) == ("oslo", "oslo-b")
    with pytest.raises(KeyError):
        registry.city("malmo")
    with pytest.raises(KeyError):
        registry.source("malmo-a")


def test_registry_built_in_python_also_rejects_duplicate_source_ids() -> None:
    cities = [city_dict("oslo", source_dict("dup")), city_dict("bergen", source_dict("dup"))]

    with pytest.raises(ValidationError, match="duplicate source id 'dup'"):
        Registry.model_validate({"cities": cities})
