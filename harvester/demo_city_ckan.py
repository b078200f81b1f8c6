"""A CKAN Action API of the simulated Danish member cities, shaped like Open Data DK (portal.opendata.dk).

Five organizations (``city-of-aarhus`` …) publish forty packages each: parking, traffic and bike counts, air
quality, trees, budgets… with Danish titles and notes, one to three resources (CSV, JSON, GeoJSON, XLSX) and the
licence ids real CKAN portals use. Everything is a pure function of the package's name, so the catalogue is the
same on every start; ``metadata_modified`` is fixed per package and spread over years, so an incremental harvest
sees a subset. ``package_search`` honours ``q``, ``fq`` (organization, tags, res_format, groups and
``metadata_modified:[… TO …]`` joined by AND), ``rows`` (capped at 1000), ``start`` and ``sort`` as CKAN does, and
answers errors with CKAN's envelope (``{"success": false, "error": {…}}``, HTTP 409/404).
"""

from __future__ import annotations

import hashlib
import uuid
from collections.abc import Callable, Sequence
from dataclasses import dataclass
from datetime import UTC, datetime, timedelta
from typing import Any

import orjson
from starlette.requests import Request
from starlette.responses import Response
from starlette.routing import BaseRoute, Mount, Route

from harvester.demo_city_ckan_data import (
    DEMO_ORGANIZATIONS,
    DemoOrganization,
    demo_packages,
)

__all__ = ["DEMO_ORGANIZATIONS", "PATH", "DemoOrganization", "demo_packages", "routes", "sources"]
