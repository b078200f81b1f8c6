"""What every request handler can reach: settings, database, registry, harvester, scheduler."""

from __future__ import annotations

from dataclasses import dataclass, field
from datetime import UTC, datetime

from fastapi import Request

from harvester.run import Harvester
from harvester.scheduler import HarvestScheduler
from hub.cities import Registry
from hub.db import Database
from hub.settings import Settings


@dataclass(slots=True)
class HubState:
    settings: Settings
    db: Database
    registry: Registry
    harvester: Harvester
    scheduler: HarvestScheduler | None = field(default=None)  # while serving with the scheduler on
    started: datetime = field(default_factory=lambda: datetime.now(UTC))  # NGSI-LD contextSourceUpTime counts from here


def hub_state(request: Request) -> HubState:
    """FastAPI dependency: the state ``create_app`` attached to the application."""
    state = request.app.state.hub
    assert isinstance(state, HubState)
    return state
