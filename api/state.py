"""What every request handler can reach: settings, database, registry, harvester, scheduler."""

from __future__ import annotations

from dataclasses import dataclass, field
from typing import Any

from fastapi import Request

from harvester.run import Harvester
from hub.cities import Registry
from hub.db import Database
from hub.settings import Settings


@dataclass(slots=True)
class HubState:
    settings: Settings
    db: Database
    registry: Registry
    harvester: Harvester
    scheduler: Any = field(default=None)  # AsyncIOScheduler while serving with the scheduler on


def hub_state(request: Request) -> HubState:
    """FastAPI dependency: the state ``create_app`` attached to the application."""
    state = request.app.state.hub
    assert isinstance(state, HubState)
    return state
