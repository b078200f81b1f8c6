"""What every request handler can reach: settings, database, registry, harvester, scheduler."""

from __future__ import annotations

import logging
from dataclasses import dataclass, field
from datetime import UTC, datetime

from fastapi import Request

from harvester.run import Harvester
from harvester.scheduler import HarvestScheduler
from hub import officers
from hub.cities import Registry
from hub.db import Database
from hub.settings import Settings
from ngsi.contexts import ContextService

log = logging.getLogger(__name__)


@dataclass(slots=True)
class HubState:
    settings: Settings
    db: Database
    registry: Registry
    harvester: Harvester
    contexts: ContextService  # the @context store and its cached name translations
    scheduler: HarvestScheduler | None = field(default=None)  # while serving with the scheduler on
    base: Registry | None = field(default=None)  # cities.toml alone; ``registry`` is it merged with registrations

    def refresh_registry(self, base: Registry | None = None) -> Registry:
        """Lay the database's registrations over cities.toml; the API, the harvester and the scheduler all use
        the result. Conflicts are logged by name (and the cities.toml source wins)."""
        if base is not None:
            self.base = base
        base = self.base = self.base or self.registry
        with self.db.connect() as conn:
            merged, conflicts = officers.merge(base, officers.list_registrations(conn))
        for conflict in conflicts:
            log.error("registration conflict", extra={"conflict": conflict})
        self.registry = merged
        self.harvester.registry = merged
        if self.scheduler is not None and self.scheduler.running:
            self.scheduler.sync()
        return merged

    started: datetime = field(default_factory=lambda: datetime.now(UTC))  # NGSI-LD contextSourceUpTime counts from here


async def hub_state(request: Request) -> HubState:
    """FastAPI dependency: the state ``create_app`` attached to the application.

    ``async`` although it awaits nothing: FastAPI runs a plain ``def`` dependency in the thread pool, and that hop
    cost more than the whole query of a page of entities (bench/ngsi_query.py).
    """
    state = request.app.state.hub
    assert isinstance(state, HubState)
    return state
