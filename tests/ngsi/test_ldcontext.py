"""ngsi.ldcontext: term definitions of the real ETSI and Smart Data Models contexts, and the features they use."""

from __future__ import annotations

from pathlib import Path
from typing import Any

import orjson
import pytest

from hub.errors import BadRequestData
from ngsi.ldcontext import ActiveContext, process

NGSI = "https://uri.etsi.org/ngsi-ld/"
DEFAULT = NGSI + "default-context/"


def _no_remote(url: str) -> Any:
    raise AssertionError(f"unexpected remote context {url}")


def _context(shared_data: Path, path: str) -> Any:
    return orjson.loads((shared_data / path).read_bytes())["@context"]


@pytest.mark.parametrize("version", ["1.4", "1.8", "1.9"])
def test_core_contexts(shared_data: Path, version: str) -> None:
    core = process(
        ActiveContext(), _context(shared_data, f"ngsi-ld/ngsi-ld-core-context-v{version}.jsonld"), _no_remote
    )
    assert core.vocab == DEFAULT
    assert core.expand("observedAt") == NGSI + "observedAt"  # expanded term definition, CURIE @id
    assert core.expand("location") == NGSI + "location"
    assert core.expand("Property") == NGSI + "Property"
    assert core.expand("availableBikeNumber") == DEFAULT + "availableBikeNumber"  # @vocab
    assert core.expand("ngsi-ld:whatever") == NGSI + "whatever"  # a prefix
    assert core.expand("urn:x:y") == "urn:x:y"
    assert core.expand("id") == "@id"  # keyword alias
    assert core.compact(NGSI + "location") == "location"
    assert core.compact(DEFAULT + "availableBikeNumber") == "availableBikeNumber"
    assert core.compact(NGSI + "notATerm") == "ngsi-ld:notATerm"
    assert core.compact("https://example.org/x") == "https://example.org/x"


def test_vocabulary_relative_term_values(shared_data: Path) -> None:
    # "attributeCount": "attributeCount" in 1.8 is relative to @vocab; 1.9 maps it into the ngsi-ld namespace.
    v18 = process(ActiveContext(), _context(shared_data, "ngsi-ld/ngsi-ld-core-context-v1.8.jsonld"), _no_remote)
    v19 = process(ActiveContext(), _context(shared_data, "ngsi-ld/ngsi-ld-core-context-v1.9.jsonld"), _no_remote)
    assert v18.expand("attributeCount") == DEFAULT + "attributeCount"
    assert v19.expand("attributeCount") == NGSI + "attributeCount"


def test_smart_data_models_context(shared_data: Path) -> None:
    transport = process(
        ActiveContext(), _context(shared_data, "smart-data-models/dataModel.Transportation/context.jsonld"), _no_remote
    )
    iri = "https://smartdatamodels.org/dataModel.Transportation/availableBikeNumber"
    assert transport.expand("availableBikeNumber") == iri
    assert transport.compact(iri) == "availableBikeNumber"
    assert transport.expand("name") == "https://smartdatamodels.org/name"


def test_arrays_remote_references_prefixes_and_vocab() -> None:
    remote = {"ex": "https://example.org/ns#", "speed": "ex:speed", "Car": {"@id": "ex:Car", "@type": "@id"}}
    loaded: list[str] = []

    def load(url: str) -> Any:
        loaded.append(url)
        return remote

    active = process(ActiveContext(), ["https://example.org/ctx.jsonld", {"@vocab": "https://v.example/"}], load)
    assert loaded == ["https://example.org/ctx.jsonld"]
    assert active.expand("speed") == "https://example.org/ns#speed"
    assert active.expand("Car") == "https://example.org/ns#Car"
    assert active.expand("ex:colour") == "https://example.org/ns#colour"
    assert active.expand("other") == "https://v.example/other"
    assert active.compact("https://example.org/ns#colour") == "ex:colour"
    assert active.compact("https://v.example/other") == "other"
    assert active.compact("https://example.org/ns#speed") == "speed"


def test_shortest_term_wins_and_vocab_wins_for_stored_names() -> None:
    active = process(
        ActiveContext(),
        {"@vocab": "https://v/", "velocity": "https://s/speed", "sp": "https://s/speed", "x": "https://o/x"},
        _no_remote,
    )
    assert active.compact("https://s/speed") == "sp"
    assert active.compact("https://v/x") == "https://v/x"  # "x" means something else here
    assert active.compact("https://v/x", vocab_wins=True) == "x"


def test_protected_terms_keep_their_meaning_and_null_resets() -> None:
    core = process(ActiveContext(), {"@protected": True, "location": "https://p/location"}, _no_remote)
    redefined = process(core, {"location": "https://other/location", "free": "https://f/free"}, _no_remote)
    assert redefined.expand("location") == "https://p/location"
    assert redefined.expand("free") == "https://f/free"
    reset = process(redefined, [None], _no_remote)
    assert reset.expand("location") == "https://p/location"
    assert reset.expand("free") is None


def test_import_and_unmapped_terms() -> None:
    active = process(
        ActiveContext(),
        {"@import": "https://example.org/base.jsonld", "gone": None, "x": {"@id": None}},
        lambda url: {"base": "https://b/base", "gone": "https://b/gone"},
    )
    assert active.expand("base") == "https://b/base"
    assert active.expand("gone") is None
    assert active.expand("x") is None


@pytest.mark.parametrize(
    ("context", "message"),
    [
        ({"a": "b:x", "b": "a:y"}, "cyclic"),
        ({"a": 3}, "invalid definition"),
        ({"@vocab": 5}, "@vocab"),
        (7, "invalid @context entry"),
        ({"a": {"@id": 1}}, "@id must be a string"),
    ],
)
def test_invalid_contexts_are_bad_request_data(context: Any, message: str) -> None:
    with pytest.raises(BadRequestData, match=message):
        process(ActiveContext(), context, _no_remote)


def test_a_context_that_includes_itself_is_refused() -> None:
    with pytest.raises(BadRequestData, match="includes itself"):
        process(ActiveContext(), "https://loop.example/c", lambda url: [url])
