"""`Database`: one engine and its session factory; plus the process-wide default one."""

from __future__ import annotations

import asyncio
import time
from collections.abc import AsyncIterator, Awaitable, Callable, Iterator, Sequence
from contextlib import AbstractAsyncContextManager, asynccontextmanager, contextmanager
from contextvars import ContextVar
from typing import Any, TypeVar

from sqlalchemy import exc as sa_exc
from sqlalchemy import text
from sqlalchemy.engine import URL
from sqlalchemy.ext.asyncio import AsyncEngine, AsyncSession, async_sessionmaker
from sqlalchemy.pool import NullPool

from core.database.engine import create_engine, read_only_engine
from core.database.errors import ConfigurationError, DatabaseError, DatabaseUnavailableError
from core.database.health import DatabaseHealth, HealthStatus, SharedPing, pool_usage
from core.database.loop_engines import LoopEngines
from core.database.replicas import Replica, ReplicaSet, parse_replica_urls
from core.database.session import make_sessionmaker, session_scope
from core.database.settings import Settings, get_settings
from core.database.url import is_memory_sqlite, mask_url, parse_database_url

__all__ = [
    "SERVED_BY_REPLICA",
    "Database",
    "current_database",
    "get_database",
    "read_transaction",
    "set_database",
]

T = TypeVar("T")
# session.info key: the Replica serving a read-only session (absent: the primary).
SERVED_BY_REPLICA = "core.database.replica"

# When this task (or its parent context) last ran a unit of work on the primary:
# reads soon after it go to the primary too, so a request reads its own writes.
_last_primary_unit: ContextVar[float] = ContextVar("core_database_last_primary_unit", default=-1e9)


