"""The application factory: everything is built here (or in the CLI), nothing at import time."""

from __future__ import annotations

from collections.abc import AsyncIterator
from contextlib import asynccontextmanager

from fastapi import FastAPI

from api.middleware import install_middleware
from api.ngsild_http import RequireLength
from api.paths import TrailingSlashMiddleware
from api.problems import PROBLEM_RESPONSES, install_openapi, install_problem_handlers
from api.routers import (
    audit,
    catalog,
    ckan,
    health,
    keys,
    ngsild,
    ngsild_contexts,
    ngsild_discovery,
    ngsild_provision,
    pages,
    quality,
    registrations,
    runs,
    search,
    temporal,
    temporal_attrs,
    temporal_query,
    validate,
)
from api.state import HubState
from catalog.linkcheck import check_catalogue_links
from harvester.http import HttpClient
from harvester.run import Harvester
from harvester.scheduler import HarvestScheduler
from hub import __version__
from hub.cities import Registry, load_cities
from hub.db import Database
from hub.settings import Settings
from ngsi.contexts import ContextService
from schemas.records import RecordValidator
from schemas.sdm import SdmValidator
from schemas.store import SchemaStore

DESCRIPTION = (
    "Nordhub harvests the open data of Nordic member cities (GBFS, CKAN, DCAT-AP, NGSI-LD, CKAN datastore), "
    "validates it against the OASC Minimal Interoperability Mechanisms and publishes it through one NGSI-LD API."
)


def record_validator(settings: Settings) -> RecordValidator:
    """Structure + Smart Data Models when the schema store is synced, structure only otherwise."""
    store = SchemaStore(settings.data_dir / "schemas")
    return RecordValidator(SdmValidator(store if store.available() else None))


def build_state(settings: Settings, *, db: Database | None = None, registry: Registry | None = None) -> HubState:
    """Database, registry, HTTP client and harvester for one process."""
    database = db or Database.configured(settings)
    cities = registry if registry is not None else load_cities(settings.cities_file)
    harvester = Harvester(database, cities, HttpClient(settings), validator=record_validator(settings))
    contexts = ContextService(settings.data_dir / "contexts", database)
    state = HubState(settings=settings, db=database, registry=cities, harvester=harvester, contexts=contexts)
    state.refresh_registry(cities)  # sources registered through the API, over cities.toml
    return state


def create_app(settings: Settings, *, state: HubState | None = None) -> FastAPI:
    """The ASGI app of the hub. The scheduler runs during the app's lifespan when the settings enable it."""
    hub = state or build_state(settings)

    @asynccontextmanager
    async def lifespan(_app: FastAPI) -> AsyncIterator[None]:
        if settings.scheduler_enabled:
            client = hub.harvester.client

            async def link_check() -> None:
                await check_catalogue_links(hub.db.begin, client)

            def load_registry() -> Registry:
                return hub.refresh_registry(load_cities(settings.cities_file))

            hub.scheduler = HarvestScheduler(
                hub.harvester, cities_file=settings.cities_file, link_check=link_check, load_registry=load_registry
            )
            hub.scheduler.start()
        try:
            yield
        finally:
            if hub.scheduler is not None:
                hub.scheduler.shutdown(wait=False)
                hub.scheduler = None
            await hub.harvester.aclose()
            await hub.harvester.client.aclose()

    app = FastAPI(title="Nordhub", version=__version__, description=DESCRIPTION, lifespan=lifespan)
    app.state.hub = hub
    app.add_middleware(TrailingSlashMiddleware)
    install_problem_handlers(app)
    install_openapi(app)
    app.add_middleware(RequireLength)
    install_middleware(app, settings)
    app.include_router(health.router, responses=PROBLEM_RESPONSES)
    # The NGSI-LD routers declare the problems of each operation (api.ngsild_openapi); the others all of them.
    app.include_router(ngsild.router)  # before provision: POST /entityOperations/query precedes /{operation}
    app.include_router(ngsild_discovery.router)
    app.include_router(ngsild_provision.router)
    app.include_router(ngsild_contexts.router)
    app.include_router(temporal_attrs.router)  # before temporal: /entities/{id:path} would take …/attrs
    app.include_router(temporal.router)
    app.include_router(temporal_query.router)
    app.include_router(runs.router, responses=PROBLEM_RESPONSES)
    app.include_router(validate.router, responses=PROBLEM_RESPONSES)
    app.include_router(quality.router, responses=PROBLEM_RESPONSES)
    app.include_router(catalog.router, responses=PROBLEM_RESPONSES)
    app.include_router(search.router, responses=PROBLEM_RESPONSES)
    app.include_router(ckan.router, responses=PROBLEM_RESPONSES)
    app.include_router(keys.router, responses=PROBLEM_RESPONSES)
    app.include_router(registrations.router, responses=PROBLEM_RESPONSES)
    app.include_router(audit.router, responses=PROBLEM_RESPONSES)
    app.include_router(pages.router, responses=PROBLEM_RESPONSES)
    app.state.templates = pages.environment()
    return app
