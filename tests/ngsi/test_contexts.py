"""ngsi.contexts and ngsi.terms: the context store over the synced files and the database, and name translation."""

from __future__ import annotations

from pathlib import Path

import pytest

from hub.db import Database
from hub.errors import BadRequestData, ConfigError, ResourceNotFound
from ngsi.contexts import ContextKind, ContextMissing, ContextService, context_files, context_id
from ngsi.q import parse_q, unparse
from ngsi.terms import Translation

TRANSPORT = "https://smartdatamodels.org/dataModel.Transportation/"
PARKING_URL = "https://raw.githubusercontent.com/smart-data-models/dataModel.Parking/master/context.jsonld"
ALIASES = {"bikes": TRANSPORT + "availableBikeNumber", "Dock": TRANSPORT + "BikeHireDockingStation"}
ENTITY = {
    "id": "urn:ngsi-ld:BikeHireDockingStation:oslo:1",
    "type": "BikeHireDockingStation",
    "availableBikeNumber": {"type": "Property", "value": 3, "observedAt": "2025-01-01T10:00:00Z"},
    "address": {"type": "Property", "value": {"streetAddress": "Torggata 1"}},
    "location": {"type": "GeoProperty", "value": {"type": "Point", "coordinates": [10.7, 59.9]}},
}


@pytest.fixture
def service(tmp_path: Path, db: Database, shared_data: Path) -> ContextService:
    context_files(tmp_path / "contexts").sync_from_dir(shared_data)
    return ContextService(tmp_path / "contexts", db, cache_size=2)


def test_the_store_holds_the_core_versions_and_the_smart_data_models(service: ContextService) -> None:
    urls = {entry.url for entry in service.entries()}
    for version in ("1.3", "1.4", "1.5", "1.6", "1.7", "1.8", "1.9"):
        assert f"https://uri.etsi.org/ngsi-ld/v1/ngsi-ld-core-context-v{version}.jsonld" in urls
    assert PARKING_URL in urls
    assert "https://smart-data-models.github.io/dataModel.Transportation/context.jsonld" in urls
    v16 = service.document("https://uri.etsi.org/ngsi-ld/v1/ngsi-ld-core-context-v1.6.jsonld")
    assert v16 is not None
    assert v16 == service.document("https://uri.etsi.org/ngsi-ld/v1/ngsi-ld-core-context-v1.8.jsonld")


def test_a_tampered_context_file_is_refused_by_the_sync(tmp_path: Path, shared_data: Path) -> None:
    source = tmp_path / "src" / "ngsi-ld"
    source.mkdir(parents=True)
    for file in (shared_data / "ngsi-ld").glob("*.jsonld"):
        (source / file.name).write_bytes(file.read_bytes())
    (source / "ngsi-ld-core-context-v1.8.jsonld").write_bytes(b'{"@context": {}}')
    with pytest.raises(ConfigError, match="sha256"):
        context_files(tmp_path / "contexts").sync_from_dir(source)


def test_no_context_or_the_core_context_is_the_identity(service: ContextService) -> None:
    assert service.translation(None).identity
    assert service.translation("https://uri.etsi.org/ngsi-ld/v1/ngsi-ld-core-context-v1.4.jsonld").identity


def test_aliases_translate_both_ways(service: ContextService) -> None:
    service.add("https://example.org/aliases.jsonld", {"@context": ALIASES}, ContextKind.CACHED)
    terms = service.translation("https://example.org/aliases.jsonld")
    assert terms.to_stored("bikes") == "availableBikeNumber"
    assert terms.to_stored("Dock") == "BikeHireDockingStation"
    assert terms.to_stored("location") == "location"
    assert terms.to_stored("unknownThing") == "unknownThing"  # @vocab, then back to the same short name
    assert terms.to_stored("availableBikeNumber") == "availableBikeNumber"
    out = terms.entity_out(ENTITY)
    assert out["type"] == "Dock"
    assert out["bikes"] == ENTITY["availableBikeNumber"]
    # address: undefined in the client's context, so short, as the client would send it (and to_stored reads it)
    assert out["address"]["value"] == {"streetAddress": "Torggata 1"}  # values untouched
    assert out["location"] == ENTITY["location"]
    assert terms.entity_in({"id": "x", "type": "Dock", "bikes": {"value": 1, "sub": {"value": 2}}}) == {
        "id": "x",
        "type": "BikeHireDockingStation",
        "availableBikeNumber": {"value": 1, "sub": {"value": 2}},
    }


