"""The sync face's own behaviours: URL and settings, threads, on_commit, unavailability.

Behaviours both faces share (sessions, raw helpers, errors, types) are in test_faces.py.
"""

from __future__ import annotations

import asyncio
import inspect
import logging
import threading
import time
from collections.abc import Iterator
from pathlib import Path

import pytest
from sqlalchemy import Column, ForeignKey, Integer, MetaData, String, Table, text
from sqlalchemy.engine import URL
from sqlalchemy.util.queue import Empty

import core.database.sync as sync
from core.database import (
    ConfigurationError,
    Database,
    DatabaseUnavailableError,
    ForeignKeyViolation,
    UniqueViolation,
    on_commit,
)
from core.database.pool import FairQueuePool, FairThreadQueue
from core.database.postgres_options import psycopg_connect_args
from core.database.settings import Settings
from core.database.sync import SyncDatabase
from core.database.url import parse_database_url, sync_database_url

SCHEMA = MetaData()
Table(
    "owners",
    SCHEMA,
    Column("id", Integer, primary_key=True),
    Column("name", String(40), unique=True),
)
Table(
    "entries",
    SCHEMA,
    Column("id", Integer, primary_key=True),  # autoincrements on both backends
    Column("owner_id", ForeignKey("owners.id"), nullable=False),
    Column("face", String(10), nullable=False),
)
Table("counters", SCHEMA, Column("id", Integer, primary_key=True), Column("value", Integer))


@pytest.fixture
def sync_scratch(scratch: URL) -> Iterator[SyncDatabase]:
    """A SyncDatabase on an empty database of this run's backend whose commits are real."""
    db = SyncDatabase(scratch, settings=Settings(database_sqlite_busy_timeout_ms=10_000))
    with db.engine.begin() as connection:
        SCHEMA.create_all(connection)
        connection.execute(text("INSERT INTO owners VALUES (1, 'one')"))
        connection.execute(text("INSERT INTO counters VALUES (1, 0)"))
    try:
        yield db
    finally:
        db.dispose()


# --- URL and settings ---------------------------------------------------------------


@pytest.mark.parametrize(
    ("raw", "expected"),
    [
        ("sqlite://", "sqlite+pysqlite://"),
        ("sqlite+aiosqlite:///./app.db", "sqlite+pysqlite:///./app.db"),
        ("sqlite+pysqlite:///./app.db", "sqlite+pysqlite:///./app.db"),
        ("postgres://u:p@h/db", "postgresql+psycopg://u:***@h/db"),
        ("postgresql+asyncpg://u:p@h:5433/db", "postgresql+psycopg://u:***@h:5433/db"),
        (
            "postgresql+psycopg://u:p@h/db?sslmode=require",
            "postgresql+psycopg://u:***@h/db?sslmode=require",
        ),
    ],
)
def test_the_same_url_is_normalised_to_sync_drivers(raw: str, expected: str) -> None:
    assert repr(SyncDatabase(raw)) == f"SyncDatabase({expected!r})"


def test_unsupported_urls_are_refused_without_the_password() -> None:
    with pytest.raises(ConfigurationError, match="not supported") as caught:
        SyncDatabase("mysql://root:hunter2-secret@db/app")
    assert "hunter2-secret" not in str(caught.value)
    # The async face still refuses sync drivers: the sync spellings are the sync face's.
    with pytest.raises(ConfigurationError):
        parse_database_url("postgresql+psycopg://u:p@h/db")
    assert sync_database_url("sqlite:///x.db").drivername == "sqlite+pysqlite"


def test_psycopg_arguments_carry_the_settings() -> None:
    url, args = psycopg_connect_args(
        parse_database_url(
            "postgres://app:pw@db/app?sslmode=require&password=qs-secret&application_name=worker"
            "&options=-c%20search_path%3Dmy%5Cschema%20-c%20lock_timeout%3D100"
        ),
        Settings(database_statement_timeout_ms=5000, database_connect_timeout=2.5),
    )
    assert dict(url.query) == {}  # secrets and libpq keys leave the URL (and repr)
    assert args["password"] == "qs-secret"
    assert args["sslmode"] == "require"
    assert args["connect_timeout"] == 3
    # Unacknowledged data closes the socket after the connect timeout: a connection the
    # network dropped without a word fails its liveness ping instead of hanging.
    assert args["tcp_user_timeout"] == 2500
    assert args["application_name"] == "worker"
    assert args["options"] == (
        "-c statement_timeout=5000 -c search_path=my\\\\schema -c lock_timeout=100 -c timezone=UTC"
    )
    _, pooled = psycopg_connect_args(
        parse_database_url("postgres://app:pw@db/app"), Settings(database_pgbouncer=True)
    )
    assert pooled["prepare_threshold"] is None
    assert "options" not in pooled  # PgBouncer refuses the startup parameter
    with pytest.raises(ConfigurationError, match="sslmode"):
        psycopg_connect_args(parse_database_url("postgres://a@h/d?sslmode=bogus"), Settings())


