"""The raw helpers' driver path gives what the engine's path gives: rows, types, errors.

Without a session, a helper given a SQL string runs it straight on a pooled driver
connection (core.database.driver_path); given `text(sql)` it runs on SQLAlchemy's
Connection. Each case here runs both ways, on both faces, on a real pool whose
commits are real, and must come out the same. Then what only the driver path must
take care of itself: the pool, cancellation, lost connections, watchers.
"""

from __future__ import annotations

import asyncio
import logging
import time
from collections.abc import AsyncIterator, Awaitable, Callable
from dataclasses import dataclass
from decimal import Decimal
from pathlib import Path
from typing import Any

import pytest
from sqlalchemy import event, text
from sqlalchemy.engine import URL

from core.database import (
    Database,
    DatabaseUnavailableError,
    IntegrityViolation,
    execute,
    fetch_all,
    fetch_one,
    set_database,
)
from core.database import sync as sync_face
from core.database.driver_path import prepare
from core.database.sync import SyncDatabase, set_sync_database

SCHEMA = (
    "CREATE TABLE dp_people (id INTEGER PRIMARY KEY, email VARCHAR(20) NOT NULL UNIQUE,"
    " note TEXT, score NUMERIC(10, 2))"
)
PEOPLE = [(1, "ann@example.com", "first", "1.50"), (2, "bob@example.com", None, "20.25")]

Call = Callable[..., Awaitable[Any]]


@dataclass
class Face:
    """One face's helpers as coroutines, and the engine its raw path runs on."""

    name: str
    fetch_all: Call
    fetch_one: Call
    execute: Call
    engine: Any
    url: URL  # the database's, for connections of a test's own


def _sync(helper: Callable[..., Any]) -> Call:
    async def call(*args: Any, **kwargs: Any) -> Any:
        return helper(*args, **kwargs)

    return call


@pytest.fixture(params=["async", "sync"])
async def face(request: pytest.FixtureRequest, scratch: URL) -> AsyncIterator[Face]:
    db = Database(scratch, pool_size=1, max_overflow=0, pool_timeout=5)
    previous = set_database(db)
    sync_db = SyncDatabase(scratch, pool_size=1, max_overflow=0, pool_timeout=5)
    previous_sync = set_sync_database(sync_db)
    try:
        await execute(SCHEMA)
        for person in PEOPLE:
            await execute(
                "INSERT INTO dp_people VALUES (:id, :email, :note, CAST(:score AS NUMERIC(10, 2)))",
                dict(zip(("id", "email", "note", "score"), person, strict=True)),
            )
        if request.param == "async":
            yield Face("async", fetch_all, fetch_one, execute, db.engine.sync_engine, scratch)
        else:
            yield Face(
                "sync",
                _sync(sync_face.fetch_all),
                _sync(sync_face.fetch_one),
                _sync(sync_face.execute),
                sync_db.engine,
                scratch,
            )
    finally:
        set_database(previous)
        set_sync_database(previous_sync)
        sync_db.dispose()
        await db.dispose()


def _typed(rows: Any) -> Any:
    """Rows with each value's type, so `1` and `1.0` or `Decimal` and `float` differ."""
    if isinstance(rows, dict):
        return [(key, value, type(value)) for key, value in rows.items()]
    if isinstance(rows, list):
        return [_typed(row) for row in rows]
    return (rows, type(rows))


async def _outcome(call: Awaitable[Any]) -> tuple[str, Any]:
    try:
        return "result", _typed(await call)
    except Exception as exc:
        detail: tuple[Any, ...] = ()
        if isinstance(exc, IntegrityViolation):
            detail = (exc.table, exc.columns, exc.constraint)
        return "error", (type(exc), detail)


