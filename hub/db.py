"""The one owner of database engines, connections and sessions, and of migrations.

SQLite (WAL) is the embedded default and PostgreSQL the scale-out backend; everything else in the hub reaches the
database through a :class:`Database`. Hot paths use SQLAlchemy Core connections (``db.begin()``); the ORM session
(``db.session()``) is there for low-volume admin work.
"""

from __future__ import annotations

import time
from collections.abc import Callable, Iterator
from contextlib import contextmanager
from datetime import UTC, datetime
from pathlib import Path
from typing import Any, TypeVar

from alembic import command
from alembic.config import Config
from alembic.runtime.migration import MigrationContext
from alembic.script import ScriptDirectory
from sqlalchemy import (
    Connection,
    DateTime,
    Dialect,
    Engine,
    MetaData,
    TypeDecorator,
    create_engine,
    event,
    make_url,
    text,
)
from sqlalchemy.exc import ArgumentError, DBAPIError, DisconnectionError, NoSuchModuleError, OperationalError
from sqlalchemy.exc import DatabaseError as SADatabaseError
from sqlmodel import Session

from hub.checkpoint import AUTOCHECKPOINT_PAGES, Checkpointer
from hub.collation import register_sqlite_collation
from hub.errors import ConfigError, DatabaseError
from hub.regexp import register_sqlite_regexp
from hub.settings import Settings

MIGRATIONS = "hub:migrations"
PING_IDLE_SECONDS = 1.0  # Settings.db_ping_idle_seconds
PARALLEL_WORKERS = 0  # Settings.db_parallel_workers
POOL_SIZE = 20  # Settings.db_pool_size
T = TypeVar("T")


def _sqlite_pragmas(dbapi_connection: Any, _record: Any) -> None:
    # WAL lets API readers run while a harvest writes; NORMAL sync is safe with WAL and much faster than FULL.
    cursor = dbapi_connection.cursor()
    cursor.execute("PRAGMA journal_mode=WAL")
    cursor.execute("PRAGMA synchronous=NORMAL")
    cursor.execute("PRAGMA foreign_keys=ON")
    cursor.execute("PRAGMA busy_timeout=30000")
    # Checkpoints run on their own thread (hub/checkpoint.py); the automatic one stays as a safety net.
    cursor.execute(f"PRAGMA wal_autocheckpoint={AUTOCHECKPOINT_PAGES}")
    cursor.close()