def test_q_paths_are_translated_not_json_keys(service: ContextService) -> None:
    terms = service.translation(
        {"bikes": TRANSPORT + "availableBikeNumber", "addr": "https://smartdatamodels.org/address"}
    )
    assert isinstance(terms, Translation)
    translated = unparse(terms.q(parse_q('bikes>3;(addr[bikes]=="x"|addr.bikes==1);bikes{addr}')))
    assert (
        translated
        == 'availableBikeNumber>3;(address[bikes]=="x"|address.availableBikeNumber==1);availableBikeNumber{address}'
    )


def test_linked_q_paths_translate_their_type_hints_and_stay_one_path(service: ContextService) -> None:
    """A type hint is a type name; a stored name that reads as a hint inside braces gets the ``*:`` hint back."""
    terms = service.translation(
        {"bikes": TRANSPORT + "availableBikeNumber", "Dock": TRANSPORT + "BikeHireDockingStation", "x": "urn:x:y"}
    )
    translated = unparse(terms.q(parse_q("bikes{Dock,Town:bikes}>1;bikes{x}")))
    stored = terms.to_stored("x")
    assert ":" in stored  # an IRI the default context has no short name for
    assert translated == (
        f"availableBikeNumber{{BikeHireDockingStation,Town:availableBikeNumber}}>1;availableBikeNumber{{*:{stored}}}"
    )
    assert unparse(parse_q(translated)) == translated


def test_the_request_context_names_shared_short_names_as_the_client_does(service: ContextService) -> None:
    parking = service.translation(PARKING_URL)
    assert parking.to_stored("totalSpotNumber") == "totalSpotNumber"
    assert parking.to_client("totalSpotNumber") == "totalSpotNumber"
    # Undefined in the Parking context: the name the client would send for it (to_stored maps it back)
    assert parking.to_client("availableBikeNumber") == "availableBikeNumber"
    assert parking.to_stored(parking.to_client("availableBikeNumber")) == "availableBikeNumber"


def test_a_short_name_the_client_defines_otherwise_comes_back_as_an_iri(service: ContextService) -> None:
    """The client's own term for another IRI must not capture a stored name of the same spelling."""
    terms = service.translation({"address": "https://schema.org/address"})
    assert terms.to_client("address") == "https://smartdatamodels.org/address"
    assert terms.to_stored("address") != "address"


def test_unknown_context_names_its_url_until_added(service: ContextService) -> None:
    url = "https://example.org/missing.jsonld"
    with pytest.raises(ContextMissing, match=url):
        service.translation([url, {"x": "https://x/"}])
    service.add(url, {"@context": {"bikes": TRANSPORT + "availableBikeNumber"}}, ContextKind.CACHED)
    assert service.translation([url, {"x": "https://x/x"}]).to_stored("bikes") == "availableBikeNumber"


def test_translations_are_cached_in_a_bounded_lru(service: ContextService) -> None:
    first = service.translation({"a": "https://a/"})
    assert service.translation({"a": "https://a/"}) is first
    service.translation({"b": "https://b/"})
    service.translation({"c": "https://c/"})  # cache_size=2: the first is evicted
    assert service.translation({"a": "https://a/"}) is not first


def test_add_remove_and_the_official_contexts_are_read_only(service: ContextService) -> None:
    url = "https://example.org/c.jsonld"
    info = service.add(url, {"@context": ALIASES}, ContextKind.CACHED)
    assert info.id == context_id(url)
    assert service.entry(info.id)[1] == {"@context": ALIASES}
    with pytest.raises(BadRequestData, match="core context"):
        service.remove("https://uri.etsi.org/ngsi-ld/v1/ngsi-ld-core-context-v1.8.jsonld")
    with pytest.raises(BadRequestData, match="official"):
        service.remove(context_id(PARKING_URL))
    with pytest.raises(BadRequestData, match="official"):
        service.add(PARKING_URL, {"@context": {}}, ContextKind.CACHED)
    service.remove(url)
    with pytest.raises(ResourceNotFound):
        service.remove(url)
    with pytest.raises(ContextMissing):
        service.translation(url)


def test_without_a_synced_store_the_core_names_still_work(tmp_path: Path, db: Database) -> None:
    bare = ContextService(tmp_path / "empty", db)
    terms = bare.translation({"bikes": "https://uri.etsi.org/ngsi-ld/default-context/availableBikeNumber"})
    assert terms.to_stored("bikes") == "availableBikeNumber"
    assert terms.to_stored("observedAt") == "observedAt"
    assert terms.to_client("availableBikeNumber") == "bikes"
