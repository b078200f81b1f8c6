"""Shared fixtures: the shared data folder, a fresh migrated database (SQLite, or PostgreSQL when
``NORDHUB_TEST_DATABASE_URL`` is set, as CI does), settings, the demo city app and the hub app in-process."""

from __future__ import annotations

import os
from collections.abc import AsyncIterator, Callable, Iterator
from datetime import UTC, datetime
from pathlib import Path

import httpx
import pytest
from sqlalchemy import text

from api.app import build_state, create_app
from api.state import HubState
from harvester.demo_city import build_app as build_demo_app
from harvester.http import HttpClient
from harvester.run import Harvester
from hub import auth
from hub.cities import Registry, load_cities
from hub.db import Database
from hub.demo import demo_registry
from hub.settings import Settings

ROOT = Path(__file__).resolve().parents[1]
DEMO_HOST = "demo-city.test"
DEMO_BASE = f"http://{DEMO_HOST}"
FIXED_CLOCK = 1_763_900_000.0  # 2025-11-23T12:13:20Z, a fixed instant for the demo city


@pytest.fixture
def anyio_backend() -> str:
    return "asyncio"


@pytest.fixture(scope="session")
def shared_data() -> Path:
    """``../shared/data`` beside the repository (or NORDHUB_SHARED_DIR/data)."""
    base = Path(os.environ.get("NORDHUB_SHARED_DIR", ROOT.parent / "shared"))
    data = base / "data"
    assert data.is_dir(), f"shared data not found at {data}: tests read official artefacts there"
    return data


def _reset_postgres(url: str) -> None:
    db = Database(url)
    with db.begin() as conn:
        conn.execute(text("DROP SCHEMA IF EXISTS public CASCADE"))
        conn.execute(text("CREATE SCHEMA public"))
    db.dispose()


@pytest.fixture
def database_url(tmp_path: Path) -> str:
    """A URL to an empty database: a new SQLite file, or the CI PostgreSQL database wiped clean."""
    url = os.environ.get("NORDHUB_TEST_DATABASE_URL", "")
    if url:
        _reset_postgres(url)
        return url
    return f"sqlite:///{tmp_path / 'nordhub.db'}"


@pytest.fixture
def db(database_url: str) -> Iterator[Database]:
    database = Database(database_url)
    database.upgrade()
    yield database
    database.dispose()


@pytest.fixture
def registry() -> Registry:
    return load_cities(ROOT / "cities.toml")


@pytest.fixture
def demo_cities(registry: Registry) -> Registry:
    """The member cities with their sources pointing at the in-process demo city server."""
    return demo_registry(registry, DEMO_BASE)


@pytest.fixture
def settings(request: pytest.FixtureRequest, tmp_path: Path, database_url: str) -> Settings:
    """Test settings. A test or module marked ``anonymous_writes`` stands for a broker behind a separate access
    proxy: its NGSI-LD writes need no key (tests/api/test_authz.py covers the keys)."""
    return Settings(
        database_url=database_url,
        data_dir=tmp_path / "var",
        cities_file=ROOT / "cities.toml",
        scheduler_enabled=False,
        log_json=False,
        anonymous_writes=request.node.get_closest_marker("anonymous_writes") is not None,
    )


@pytest.fixture
def demo_transport() -> httpx.ASGITransport:
    """The demo city server as an in-process transport at a fixed instant."""
    return httpx.ASGITransport(app=build_demo_app(clock=lambda: FIXED_CLOCK))


@pytest.fixture
async def harvester(
    db: Database, demo_cities: Registry, settings: Settings, demo_transport: httpx.ASGITransport
) -> AsyncIterator[Harvester]:
    client = HttpClient(settings, transport=demo_transport, allow_hosts=[DEMO_HOST], backoff_base=0)
    harvester = Harvester(db, demo_cities, client)
    yield harvester
    await harvester.aclose()
    await client.aclose()


@pytest.fixture
def hub(settings: Settings, db: Database, demo_cities: Registry) -> HubState:
    return build_state(settings, db=db, registry=demo_cities)


@pytest.fixture
async def api(settings: Settings, hub: HubState) -> AsyncIterator[httpx.AsyncClient]:
    """The hub's API in-process (no lifespan: the scheduler stays off)."""
    app = create_app(settings, state=hub)
    async with httpx.AsyncClient(transport=httpx.ASGITransport(app=app), base_url="http://hub.test") as client:
        yield client
    await hub.harvester.aclose()
    await hub.harvester.client.aclose()


KeyMaker = Callable[..., str]


@pytest.fixture
def make_key(db: Database) -> KeyMaker:
    """Creates a key in the test database and returns its token: ``make_key("officer", "oslo")``."""

    def make(role: str = "admin", city: str | None = None, label: str = "", expires_at: datetime | None = None) -> str:
        with db.begin() as conn:
            _key_id, token = auth.create_key(
                conn,
                role=auth.Role(role),
                city=city,
                label=label or f"test {role} {city or ''}".strip(),
                now=datetime.now(UTC),
                expires_at=expires_at,
            )
        return token

    return make


@pytest.fixture
def admin_auth(make_key: KeyMaker) -> dict[str, str]:
    """The Authorization header of an admin key."""
    return {"Authorization": f"Bearer {make_key('admin')}"}