class Database:
    """An engine created on first use, and the sessions made from it.

    Build one explicitly for tests or a second database; the app-wide default
    comes from `get_database()`.
    """

    def __init__(
        self,
        url: str | URL | None = None,
        *,
        settings: Settings | None = None,
        replica_urls: Sequence[str | URL] | None = None,
        **engine_options: Any,
    ) -> None:
        self._settings = settings or get_settings()
        raw = url if url is not None else self._settings.database_url.get_secret_value()
        self.url = parse_database_url(raw)  # fails fast on a bad URL, before any I/O
        self._engine_options = engine_options
        # An engine per event loop (asyncpg connections belong to their loop), except
        # for an in-memory SQLite database, which lives in its one connection.
        self._engines = LoopEngines(self._build_engine, per_loop=not is_memory_sqlite(self.url))
        self._override: async_sessionmaker[AsyncSession] | None = None
        if replica_urls is None and url is None:
            replica_urls = parse_replica_urls(
                self._settings.database_replica_urls.get_secret_value()
            )
        self.replicas = ReplicaSet(parse_replica_urls(replica_urls or []), self._settings)
        if self.replicas and self.dialect != "postgresql":
            raise ConfigurationError("read replicas need a Postgres primary")
        self._health_ping: SharedPing | None = None
        self._health_engine: AsyncEngine | None = None

    def __repr__(self) -> str:
        return f"Database({mask_url(self.url)!r})"

    @property
    def settings(self) -> Settings:
        """The settings this database was built with."""
        return self._settings

    @property
    def masked_url(self) -> str:
        """The URL with the password and secret query values masked."""
        return mask_url(self.url)

    @property
    def dialect(self) -> str:
        """`sqlite` or `postgresql`."""
        return self.url.get_backend_name()

    @property
    def engine(self) -> AsyncEngine:
        """The AsyncEngine of the running event loop, created on first access.

        Each event loop gets its own engine, disposed when that loop shuts down, so
        ``asyncio.run()`` may be called again and again; an in-memory SQLite database
        keeps one engine (and its data) across loops.
        """
        return self._engines.current().engine

    @property
    def sessionmaker(self) -> async_sessionmaker[AsyncSession]:
        """The session factory (expire_on_commit=False) of the running loop's engine."""
        if self._override is not None:
            return self._override
        return self._engines.current().sessionmaker

    @contextmanager
    def override_sessionmaker(self, factory: async_sessionmaker[AsyncSession]) -> Iterator[None]:
        """Use `factory` for every session of this database while the block runs (tests)."""
        previous, self._override = self._override, factory
        try:
            yield
        finally:
            self._override = previous

    def session(self) -> AsyncSession:
        """A new session; use it as `async with db.session() as session:`."""
        return self.sessionmaker()

    def transaction(self) -> AbstractAsyncContextManager[AsyncSession]:
        """`async with db.transaction() as session:` commits on success, rolls back on error."""
        _last_primary_unit.set(time.monotonic())
        return session_scope(self.sessionmaker)

    @asynccontextmanager
    async def read_transaction(self) -> AsyncIterator[AsyncSession]:
        """`async with db.read_transaction() as session:` a read-only unit of work.

        A write in it raises ReadOnlyTransactionError on both backends. On a SQLite file
        readers run side by side (BEGIN DEFERRED, outside the write turn); with
        replicas, a fit replica serves it — unless this task ran a unit of work on the
        primary within the lag bound, so a request reads its own writes. A replica that
        cannot be reached is skipped and the next one, at last the primary, serves.
        """
        for replica in await self._read_candidates():
            session = self._read_factory(replica.engine)()
            try:
                await session.connection()  # reach the replica before the body runs
            except DatabaseUnavailableError as exc:
                await session.close()
                self.replicas.skip(replica, str(exc))
                continue
            session.info[SERVED_BY_REPLICA] = replica
            async with session_scope(_already_open(session)) as reading:
                yield reading
            return
        factory = self._override if self._override is not None else self.read_sessionmaker
        async with session_scope(factory) as reading:
            yield reading

    async def run_read(self, work: Callable[[AsyncSession], Awaitable[T]]) -> T:
        """Run `work(session)` in a read-only unit of work; if a replica dies under it,
        skip that replica and run it again (a read has nothing to undo), at last on the
        primary. Any other error is raised at once."""
        while True:
            served_by: Replica | None = None
            try:
                async with self.read_transaction() as session:
                    served_by = session.info.get(SERVED_BY_REPLICA)
                    return await work(session)
            except _REPLICA_FAILURES as exc:
                if served_by is None:
                    raise
                self.replicas.skip(served_by, f"{type(exc).__name__} during a read")

    @property
    def read_sessionmaker(self) -> async_sessionmaker[AsyncSession]:
        """The factory of read-only sessions on the primary (the running loop's engine)."""
        entry = self._engines.current()
        if entry.read_sessionmaker is None:
            entry.read_sessionmaker = self._read_factory(entry.engine)
        return entry.read_sessionmaker

    def _read_factory(self, engine: AsyncEngine) -> async_sessionmaker[AsyncSession]:
        return make_sessionmaker(read_only_engine(engine))

    async def _read_candidates(self) -> list[Replica]:
        if not self.replicas or self._override is not None:
            return []  # tests: every session joins the test's transaction on the primary
        since_primary = time.monotonic() - _last_primary_unit.get()
        if since_primary < self._settings.database_replica_max_lag_s:
            return []
        return await self.replicas.candidates()

    async def ping(self, timeout: float = 2.0) -> bool:  # noqa: ASYNC109 - a deadline, not I/O
        """True if `SELECT 1` answers within `timeout` s; else DatabaseUnavailableError."""
        try:
            # Through a session, so a test's shared connection answers the ping too.
            async with asyncio.timeout(timeout), self.session() as session:
                await session.execute(text("SELECT 1"))
        except TimeoutError as exc:
            reason = f"no answer within {timeout:g}s"
            raise DatabaseUnavailableError(reason, url=self.masked_url, reason=reason) from exc
        return True

    async def health(self, timeout: float = 2.0) -> DatabaseHealth:  # noqa: ASYNC109 - a deadline
        """Whether the database answers within `timeout` s, and whether the pool is saturated.

        Never raises for a database failure: the failure is the answer (`unavailable`).
        """
        if self._health_ping is None:
            self._health_ping = SharedPing(self._ping_outside_the_pool)
        try:
            latency = await self._health_ping.latency_ms(timeout)
        except TimeoutError:
            return self._health(HealthStatus.UNAVAILABLE, reason=f"no answer within {timeout:g}s")
        except (DatabaseError, sa_exc.SQLAlchemyError, OSError) as exc:
            return self._health(HealthStatus.UNAVAILABLE, reason=type(exc).__name__)
        usage = pool_usage(self.engine.pool)
        status = HealthStatus.SATURATED if usage and usage.saturated else HealthStatus.OK
        return DatabaseHealth(status, self.dialect, round(latency, 2), usage)

    def _health(self, status: HealthStatus, *, reason: str) -> DatabaseHealth:
        usage = pool_usage(self.engine.pool)
        return DatabaseHealth(status, self.dialect, pool=usage, reason=reason)

    async def _ping_outside_the_pool(self) -> None:
        # Bounded on its own too: callers stop waiting at their deadline, this ends later.
        async with asyncio.timeout(self._settings.database_connect_timeout):
            if is_memory_sqlite(self.url):
                # The database lives in its one pooled connection: ask it there.
                async with self.session() as session:
                    await session.execute(text("SELECT 1"))
                return
            if self._health_engine is None:
                name = f"{self._settings.database_application_name}/health"
                settings = self._settings.model_copy(update={"database_application_name": name})
                self._health_engine = create_engine(self.url, settings=settings, poolclass=NullPool)
            async with self._health_engine.connect() as connection:
                await connection.execute(text("SELECT 1"))

    async def dispose(self) -> None:
        """Close the running loop's pooled connections; the engine is rebuilt on next use."""
        if self._health_ping is not None:
            await self._health_ping.close()
        if self._health_engine is not None:
            health_engine, self._health_engine = self._health_engine, None
            await health_engine.dispose()
        await self.replicas.dispose()
        await self._engines.dispose()

    def _build_engine(self) -> AsyncEngine:
        return create_engine(self.url, settings=self._settings, **self._engine_options)


def _already_open(session: AsyncSession) -> Callable[[], AsyncSession]:
    return lambda: session


# A replica that went away under a read: unreachable, or a connection the driver
# left in a broken state (asyncpg: "cannot switch to state ...", "connection is closed").
_REPLICA_FAILURES = (DatabaseUnavailableError, sa_exc.InterfaceError, sa_exc.InternalError)

_default: Database | None = None


def get_database() -> Database:
    """The app-wide Database, built from settings on first use."""
    global _default
    if _default is None:
        _default = Database()
    return _default


def current_database() -> Database | None:
    """The app-wide Database if one was built or set; None otherwise (nothing is built)."""
    return _default


def set_database(database: Database | None) -> Database | None:
    """Replace the app-wide Database (None: rebuild from settings); return the old one."""
    global _default
    previous, _default = _default, database
    return previous


def transaction() -> AbstractAsyncContextManager[AsyncSession]:
    """`async with transaction() as session:` on the default database: commit or roll back."""
    return get_database().transaction()


def read_transaction() -> AbstractAsyncContextManager[AsyncSession]:
    """`async with read_transaction() as session:` a read-only unit of work (see Database)."""
    return get_database().read_transaction()
