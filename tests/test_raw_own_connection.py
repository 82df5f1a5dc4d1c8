"""Raw helpers outside a test transaction: one statement on a connection of its own.

These tests use the `database` fixture without `db_session`, so the helpers take
their production path (not the test's shared connection) and really commit; each
test works in a scratch table of its own and drops it afterwards.
"""

from __future__ import annotations

import uuid
from collections.abc import AsyncIterator

import pytest
from sqlalchemy import text

from core.database import Database, UniqueViolation, execute, fetch_all, fetch_one, fetch_value


@pytest.fixture
async def scratch(database: Database) -> AsyncIterator[str]:
    """A committed table `name` (id primary key, label unique), dropped after the test."""
    name = f"raw_own_{uuid.uuid4().hex[:8]}"
    async with database.engine.begin() as connection:
        await connection.execute(
            text(f"CREATE TABLE {name} (id INTEGER PRIMARY KEY, label VARCHAR(20) UNIQUE)")
        )
    try:
        yield name
    finally:
        async with database.engine.begin() as connection:
            await connection.execute(text(f"DROP TABLE {name}"))


async def _committed(database: Database, table: str) -> list[str]:
    # A connection of its own: only committed rows are visible here.
    async with database.engine.connect() as connection:
        rows = await connection.execute(text(f"SELECT label FROM {table} ORDER BY id"))
        return [label for (label,) in rows]


async def test_fetch_one_commits_a_write_it_returns(database: Database, scratch: str) -> None:
    row = await fetch_one(
        f"INSERT INTO {scratch} (id, label) VALUES (:id, :label) RETURNING id, label",
        {"id": 1, "label": "a"},
    )
    assert row == {"id": 1, "label": "a"}
    assert await _committed(database, scratch) == ["a"]


async def test_execute_commits_and_fetch_all_reads_dicts(database: Database, scratch: str) -> None:
    for i, label in enumerate(("a", "b", "c"), start=1):
        assert (
            await execute(f"INSERT INTO {scratch} VALUES (:id, :label)", {"id": i, "label": label})
            == 1
        )
    assert await fetch_all(f"SELECT id, label FROM {scratch} ORDER BY id") == [
        {"id": 1, "label": "a"},
        {"id": 2, "label": "b"},
        {"id": 3, "label": "c"},
    ]
    assert await fetch_value(f"SELECT count(*) FROM {scratch}") == 3
    assert await _committed(database, scratch) == ["a", "b", "c"]


async def test_a_failing_statement_writes_nothing_and_frees_its_connection(
    database: Database, scratch: str
) -> None:
    await execute(f"INSERT INTO {scratch} VALUES (1, 'a')")
    with pytest.raises(UniqueViolation):
        await execute(f"INSERT INTO {scratch} VALUES (2, 'a')")
    with pytest.raises(UniqueViolation):
        await fetch_one(f"INSERT INTO {scratch} VALUES (3, 'a') RETURNING id")
    assert database.engine.pool.checkedout() == 0  # type: ignore[attr-defined]
    assert await _committed(database, scratch) == ["a"]
    assert await fetch_value(f"SELECT count(*) FROM {scratch}") == 1