@pytest.mark.postgres_only(reason="pool sizing, timeouts and session settings are Postgres's")
def test_postgres_engine_has_the_pool_and_session_settings(database_url: str) -> None:
    db = SyncDatabase(database_url, settings=Settings(database_statement_timeout_ms=4321))
    try:
        pool = db.engine.pool
        assert isinstance(pool, FairQueuePool)
        assert (pool.size(), pool._max_overflow) == (5, 10)
        with db.session() as session:
            row = session.execute(
                text(
                    "SELECT current_setting('application_name'), current_setting('TimeZone'),"
                    " current_setting('statement_timeout')"
                )
            ).one()
        assert tuple(row) == ("core-database", "UTC", "4321ms")
    finally:
        db.dispose()


@pytest.mark.sqlite_only(reason="PRAGMAs are SQLite's")
def test_sqlite_file_connections_get_the_pragmas(tmp_path: Path) -> None:
    db = SyncDatabase(
        f"sqlite:///{tmp_path / 'p.db'}", settings=Settings(database_sqlite_busy_timeout_ms=1234)
    )
    try:
        with db.engine.connect() as connection:
            values = {
                name: connection.exec_driver_sql(f"PRAGMA {name}").scalar()
                for name in ("foreign_keys", "journal_mode", "busy_timeout", "synchronous")
            }
            connection.exec_driver_sql("CREATE TABLE t (x TEXT)")
            connection.exec_driver_sql("INSERT INTO t VALUES ('Abc')")
            like = connection.exec_driver_sql("SELECT count(*) FROM t WHERE x LIKE 'abc'").scalar()
        assert values == {
            "foreign_keys": 1,
            "journal_mode": "wal",
            "busy_timeout": 1234,
            "synchronous": 1,
        }
        assert like == 0  # case_sensitive_like, as on Postgres
    finally:
        db.dispose()


def test_unreachable_postgres_is_unavailable_without_the_password() -> None:
    db = SyncDatabase(
        "postgresql://app:pw-SECRET-42@127.0.0.1:1/app",
        settings=Settings(database_connect_timeout=2),
    )
    try:
        with pytest.raises(DatabaseUnavailableError) as caught:
            db.ping()
    finally:
        db.dispose()
    assert "pw-SECRET-42" not in str(caught.value)
    assert caught.value.url == "postgresql+psycopg://app:***@127.0.0.1:1/app"


def test_unopenable_sqlite_file_is_unavailable(tmp_path: Path) -> None:
    db = SyncDatabase(f"sqlite:///{tmp_path / 'missing-dir' / 'x.db'}")
    try:
        with pytest.raises(DatabaseUnavailableError):
            db.ping()
    finally:
        db.dispose()


# --- threads ------------------------------------------------------------------------


def test_fair_thread_queue_serves_waiters_in_arrival_order() -> None:
    queue: FairThreadQueue[int] = FairThreadQueue(maxsize=1)
    served: list[str] = []

    def wait(name: str) -> None:
        queue.get(timeout=5)
        served.append(name)
        queue.put_nowait(0)

    threads = []
    for name in "abcde":
        thread = threading.Thread(target=wait, args=(name,))
        thread.start()
        threads.append(thread)
        time.sleep(0.05)  # each waiter queues before the next starts
    queue.put_nowait(0)
    for thread in threads:
        thread.join(5)
    assert served == list("abcde")
    queue.get_nowait()
    with pytest.raises(Empty):
        queue.get(timeout=0.05)  # a waiter that gives up leaves no trace...
    queue.put_nowait(7)
    assert queue.get_nowait() == 7  # ...and the next item is not handed to it


def test_threads_writing_concurrently_lose_nothing(sync_scratch: SyncDatabase) -> None:
    errors: list[BaseException] = []

    def work() -> None:
        try:
            for _ in range(25):
                with sync_scratch.transaction() as session:
                    # Read, then write: BEGIN IMMEDIATE (SQLite) / the row lock (Postgres).
                    session.execute(text("SELECT value FROM counters WHERE id = 1")).scalar()
                    session.execute(text("UPDATE counters SET value = value + 1 WHERE id = 1"))
        except BaseException as exc:
            errors.append(exc)

    threads = [threading.Thread(target=work) for _ in range(8)]
    for thread in threads:
        thread.start()
    for thread in threads:
        thread.join(60)
    assert errors == []
    with sync_scratch.session() as session:
        assert session.execute(text("SELECT value FROM counters")).scalar() == 200