# (SQL, parameters): reads valid on both backends, and failures of every kind.
READS = {
    "literals": ("SELECT 1 AS one, 'x' AS txt, NULL AS nothing", None),
    "bound values": ("SELECT :a AS a, :b AS b", {"a": "two", "b": None}),
    "a value used twice": ("SELECT CAST(:n AS INTEGER) + CAST(:n AS INTEGER) AS n", {"n": 21}),
    "unused values": ("SELECT 1 AS one", {"unused": 1}),
    "a missing value": ("SELECT :a AS a", {}),
    "a percent sign": ("SELECT email FROM dp_people WHERE email LIKE 'a%' ORDER BY id", None),
    "rows by key": ("SELECT id, email, note, score FROM dp_people WHERE id = :id", {"id": 2}),
    "no rows": ("SELECT id FROM dp_people WHERE id = :id", {"id": 99}),
    "every row": ("SELECT * FROM dp_people ORDER BY id", None),
    "an aggregate": ("SELECT count(*) AS n, max(email) AS last FROM dp_people", None),
    "unicode": ("SELECT :s AS s", {"s": "Zoë 🌍 ünï"}),
    "leading whitespace": ("\n   select id from dp_people order by id", None),
    "an unknown table": ("SELECT * FROM dp_nobody", None),
    "a syntax error": ("SELECT FROM WHERE", None),
    "a refused value": ("SELECT CAST(:n AS INTEGER) AS n", {"n": "not a number"}),
    "a value of the wrong kind": ("SELECT id FROM dp_people WHERE id = :id", {"id": object()}),
}


@pytest.mark.parity("raw helpers: the driver path reads what the engine's path reads")
@pytest.mark.parametrize(("sql", "params"), READS.values(), ids=READS.keys())
async def test_reads_come_out_the_same_both_ways(
    face: Face, sql: str, params: dict[str, Any] | None
) -> None:
    for helper in (face.fetch_all, face.fetch_one):
        by_driver = await _outcome(helper(sql, params))
        by_engine = await _outcome(helper(text(sql), params))
        assert by_driver == by_engine


@pytest.mark.parity("raw helpers: reads by SQL string take the driver path")
@pytest.mark.parametrize(
    "name", ["literals", "bound values", "rows by key", "unicode", "a percent sign"]
)
def test_reads_by_string_take_the_driver_path(face: Face, name: str) -> None:
    sql, params = READS[name]
    assert prepare(face.engine, sql, params) is not None
    assert prepare(face.engine, "SELECT :a AS a", {}) is None  # the engine raises its error


# Writes: each runs on one path, then on the other with the next key.
WRITES = {
    "an update": ("UPDATE dp_people SET note = :note WHERE id <= :id", {"note": "n", "id": 2}),
    "a delete of nothing": ("DELETE FROM dp_people WHERE id = :id", {"id": 99}),
    "a duplicate": (
        "INSERT INTO dp_people (id, email) VALUES (:id, :email)",
        {"id": 3, "email": "ann@example.com"},
    ),
    "a missing not-null value": ("INSERT INTO dp_people (id) VALUES (:id)", {"id": 3}),
    "a duplicate key": (
        "INSERT INTO dp_people (id, email) VALUES (:id, :email)",
        {"id": 1, "email": "new@example.com"},
    ),
}


@pytest.mark.parity("raw helpers: writes by SQL string count and fail as through the engine")
@pytest.mark.parametrize(("sql", "params"), WRITES.values(), ids=WRITES.keys())
async def test_writes_come_out_the_same_both_ways(
    face: Face, sql: str, params: dict[str, Any]
) -> None:
    by_driver = await _outcome(face.execute(sql, params))
    by_engine = await _outcome(face.execute(text(sql), params))
    assert by_driver == by_engine


@pytest.mark.parity("raw helpers: INSERT ... RETURNING by SQL string returns the row")
async def test_a_write_that_returns_rows(face: Face) -> None:
    sql = "INSERT INTO dp_people (id, email) VALUES (:id, :email) RETURNING id, email"
    row = await face.fetch_one(sql, {"id": 7, "email": "eve@example.com"})
    assert row == {"id": 7, "email": "eve@example.com"}
    assert await face.fetch_one("SELECT email FROM dp_people WHERE id = 7") == {
        "email": "eve@example.com"
    }