class Database:
    """Engine, connections, sessions and schema state of one database."""

    def __init__(
        self,
        url: str,
        *,
        echo: bool = False,
        ping_idle_seconds: float = PING_IDLE_SECONDS,
        parallel_workers: int = PARALLEL_WORKERS,
        pool_size: int = POOL_SIZE,
    ) -> None:
        try:
            parsed = make_url(url)
        except ArgumentError as exc:
            raise ConfigError(f"database URL {url!r} is not a valid SQLAlchemy URL") from exc
        self.url = parsed
        self.safe_url = parsed.render_as_string(hide_password=True)
        kwargs: dict[str, Any] = {"echo": echo, "future": True}
        if parsed.get_backend_name() == "sqlite":
            self._prepare_sqlite_file(parsed.database)
            kwargs["connect_args"] = {"check_same_thread": False}
        else:
            # No pool_pre_ping: it sent a statement before every checkout, a round trip that was a third of a
            # page's time under load (bench/ngsi_http.py, py-spy). A connection is pinged only after it sat idle
            # (see _ping_after_idle); a read that meets a connection the server dropped anyway runs again.
            # PostgreSQL's JIT compiles any query whose estimate looks large (a q filter's EXISTS lookups over the
            # attribute index do): ~80 ms of compiling to run a 2 ms query (bench/ngsi_query.py, EXPLAIN ANALYZE).
            # Statements the driver prepares are planned for their values every time: the generic plan of a q
            # query (tenant and values as parameters) joins the whole attribute index, seconds instead of ms.
            # Parallel plans: starting the workers took 8-12 ms, for a q page whose lookups take 2 ms alone (a
            # Gather Merge over the EXISTS lookups of one tenant); on this 2-core benchmark machine even a count of a
            # million entities ran faster serially (0.6 s against 2.0 s). NORDHUB_DB_PARALLEL_WORKERS sets them.
            options = "-c jit=off -c plan_cache_mode=force_custom_plan"
            # The pool: SQLAlchemy's default keeps 5 connections and closes any overflow one on its return. A
            # worker serving 16 clients (bench/ngsi_http.py) runs up to 16 reads at once on its thread pool, so
            # ~3 % of its requests opened a connection (a server process forked, authenticated, closed): 261 new
            # sessions in 8 s at ~1,100 req/s (pg_stat_database.sessions), none once 20 are kept.
            kwargs["pool_size"], kwargs["max_overflow"] = pool_size, pool_size
            kwargs["connect_args"] = {"options": f"{options} -c max_parallel_workers_per_gather={parallel_workers}"}
        try:
            self.engine: Engine = create_engine(parsed, **kwargs)
        except (NoSuchModuleError, ImportError) as exc:
            raise ConfigError(f"database URL {self.safe_url!r}: driver not installed ({exc})") from exc
        self.checkpointer: Checkpointer | None = None
        if self.dialect == "sqlite":
            event.listen(self.engine, "connect", _sqlite_pragmas)
            event.listen(self.engine, "connect", register_sqlite_regexp)  # RE2: user regexes cannot run away
            event.listen(self.engine, "connect", register_sqlite_collation)  # orderBy with collation=und
            database = parsed.database
            if database and database != ":memory:" and not database.startswith("file:"):
                self.checkpointer = Checkpointer(database)
                event.listen(self.engine, "commit", self.checkpointer.poke)
        else:
            _ping_after_idle(self.engine, ping_idle_seconds)

    @classmethod
    def configured(cls, settings: Settings) -> Database:
        """The database of ``settings`` with its connection settings (``NORDHUB_DB_*``)."""
        return cls(
            settings.database_url,
            ping_idle_seconds=settings.db_ping_idle_seconds,
            parallel_workers=settings.db_parallel_workers,
            pool_size=settings.db_pool_size,
        )

    @staticmethod
    def _prepare_sqlite_file(database: str | None) -> None:
        if database and database != ":memory:" and not database.startswith("file:"):
            Path(database).parent.mkdir(parents=True, exist_ok=True)

    @property
    def dialect(self) -> str:
        return self.engine.dialect.name

    @contextmanager
    def connect(self) -> Iterator[Connection]:
        """A Core connection; reads, or writes that the caller commits."""
        try:
            conn = self.engine.connect()
        except (OperationalError, SADatabaseError) as exc:
            raise DatabaseError(f"cannot connect to database {self.safe_url}: {_first_line(exc)}") from exc
        with conn:
            yield conn

    @contextmanager
    def read(self) -> Iterator[Connection]:
        """A Core connection for reads only, in autocommit: no BEGIN before the first statement nor ROLLBACK at the
        end, two round trips of a PostgreSQL request that reads a page (bench/ngsi_http.py). Each statement sees
        its own snapshot, as it does within a READ COMMITTED transaction anyway."""
        with self.connect() as conn:
            # sqlite3 begins a transaction only before a write: there, switching modes would only cost time
            yield conn if self.dialect == "sqlite" else conn.execution_options(isolation_level="AUTOCOMMIT")

    def reading(self, work: Callable[[Connection], T]) -> T:
        """``work(conn)`` on a :meth:`read` connection; run once more on a fresh connection when the first one
        turns out to have been dropped by the server (a restart): reads are safe to repeat, and the pool has by
        then replaced every connection older than the failure."""
        try:
            with self.read() as conn:
                return work(conn)
        except DBAPIError as exc:
            if not exc.connection_invalidated:
                raise
        with self.read() as conn:
            return work(conn)

    @contextmanager
    def begin(self) -> Iterator[Connection]:
        """A Core connection in one transaction, committed on success and rolled back on any error."""
        with self.connect() as conn, conn.begin():
            yield conn

    @contextmanager
    def session(self) -> Iterator[Session]:
        """An ORM session for low-volume work."""
        with Session(self.engine) as session:
            yield session

    def ping(self) -> None:
        """Raise DatabaseError unless the database answers."""
        with self.connect() as conn:
            conn.execute(text("SELECT 1"))

    def _alembic_config(self, conn: Connection | None = None) -> Config:
        cfg = Config()
        cfg.set_main_option("script_location", MIGRATIONS)
        cfg.attributes["connection"] = conn
        return cfg

    def upgrade(self, revision: str = "heads") -> None:
        """Apply migrations up to ``revision`` (default: every head, should work land on parallel branches)."""
        with self.begin() as conn:
            command.upgrade(self._alembic_config(conn), revision)

    def downgrade(self, revision: str) -> None:
        """Revert migrations down to ``revision`` (``base`` empties the database)."""
        with self.begin() as conn:
            command.downgrade(self._alembic_config(conn), revision)

    def head_revision(self) -> str | None:
        """The newest migration(s), comma-separated when parallel branches have not been merged yet."""
        heads = sorted(ScriptDirectory.from_config(self._alembic_config()).get_heads())
        return ",".join(heads) or None

    def current_revision(self) -> str | None:
        """The revision(s) the database is at, in the same form as :meth:`head_revision`."""
        with self.connect() as conn:
            current = sorted(MigrationContext.configure(conn).get_current_heads())
        return ",".join(current) or None

    def is_current(self) -> bool:
        """True when the database schema is at the newest migration(s)."""
        return self.current_revision() == self.head_revision()

    def dispose(self) -> None:
        if self.checkpointer is not None:
            self.checkpointer.close()
        self.engine.dispose()


