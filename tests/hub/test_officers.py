"""The registration store: a second registration of one id is a conflict, even when two requests race."""

from __future__ import annotations

from datetime import UTC, datetime

import pytest

from hub import officers
from hub.cities import Source
from hub.db import Database
from hub.errors import Conflict


def test_a_racing_second_registration_of_one_id_is_a_conflict_not_a_crash(db: Database) -> None:
    source = Source.model_validate(
        {"id": "oslo-bikes-api", "kind": "gbfs", "url": "https://gbfs.example.org/gbfs.json", "schedule": "every 60s"}
    )
    now = datetime.now(UTC)
    with db.begin() as conn:
        first = officers.add_registration(conn, "oslo", source, now=now)
    assert first.status is officers.RegistrationStatus.PENDING
    # the second request looked before the first committed: it inserts without a look-up of its own
    with pytest.raises(Conflict, match="already registered"), db.begin() as conn:
        officers.add_registration(conn, "oslo", source, now=now)
    with db.connect() as conn:
        kept = officers.list_registrations(conn, city="oslo")
    assert [r.source.id for r in kept] == ["oslo-bikes-api"]
