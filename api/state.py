"""What every request handler can reach: settings, database, registry, harvester, scheduler."""

from __future__ import annotations

from dataclasses import dataclass, field

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


async def hub_state(request: Request) -> HubState:
    """FastAPI dependency: the state ``create_app`` attached to the application.

    ``async`` although it awaits nothing: FastAPI runs a plain ``def`` dependency in the thread pool, and that hop
    cost more than the whole query of a page of entities (bench/ngsi_query.py).
    """
    state = request.app.state.hub
    assert isinstance(state, HubState)
    return state