@pytest.mark.parity("raw helpers: numbers keep their kinds on the driver path")
async def test_numbers_keep_their_kinds(face: Face) -> None:
    row = await face.fetch_one("SELECT id, score FROM dp_people WHERE id = 1")
    assert row is not None
    assert type(row["id"]) is int
    # NUMERIC is a Decimal on Postgres and a float on SQLite, the same on both paths.
    assert row["score"] in (Decimal("1.50"), 1.5)


@pytest.mark.parity("raw helpers: the pooled connection goes back after every call")
async def test_connections_go_back_to_the_pool(face: Face) -> None:
    # The pool holds one connection: a call that kept it would make the next one wait.
    for n in range(30):
        assert await face.fetch_one("SELECT :n AS n", {"n": str(n)}) == {"n": str(n)}
    for _ in range(5):
        with pytest.raises(Exception):  # noqa: B017 - any failure must give it back
            await face.fetch_all("SELECT * FROM dp_nobody")
    assert await face.execute("UPDATE dp_people SET note = 'x' WHERE id = 1") == 1
    assert face.engine.pool.checkedout() == 0


@pytest.mark.parity("raw helpers: a read does not wait for an open write transaction")
async def test_a_read_does_not_wait_for_a_writer(scratch: URL) -> None:
    db = Database(scratch, pool_size=2, max_overflow=0, pool_timeout=5)
    previous = set_database(db)
    try:
        await execute(SCHEMA)
        await execute("INSERT INTO dp_people (id, email) VALUES (1, 'ann@example.com')")
        async with db.transaction() as writer:
            await writer.execute(text("UPDATE dp_people SET note = 'uncommitted' WHERE id = 1"))
            began = time.monotonic()
            row = await fetch_one("SELECT note FROM dp_people WHERE id = 1")
            assert row == {"note": None}  # the committed state, at once
            assert time.monotonic() - began < 2
    finally:
        set_database(previous)
        await db.dispose()


# A SELECT that runs far longer than the test waits.
_SLOW = {
    "postgresql": "SELECT count(*) FROM generate_series(1, 1) CROSS JOIN pg_sleep(30)",
    "sqlite": (
        "SELECT count(*) FROM (WITH RECURSIVE c(x) AS"
        " (SELECT 1 UNION ALL SELECT x + 1 FROM c WHERE x < 3000000000) SELECT x FROM c)"
    ),
}


@pytest.mark.parity("raw helpers: a timeout interrupts a driver-path statement")
async def test_a_timeout_interrupts_the_statement(scratch: URL) -> None:
    db = Database(scratch, pool_size=1, max_overflow=0, pool_timeout=5)
    previous = set_database(db)
    try:
        slow = _SLOW[db.dialect]
        assert prepare(db.engine.sync_engine, slow, None) is not None
        began = time.monotonic()
        with pytest.raises(TimeoutError):
            async with asyncio.timeout(0.5):
                await fetch_one(slow)
        assert time.monotonic() - began < 10
        # The pool's one connection serves again (SQLite: kept; Postgres: replaced).
        assert await fetch_one("SELECT 1 AS one") == {"one": 1}
        assert db.engine.pool.checkedout() == 0
    finally:
        set_database(previous)
        await db.dispose()


@pytest.mark.parity("raw helpers: statements stay visible to echo and cursor listeners")
async def test_watched_statements_take_the_engine_path(
    scratch: URL, caplog: pytest.LogCaptureFixture
) -> None:
    db = Database(scratch)
    previous = set_database(db)
    seen: list[str] = []
    try:
        engine = db.engine.sync_engine
        assert prepare(engine, "SELECT 1 AS one", None) is not None

        def spy(_c: Any, _cur: Any, statement: str, *_rest: Any) -> None:
            seen.append(statement)

        event.listen(engine, "before_cursor_execute", spy)
        assert await fetch_one("SELECT 41 + 1 AS answer") == {"answer": 42}
        assert any("41 + 1" in statement for statement in seen)
        event.remove(engine, "before_cursor_execute", spy)
        assert prepare(engine, "SELECT 1 AS one", None) is not None
        with caplog.at_level(logging.INFO, logger="sqlalchemy.engine.Engine"):
            assert await fetch_one("SELECT 40 + 2 AS answer") == {"answer": 42}
        assert "40 + 2" in caplog.text
    finally:
        set_database(previous)
        await db.dispose()