def _ping_after_idle(engine: Engine, idle_seconds: float) -> None:
    """Ping a pooled connection on checkout when it has sat unused for more than ``idle_seconds``.

    What ``pool_pre_ping`` guards against is a connection that died while it waited in the pool (a server restart
    or an idle timeout in the night); a connection given back a moment ago is alive but for a restart in that
    moment, and then the first statement's failure makes the pool replace all of its connections at once. A failed
    ping raises DisconnectionError, on which the pool opens a new connection (up to three times)."""

    def stamp(_dbapi_connection: Any, record: Any, *_args: Any) -> None:
        record.info["returned"] = time.monotonic()

    def check(dbapi_connection: Any, record: Any, _proxy: Any) -> None:
        if time.monotonic() - record.info.get("returned", 0.0) <= idle_seconds:
            return
        try:
            engine.dialect.do_ping(dbapi_connection)
        except engine.dialect.loaded_dbapi.Error as exc:
            raise DisconnectionError(f"connection dropped while idle: {_first_line(exc)}") from exc

    event.listen(engine, "connect", stamp)  # a new connection needs no ping
    event.listen(engine, "checkin", stamp)
    event.listen(engine, "checkout", check)


def _first_line(exc: BaseException) -> str:
    original = getattr(exc, "orig", None) or exc
    lines = str(original).strip().splitlines()
    return lines[0] if lines else type(original).__name__


# One MetaData for every domain's tables, with a naming convention so migrations name constraints the same way
# on SQLite and PostgreSQL.
metadata = MetaData(
    naming_convention={
        "ix": "ix_%(table_name)s_%(column_0_N_name)s",
        "uq": "uq_%(table_name)s_%(column_0_N_name)s",
        "ck": "ck_%(table_name)s_%(constraint_name)s",
        "fk": "fk_%(table_name)s_%(column_0_name)s_%(referred_table_name)s",
        "pk": "pk_%(table_name)s",
    }
)


class UTCDateTime(TypeDecorator[datetime]):
    """A timestamp stored in UTC and always returned time-zone aware (SQLite keeps no zone)."""

    impl = DateTime(timezone=True)
    cache_ok = True

    def process_bind_param(self, value: datetime | None, dialect: Dialect) -> datetime | None:
        if value is None:
            return None
        if value.tzinfo is None:
            raise ValueError("naive datetime given to a UTC column")
        return value.astimezone(UTC)

    def process_result_value(self, value: datetime | None, dialect: Dialect) -> datetime | None:
        if value is None:
            return None
        return value.replace(tzinfo=UTC) if value.tzinfo is None else value.astimezone(UTC)