@pytest.mark.sqlite_only(reason="in-memory databases are SQLite's")
def test_in_memory_sqlite_threads_never_see_uncommitted_work() -> None:
    db = SyncDatabase("sqlite://")
    try:
        with db.engine.begin() as connection:
            connection.execute(text("CREATE TABLE t (x INTEGER)"))
        inserted, seen = threading.Event(), []

        def writer() -> None:
            with pytest.raises(RuntimeError), db.transaction() as session:
                session.execute(text("INSERT INTO t VALUES (1)"))
                inserted.set()
                time.sleep(0.2)
                raise RuntimeError("roll back")

        def reader() -> None:
            inserted.wait(5)
            with db.transaction() as session:
                seen.append(session.execute(text("SELECT count(*) FROM t")).scalar())

        threads = [threading.Thread(target=writer), threading.Thread(target=reader)]
        for thread in threads:
            thread.start()
        for thread in threads:
            thread.join(10)
        assert seen == [0]  # waited its turn, and the rolled-back row never showed
    finally:
        db.dispose()


def test_coroutine_callbacks_are_refused_on_sync_sessions(sync_scratch: SyncDatabase) -> None:
    async def publish() -> None:
        return None

    with sync_scratch.session() as session, pytest.raises(TypeError, match="plain functions"):
        on_commit(session, publish)


# --- one process, both faces ----------------------------------------------------------


async def test_both_faces_write_the_same_database_under_one_set_of_rules(
    sync_scratch: SyncDatabase, scratch: URL
) -> None:
    async_db = Database(scratch, settings=sync_scratch.settings)
    errors: list[BaseException] = []

    def sync_job() -> None:
        try:
            for _ in range(40):
                with sync_scratch.transaction() as session:
                    session.execute(text("INSERT INTO entries (owner_id, face) VALUES (1, 'sync')"))
                    session.execute(text("UPDATE counters SET value = value + 1 WHERE id = 1"))
        except BaseException as exc:
            errors.append(exc)

    async def async_requests() -> None:
        for _ in range(40):
            async with async_db.transaction() as session:
                await session.execute(
                    text("INSERT INTO entries (owner_id, face) VALUES (1, 'async')")
                )
                await session.execute(text("UPDATE counters SET value = value + 1 WHERE id = 1"))

    try:
        worker = threading.Thread(target=sync_job)
        worker.start()
        await asyncio.gather(async_requests(), async_requests())
        await asyncio.to_thread(worker.join, 60)
        assert errors == []
        with sync_scratch.session() as session:
            counts = dict(
                session.execute(text("SELECT face, count(*) FROM entries GROUP BY face")).all()
            )
            total = session.execute(text("SELECT value FROM counters")).scalar()
        assert counts == {"sync": 40, "async": 80}
        assert total == 120
        # The same rules, the same error classes on both faces.
        orphan = "INSERT INTO entries (owner_id, face) VALUES (999, 'x')"
        duplicate = "INSERT INTO owners VALUES (2, 'one')"
        for statement, expected in ((orphan, ForeignKeyViolation), (duplicate, UniqueViolation)):
            with pytest.raises(expected), sync_scratch.transaction() as session:
                session.execute(text(statement))
            with pytest.raises(expected):
                async with async_db.transaction() as session:
                    await session.execute(text(statement))
    finally:
        await async_db.dispose()


def test_sync_api_resolves_and_is_documented() -> None:
    assert sync.__all__ == sorted(sync.__all__, key=lambda n: (0 if n[0].isupper() else 1, n))
    for name in sync.__all__:
        value = getattr(sync, name)
        if inspect.isclass(value) or inspect.isfunction(value):
            assert inspect.getdoc(value), f"{name} has no docstring"
    with pytest.raises(AttributeError, match="no_such_name"):
        sync.__getattr__("no_such_name")


def test_a_sync_callback_that_returns_a_coroutine_is_logged_and_the_commit_stands(
    sync_scratch: SyncDatabase, caplog: pytest.LogCaptureFixture
) -> None:
    async def publish() -> None:
        return None

    with caplog.at_level(logging.ERROR, logger="core.database"):
        with sync_scratch.transaction() as session:
            session.execute(text("INSERT INTO entries (owner_id, face) VALUES (1, 'sync')"))
            on_commit(session, lambda: publish())  # a plain function, handing back a coroutine
        with sync_scratch.transaction() as session:
            assert session.execute(text("SELECT count(*) FROM entries")).scalar() == 1
    failures = [r for r in caplog.records if "the commit stands" in r.getMessage()]
    assert len(failures) == 1
    assert failures[0].exc_info is not None
    assert "sync session" in str(failures[0].exc_info[1])
