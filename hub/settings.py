"""The one settings object of the hub (environment prefix ``NORDHUB_``).

Nothing here runs at import time: ``Settings()`` is built by ``create_app`` and the CLI and passed down.
Every field carries a description; the README's configuration table is checked against this class by a test.
"""

from __future__ import annotations

import json
from pathlib import Path
from typing import Annotated, Literal

from pydantic import Field, field_validator
from pydantic_settings import BaseSettings, NoDecode, SettingsConfigDict

LogLevel = Literal["DEBUG", "INFO", "WARNING", "ERROR"]


class Settings(BaseSettings):
    """Configuration of one Nordhub process."""

    model_config = SettingsConfigDict(env_prefix="NORDHUB_", extra="ignore")

    database_url: str = Field(
        default="sqlite:///./var/nordhub.db",
        description="SQLAlchemy URL of the database. The default is the embedded SQLite file (WAL mode, created "
        "on first start); PostgreSQL: `postgresql+psycopg://user@host:5432/db`.",
    )
    db_ping_idle_seconds: float = Field(
        default=1.0,
        ge=0,
        description="PostgreSQL: a pooled connection unused for longer than this is pinged before it is handed "
        "out (0: always, as SQLAlchemy's pool_pre_ping); reads that meet a dropped connection run again.",
    )
    db_parallel_workers: int = Field(
        default=0,
        ge=0,
        le=64,
        description="PostgreSQL: `max_parallel_workers_per_gather` of the hub's connections. 0 (no parallel "
        "plans): starting workers cost more than the API's indexed reads take.",
    )
    db_pool_size: int = Field(
        default=20,
        ge=1,
        le=1000,
        description="PostgreSQL: connections each hub process keeps open once its load needed them (as many more "
        "may open for a burst and close when returned). Below the requests a worker serves at once, every request "
        "over it opened and closed a connection of its own.",
    )
    data_dir: Path = Field(
        default=Path("./var"),
        description="Directory for the embedded database, raw payloads, schema and context stores.",
    )
    cities_file: Path = Field(
        default=Path("./cities.toml"),
        description="The declarative registry of member cities and their sources.",
    )
    base_url: str = Field(
        default="http://127.0.0.1:8000",
        description="Public base URL of this hub, used in links, Location headers and catalogue URIs.",
    )
    http_connect_timeout: float = Field(
        default=5.0, gt=0, description="Seconds to wait for a connection to a city's endpoint."
    )
    http_read_timeout: float = Field(
        default=30.0, gt=0, description="Seconds to wait between bytes from a city's endpoint."
    )
    http_max_bytes: int = Field(
        default=50 * 1024 * 1024, gt=0, description="Largest response body a harvest accepts, in bytes."
    )
    http_per_host: int = Field(
        default=2, ge=1, le=64, description="Most requests the harvester sends to one host at the same time."
    )
    http_politeness: float = Field(
        default=0.0, ge=0, description="Least seconds between the starts of two requests to the same host."
    )
    http_allow_hosts: Annotated[list[str], NoDecode] = Field(
        default_factory=list,
        description="Hosts or IP addresses exempt from the SSRF guard (comma-separated list or JSON array); "
        "the demo allow-lists 127.0.0.1.",
    )
    contact: str = Field(
        default="opendata@nordhub.invalid",
        description="Operator contact sent in the User-Agent of every harvest request.",
    )
    anonymous_writes: bool = Field(
        default=False,
        description="Accept NGSI-LD writes without a key (a local or test deployment, or a broker behind a separate "
        "access proxy; conformance suites run this way). Registrations and key management always need a key.",
    )
    context_fetch: bool = Field(
        default=False,
        description="Let the NGSI-LD API fetch a request's unknown JSON-LD @context from its URL (through the "
        "harvester's SSRF-guarded client) and keep it in the context store; off: unknown contexts give "
        "LdContextNotAvailable.",
    )
    scheduler_enabled: bool = Field(default=True, description="Run the harvest scheduler inside `nordhub serve`.")
    log_level: LogLevel = Field(default="INFO", description="Lowest level of log lines written.")
    log_json: bool = Field(default=True, description="Write log lines as JSON objects (false: human-readable text).")
    max_body_bytes: int = Field(
        default=10 * 1024 * 1024, gt=0, description="Largest request body the API reads, in bytes (more: 413)."
    )
    max_json_depth: int = Field(
        default=64,
        ge=1,
        le=1000,
        description="Deepest nesting of arrays and objects in a JSON request body (more: 400).",
    )
    max_query_bytes: int = Field(
        default=8192, ge=256, description="Longest query string the API reads, in bytes (more: 414)."
    )
    temporal_max_instances: int = Field(
        default=1000,
        ge=1,
        le=100_000,
        description="Most instances of one attribute a temporal request returns (with lastN, the smaller of the two); "
        "more: 206 Partial Content with a Content-Range.",
    )
    temporal_max_periods: int = Field(
        default=20_000,
        ge=1,
        le=1_000_000,
        description="Most aggregation periods of one attribute an aggregatedValues answer holds (more: 403).",
    )
    rate_limit_anonymous: float = Field(
        default=50.0, ge=0, description="Requests per second per client address without an API key (0: unlimited)."
    )
    rate_limit_anonymous_burst: int = Field(
        default=200, ge=1, description="Requests a client address may send at once before the rate applies."
    )
    rate_limit_key: float = Field(
        default=200.0, ge=0, description="Requests per second per API key (`Authorization: Bearer`; 0: unlimited)."
    )
    rate_limit_key_burst: int = Field(
        default=1000, ge=1, description="Requests an API key may send at once before the rate applies."
    )
    cors_origins: Annotated[list[str], NoDecode] = Field(
        default_factory=list,
        description="Origins allowed to write cross-origin (comma-separated list or JSON array); "
        "reads are open to every origin.",
    )

    @field_validator("http_allow_hosts", "cors_origins", mode="before")
    @classmethod
    def _split_hosts(cls, value: object) -> object:
        # An environment variable arrives as one string: accept "a,b" as well as a JSON array.
        if isinstance(value, str):
            text = value.strip()
            if text.startswith("["):
                return json.loads(text)
            return [part.strip() for part in text.split(",") if part.strip()]
        return value
