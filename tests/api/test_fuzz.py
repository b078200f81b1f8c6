"""Fuzzing the whole API from its own description: schemathesis generates requests for every operation in
``/openapi.json`` (valid ones, and ones that break the schema) and sends them to the app in-process.

Every answer must be a non-5xx with a status the operation declares, of a declared media type, whose body matches
the declared schema. The database holds demo data first (bike stations with history, a CKAN portal, a DCAT
catalogue, a datastore table, an NGSI-LD broker) so that the fuzzer hits real rows. Examples are derandomized:
the same requests on every run, in CI too.
"""

from __future__ import annotations

import shutil
from collections import Counter
from pathlib import Path
from typing import Any

import pytest
import schemathesis
from hypothesis import HealthCheck, Phase, given
from hypothesis import settings as hypothesis_settings
from hypothesis import strategies as st
from hypothesis.errors import Unsatisfiable
from schemathesis import GenerationMode
from schemathesis.checks import not_a_server_error
from schemathesis.python import asgi
from schemathesis.specs.openapi.checks import (
    content_type_conformance,
    response_schema_conformance,
    status_code_conformance,
)

from api.app import create_app
from api.state import HubState
from harvester.run import Harvester
from harvester.store import RunStatus
from hub.settings import Settings

pytestmark = pytest.mark.anyio
SEED_SOURCES = ("oslo-bysykkel-demo", "aarhus-ckan-demo", "oslo-dcat-demo", "aarhus-parking-demo")
CHECKS = [not_a_server_error, status_code_conformance, content_type_conformance, response_schema_conformance]
EXAMPLES = {GenerationMode.POSITIVE: 8, GenerationMode.NEGATIVE: 4}


@pytest.fixture
def settings(settings: Settings) -> Settings:
    """NGSI-LD writes without a key, as a broker behind an access proxy (where the hub has keys, this setting
    lets anonymous writes through; the limits apply the same either way)."""
    return settings.model_copy(update={"anonymous_writes": True})


def _offline(case: Any) -> Any:
    """``POST /api/v1/validate?url=`` would fetch from the internet: the tests stay on 127.0.0.1."""
    if case.query and "url" in case.query:
        case.query = {k: v for k, v in case.query.items() if k != "url"}
    return case


# The NGSI-LD write routes describe their bodies (api.ngsild_openapi), and the fuzzer generates bodies from those
# schemas, in each media type declared. Half of the examples get entity-shaped bodies from here instead, with ids
# from a small pool, so that writes also meet existing rows.
IDS = [f"urn:ngsi-ld:Thing:fuzz:{n}" for n in range(3)] + ["not a uri"]
_JSON = st.recursive(
    st.none() | st.booleans() | st.integers() | st.floats(allow_nan=False, allow_infinity=False) | st.text(max_size=12),
    lambda inner: st.lists(inner, max_size=3) | st.dictionaries(st.text(max_size=8), inner, max_size=3),
    max_leaves=6,
)
_ATTR = (
    _JSON
    | st.fixed_dictionaries({"type": st.sampled_from(["Property", "GeoProperty", "Relationship"]), "value": _JSON})
    | st.fixed_dictionaries({"type": st.just("Relationship"), "object": st.sampled_from(IDS)})
    | st.just({"type": "GeoProperty", "value": {"type": "Point", "coordinates": [10.75, 59.91]}})
)
_ENTITY = st.fixed_dictionaries(
    {"id": st.sampled_from(IDS), "type": st.sampled_from(["Thing", "BikeHireDockingStation"])},
    optional={"name": _ATTR, "location": _ATTR, "availableBikeNumber": _ATTR},
)
_BODY = (
    _ENTITY
    | st.lists(_ENTITY | st.sampled_from(IDS), min_size=1, max_size=3)
    | st.dictionaries(st.sampled_from(["name", "location", "availableBikeNumber", "@context"]), _ATTR, max_size=3)
)


def _with_entity_body(case: Any) -> st.SearchStrategy[Any]:
    if not case.path.startswith("/ngsi-ld/") or case.method.upper() not in ("POST", "PUT", "PATCH"):
        return st.just(case)

    def fill(drawn: tuple[Any, str]) -> Any:
        case.body, entity_id = drawn
        case.media_type = "application/json"
        if case.headers:  # a generated Link names no @context the hub has (400 or 504): these bodies reach rows
            case.headers = {k: v for k, v in case.headers.items() if k.lower() != "link"}
        if case.path_parameters and "entity_id" in case.path_parameters:
            case.path_parameters = {**case.path_parameters, "entity_id": entity_id}
        return case

    return st.one_of(st.tuples(_BODY, st.sampled_from(IDS)).map(fill), st.just(case))


def _fuzz(operation: Any, mode: GenerationMode, client: Any, sent: list[int]) -> str | None:
    """Run the examples of one operation in one mode; the first failure, described, or None."""

    @hypothesis_settings(
        max_examples=EXAMPLES[mode],
        derandomize=True,
        database=None,
        deadline=None,
        phases=[Phase.explicit, Phase.generate],  # no shrinking: the first failing request is reported as is
        suppress_health_check=list(HealthCheck),
    )
    @given(case=operation.as_strategy(generation_mode=mode).map(_offline).flatmap(_with_entity_body))
    def examples(case: Any) -> None:
        sent.append(case.call_and_validate(session=client, checks=CHECKS).status_code)

    try:
        examples()
    except Unsatisfiable:
        return None  # nothing in this operation can be made invalid (only free-text path parameters, say)
    except (Exception, BaseExceptionGroup) as exc:  # every failure is collected, then reported together
        return f"{operation.label} [{mode.value}]: {type(exc).__name__}: {str(exc)[:3000]}"
    return None


async def test_every_operation_answers_within_its_schema_and_never_5xx(
    harvester: Harvester, settings: Settings, hub: HubState, shared_data: Path
) -> None:
    shutil.copytree(shared_data / "mqa" / "vocabs", settings.data_dir / "schemas" / "mqa" / "vocabs")
    for source in SEED_SOURCES:
        report = await harvester.run(source)
        assert report.status in (RunStatus.SUCCEEDED, RunStatus.SUCCEEDED_WITH_ERRORS), (source, report.error)
    unlimited = settings.model_copy(update={"rate_limit_anonymous": 0.0, "rate_limit_key": 0.0})
    app = create_app(unlimited, state=hub)
    schema = schemathesis.openapi.from_asgi("/openapi.json", app)
    operations = [result.ok() for result in schema.get_all_operations()]
    assert len(operations) > 30
    with asgi.get_client(app) as client:  # one in-process client for every request
        sent: list[int] = []
        failures = [f for op in operations for mode in EXAMPLES if (f := _fuzz(op, mode, client, sent)) is not None]
    assert failures == [], "\n\n".join(failures)
    print(f"{len(sent)} requests to {len(operations)} operations: {sorted(Counter(sent).items())}")
    assert len(sent) > 5 * len(operations)  # the fuzzer did send its examples
    assert {200, 201, 204} <= set(sent)  # reads and writes reached real rows and succeeded...
    assert {400, 404} <= set(sent)  # ...and bad input got its 4xx