@pytest.mark.sqlite_only("only SQLite decides between paths by what a statement does")
@pytest.mark.parametrize(
    "sql",
    [
        "INSERT INTO dp_people (id, email) VALUES (5, 'x@example.com')",
        "WITH x AS (SELECT 1) DELETE FROM dp_people WHERE id = 99",
        "PRAGMA user_version = 3",
        "-- a comment first\nSELECT 1",
    ],
)
def test_sqlite_statements_that_may_write_take_the_turn(face: Face, sql: str) -> None:
    # The engine's path queues them for the write turn; a SELECT cannot write.
    assert prepare(face.engine, sql, None) is None


@pytest.mark.postgres_only("a transaction opened by a statement is a server-side state")
@pytest.mark.parametrize("begin", ["BEGIN", "START TRANSACTION"])
async def test_a_begin_statement_leaves_nothing_open(face: Face, begin: str) -> None:
    await face.execute(begin)
    # The pool's one connection: were it left inside a transaction, this would fail or
    # its update would never be committed.
    assert await face.execute("UPDATE dp_people SET note = 'kept' WHERE id = 1") == 1
    db = Database(face.url)
    try:
        async with db.transaction() as session:
            note = await session.scalar(text("SELECT note FROM dp_people WHERE id = 1"))
        assert note == "kept"
    finally:
        await db.dispose()


@pytest.mark.postgres_only("a backend ended by the server is a Postgres event")
async def test_a_lost_connection_is_unavailability_and_is_replaced(face: Face) -> None:
    pid = (await face.fetch_one("SELECT pg_backend_pid() AS pid"))["pid"]
    killer = Database(face.url)
    try:
        async with killer.transaction() as session:
            await session.execute(text("SELECT pg_terminate_backend(:pid)"), {"pid": pid})
    finally:
        await killer.dispose()
    await asyncio.sleep(0.2)
    # The pool may see the loss at checkout (asyncpg learns it from the socket) and
    # connect anew; else the call fails as unavailability, never with a driver error.
    outcome = await _outcome(face.fetch_one("SELECT 1 AS one"))
    assert outcome in (
        ("result", _typed({"one": 1})),
        ("error", (DatabaseUnavailableError, ())),
    )
    assert await face.fetch_one("SELECT 1 AS one") == {"one": 1}
    assert face.engine.pool.checkedout() == 0


@pytest.mark.postgres_only("a login needs a Postgres server")
async def test_a_refused_login_shows_no_password(scratch: URL) -> None:
    wrong = scratch.set(password="s3cret-wrong-pw")
    db = Database(wrong, pool_size=1, max_overflow=0)
    previous = set_database(db)
    try:
        with pytest.raises(DatabaseUnavailableError) as caught:
            await fetch_one("SELECT 1 AS one")
        assert "s3cret-wrong-pw" not in str(caught.value)
        assert "s3cret-wrong-pw" not in repr(caught.value)
    finally:
        set_database(previous)
        await db.dispose()


@pytest.mark.sqlite_only("a file that cannot be opened is a SQLite event")
async def test_an_unopenable_file_is_unavailability(tmp_path: Path) -> None:
    missing = URL.create("sqlite+aiosqlite", database=str(tmp_path / "no" / "such" / "dir.db"))
    db = Database(missing)
    previous = set_database(db)
    try:
        by_driver = await _outcome(fetch_one("SELECT 1 AS one"))
        by_engine = await _outcome(fetch_one(text("SELECT 1 AS one")))
    finally:
        set_database(previous)
        await db.dispose()
    assert by_driver == by_engine == ("error", (DatabaseUnavailableError, ()))
