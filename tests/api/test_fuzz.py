"""Fuzzing the whole API from its own description: schemathesis generates requests for every operation in
``/openapi.json`` (valid ones, and ones that break the schema) and sends them to the app in-process.

Every answer must be a non-5xx with a status the operation declares, of a declared media type, whose body matches
the declared schema. The database holds demo data first (bike stations with history, a CKAN portal, a DCAT
catalogue, a datastore table, an NGSI-LD broker) so that the fuzzer hits real rows. Examples are derandomized:
the same requests on every run, in CI too.
"""

from __future__ import annotations

import shutil
from pathlib import Path
from typing import Any

import pytest
import schemathesis
from hypothesis import HealthCheck, Phase, given
from hypothesis import settings as hypothesis_settings
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


def _fuzz(operation: Any, mode: GenerationMode, client: Any) -> str | None:
    """Run the examples of one operation in one mode; the first failure, described, or None."""

    @hypothesis_settings(
        max_examples=EXAMPLES[mode],
        derandomize=True,
        database=None,
        deadline=None,
        phases=[Phase.explicit, Phase.generate],  # no shrinking: the first failing request is reported as is
        suppress_health_check=list(HealthCheck),
    )
    @given(case=operation.as_strategy(generation_mode=mode).map(_offline))
    def examples(case: Any) -> None:
        case.call_and_validate(session=client, checks=CHECKS)

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
        failures = [f for op in operations for mode in EXAMPLES if (f := _fuzz(op, mode, client)) is not None]
    assert failures == [], "\n\n".join(failures)
