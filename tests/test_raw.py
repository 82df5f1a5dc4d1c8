"""Plain-SQL helpers (core.database.raw): dict rows, bound parameters, their own transaction."""

from __future__ import annotations

import secrets
from datetime import datetime, timedelta, timezone
from pathlib import Path

import pytest
from sqlalchemy import bindparam, text
from sqlalchemy.ext.asyncio import AsyncSession

from core.database import (
    Database,
    UniqueViolation,
    UTCDateTime,
    execute,
    fetch_all,
    fetch_one,
    fetch_value,
    set_database,
)
from tests.models import Item

INSERT = "INSERT INTO parity_parents (name) VALUES (:name)"


async def _seed(*names: str) -> None:
    for name in names:
        assert await execute(INSERT, {"name": name}) == 1


@pytest.mark.parity("raw fetch_one / fetch_all / fetch_value")
async def test_fetch_helpers_return_plain_python(db_session: AsyncSession) -> None:
    await _seed("a", "b")
    one = await fetch_one("SELECT id, name FROM parity_parents WHERE name = :name", {"name": "a"})
    assert isinstance(one, dict)
    assert list(one) == ["id", "name"]
    assert one["name"] == "a"
    assert (
        await fetch_one("SELECT id FROM parity_parents WHERE name = :name", {"name": "z"}) is None
    )
    rows = await fetch_all("SELECT name FROM parity_parents ORDER BY id")
    assert rows == [{"name": "a"}, {"name": "b"}]
    assert await fetch_all("SELECT name FROM parity_parents WHERE 1 = 0") == []
    assert await fetch_value("SELECT count(*) FROM parity_parents") == 2
    assert await fetch_value("SELECT name FROM parity_parents WHERE 1 = 0") is None


@pytest.mark.parity("raw execute returns rowcount")
async def test_execute_returns_the_rowcount(db_session: AsyncSession) -> None:
    await _seed("a", "b", "c")
    assert await execute("UPDATE parity_parents SET name = name || '!' WHERE name <> 'c'") == 2
    assert await execute("DELETE FROM parity_parents WHERE name = :name", {"name": "zz"}) == 0
    assert await execute("DELETE FROM parity_parents") == 3


@pytest.mark.parity("raw parameters are bound")
async def test_parameters_are_bound_not_formatted(db_session: AsyncSession) -> None:
    tricky = "O'Brien'); DROP TABLE parity_parents; --"
    await _seed(tricky)
    assert (
        await fetch_value("SELECT name FROM parity_parents WHERE name = :n", {"n": tricky})
        == tricky
    )
    assert await fetch_value("SELECT count(*) FROM parity_parents") == 1


@pytest.mark.parity("raw execute commits, or rolls back on failure")
async def test_execute_has_its_own_transaction(db_session: AsyncSession) -> None:
    await _seed("a")
    # Committed (here: its savepoint released), so another session sees it.
    assert await db_session.scalar(text("SELECT count(*) FROM parity_parents")) == 1
    with pytest.raises(UniqueViolation):
        await execute(INSERT, {"name": "a"})
    # Rolled back: on Postgres a failed statement left unrolled would abort what follows.
    assert await execute("UPDATE parity_parents SET name = 'b' WHERE name = 'a'") == 1
    assert await fetch_all("SELECT name FROM parity_parents") == [{"name": "b"}]


@pytest.mark.parity("raw helpers join the caller's session")
async def test_session_argument_runs_in_the_callers_transaction(db_session: AsyncSession) -> None:
    await execute(INSERT, {"name": "kept"}, session=db_session)
    nested = await db_session.begin_nested()
    await execute(INSERT, {"name": "dropped"}, session=nested.session)
    rows = await fetch_all("SELECT name FROM parity_parents ORDER BY id", session=db_session)
    assert rows == [{"name": "kept"}, {"name": "dropped"}]
    await nested.rollback()
    assert await fetch_value("SELECT count(*) FROM parity_parents", session=db_session) == 1
    assert await fetch_one("SELECT name FROM parity_parents", session=db_session) == {
        "name": "kept"
    }


@pytest.mark.parity("raw SQL typed result columns")
async def test_typed_columns_give_the_same_values(db_session: AsyncSession) -> None:
    await _seed("typed")
    # Untyped raw results are the driver's values (text on SQLite); .columns() types them.
    query = text("SELECT created_at FROM parity_parents").columns(created_at=UTCDateTime())
    created = await fetch_value(query)
    assert created.utcoffset() == timedelta(0)


@pytest.mark.parity("raw SQL typed datetime parameter")
async def test_typed_datetime_parameter_matches_stored_values(db_session: AsyncSession) -> None:
    when = datetime(2024, 5, 1, 12, 0, tzinfo=timezone(timedelta(hours=2)))
    db_session.add(Item(happened_at=when))
    await db_session.flush()
    # A bare datetime parameter is the driver's business (ISO text with offset on SQLite);
    # typed as UTCDateTime it is written exactly as the column stores it.
    query = text("SELECT count(*) FROM parity_items WHERE happened_at = :when").bindparams(
        bindparam("when", type_=UTCDateTime())
    )
    assert await fetch_value(query, {"when": when}) == 1


@pytest.mark.parity("raw execute on a real engine commits or rolls back")
async def test_execute_outside_any_test_transaction(
    database_url: str, dialect: str, tmp_path: Path
) -> None:
    # Real commits, seen from another connection: a file database, or a table of its own.
    url = f"sqlite+aiosqlite:///{tmp_path}/raw.db" if dialect == "sqlite" else database_url
    table = f"raw_{secrets.token_hex(4)}"
    db = Database(url)
    previous = set_database(db)
    try:
        await execute(f"CREATE TABLE {table} (id INTEGER PRIMARY KEY, name VARCHAR(20) UNIQUE)")
        assert await execute(f"INSERT INTO {table} VALUES (1, :name)", {"name": "a"}) == 1
        with pytest.raises(UniqueViolation):
            await execute(f"INSERT INTO {table} VALUES (2, 'b'), (3, :name)", {"name": "a"})
        async with db.engine.connect() as other:
            rows = (await other.execute(text(f"SELECT id, name FROM {table}"))).all()
        assert [tuple(row) for row in rows] == [(1, "a")]
        assert await fetch_all(f"SELECT name FROM {table}") == [{"name": "a"}]
        assert await fetch_value(f"SELECT count(*) FROM {table}") == 1
    finally:
        await execute(f"DROP TABLE IF EXISTS {table}")
        set_database(previous)
        await db.dispose()
