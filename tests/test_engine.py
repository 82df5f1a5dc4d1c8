"""The per-dialect engine (core.database.engine): constraints, pragmas, laziness, savepoints."""

from __future__ import annotations

import socket
from pathlib import Path

import pytest
from sqlalchemy import select, text
from sqlalchemy.ext.asyncio import AsyncConnection, AsyncSession
from sqlalchemy.pool import AsyncAdaptedQueuePool, NullPool, StaticPool

from core.database import (
    Database,
    DatabaseUnavailableError,
    ForeignKeyViolation,
    create_engine,
)
from core.database.settings import Settings, get_settings
from core.database.url import is_memory_sqlite, parse_database_url
from tests.models import Child, Item, Parent

SECRET = "S3cretPw"


def _closed_port() -> int:
    # Bound then released: nothing listens there for the test's short life.
    with socket.socket(socket.AF_INET, socket.SOCK_STREAM) as sock:
        sock.bind(("127.0.0.1", 0))
        port: int = sock.getsockname()[1]
    return port


@pytest.mark.parity("foreign keys enforced")
async def test_foreign_keys_are_enforced(db_session: AsyncSession) -> None:
    db_session.add(Child(parent_id=999_999, label="orphan"))
    with pytest.raises(ForeignKeyViolation):
        await db_session.flush()


@pytest.mark.parity("ON DELETE CASCADE")
async def test_on_delete_cascade(db_session: AsyncSession) -> None:
    parent = Parent(name="cascade")
    db_session.add(parent)
    await db_session.flush()
    db_session.add(Child(parent_id=parent.id, label="c"))
    await db_session.flush()
    await db_session.execute(text("DELETE FROM parity_parents WHERE id = :id"), {"id": parent.id})
    assert await db_session.scalar(select(Child.id).where(Child.parent_id == parent.id)) is None


@pytest.mark.parity("savepoint rollback")
async def test_savepoint_rolls_back_and_outer_transaction_continues(
    db_session: AsyncSession,
) -> None:
    db_session.add(Parent(name="kept"))
    await db_session.flush()
    nested = await db_session.begin_nested()
    db_session.add(Parent(name="undone"))
    await db_session.flush()
    await nested.rollback()
    db_session.add(Parent(name="after"))
    await db_session.flush()
    names = set((await db_session.scalars(select(Parent.name))).all())
    assert names == {"kept", "after"}


@pytest.mark.parity("LIKE is case-sensitive, ilike() is not")
async def test_like_matches_case_and_ilike_folds_it(db_session: AsyncSession) -> None:
    db_session.add_all([Item(secret="Apple"), Item(secret="apple"), Item(secret="APPLE pie")])
    await db_session.flush()
    like = await db_session.scalars(select(Item.secret).where(Item.secret.like("app%")))
    assert like.all() == ["apple"]
    ilike = await db_session.scalars(select(Item.secret).where(Item.secret.ilike("app%")))
    assert sorted(ilike.all()) == ["APPLE pie", "Apple", "apple"]


@pytest.mark.parity("ping")
async def test_ping_answers(database: Database, db_session: AsyncSession) -> None:
    assert await database.ping(timeout=5) is True


@pytest.mark.parity("unreachable database is DatabaseUnavailableError")
async def test_unreachable_database_raises_unavailable(dialect: str, tmp_path: Path) -> None:
    if dialect == "sqlite":
        url = f"sqlite+aiosqlite:///{tmp_path}/missing-folder/app.db"
    else:
        url = f"postgresql+asyncpg://app:{SECRET}@127.0.0.1:{_closed_port()}/app?connect_timeout=2"
    db = Database(url)
    try:
        with pytest.raises(DatabaseUnavailableError) as caught:
            async with db.session() as session:
                await session.execute(text("SELECT 1"))
    finally:
        await db.dispose()
    assert caught.value.url == db.masked_url
    assert db.masked_url in str(caught.value)
    assert SECRET not in str(caught.value)
    assert SECRET not in repr(caught.value)


async def test_engine_is_lazy_and_first_use_reports_the_masked_url() -> None:
    url = f"postgresql+asyncpg://app:{SECRET}@127.0.0.1:{_closed_port()}/app?connect_timeout=2"
    db = Database(url)  # would raise here if it connected
    assert db.engine is db.engine  # built on first access, still without a connection
    try:
        with pytest.raises(DatabaseUnavailableError) as caught:
            await db.ping(timeout=10)
    finally:
        await db.dispose()
    message = str(caught.value)
    assert "postgresql+asyncpg://app:***@127.0.0.1:" in message
    assert SECRET not in message
    assert isinstance(caught.value.__cause__, OSError)


async def _assert_file_pragmas(connection: AsyncConnection, busy_timeout_ms: int) -> None:
    pragma = connection.exec_driver_sql
    assert (await pragma("PRAGMA foreign_keys")).scalar() == 1
    assert (await pragma("PRAGMA journal_mode")).scalar() == "wal"
    assert (await pragma("PRAGMA synchronous")).scalar() == 1  # NORMAL
    assert (await pragma("PRAGMA busy_timeout")).scalar() == busy_timeout_ms
    await connection.rollback()


@pytest.mark.sqlite_only(reason="PRAGMAs are SQLite's per-connection settings")
@pytest.mark.parametrize("busy_timeout_ms", [5000, 1001])  # 1.001 s * 1000 truncates to 1000
async def test_sqlite_file_pragmas_on_every_connection(
    tmp_path: Path, busy_timeout_ms: int
) -> None:
    settings = Settings(database_sqlite_busy_timeout_ms=busy_timeout_ms)
    db = Database(f"sqlite+aiosqlite:///{tmp_path}/pragmas.db", settings=settings)
    try:
        # Two connections checked out at once, so the pragmas are not only on the first
        # one; each transaction ends before the next begins (BEGIN IMMEDIATE would wait).
        async with db.engine.connect() as first:
            await _assert_file_pragmas(first, busy_timeout_ms)
            async with db.engine.connect() as second:
                await _assert_file_pragmas(second, busy_timeout_ms)
                raw_first = (await first.get_raw_connection()).driver_connection
                raw_second = (await second.get_raw_connection()).driver_connection
                assert raw_first is not raw_second
    finally:
        await db.dispose()


@pytest.mark.sqlite_only(reason="PRAGMAs are SQLite's per-connection settings")
async def test_sqlite_memory_database_enforces_foreign_keys(db_session: AsyncSession) -> None:
    assert (await db_session.execute(text("PRAGMA foreign_keys"))).scalar() == 1


@pytest.mark.postgres_only(reason="application_name and statement_timeout are Postgres settings")
async def test_postgres_session_settings_are_applied(db_session: AsyncSession) -> None:
    settings = get_settings()
    name = await db_session.scalar(text("SHOW application_name"))
    assert name == settings.database_application_name
    timeout_ms = await db_session.scalar(
        text("SELECT setting FROM pg_settings WHERE name = 'statement_timeout'")
    )
    assert timeout_ms == str(settings.database_statement_timeout_ms)


@pytest.mark.parametrize("poolclass", [NullPool, StaticPool])
async def test_a_pool_class_without_sizing_is_accepted(database_url: str, poolclass: type) -> None:
    engine = create_engine(database_url, poolclass=poolclass)
    try:
        async with engine.connect() as connection:
            assert (await connection.execute(text("SELECT 1"))).scalar() == 1
        assert isinstance(engine.pool, poolclass)
    finally:
        await engine.dispose()


async def test_a_queue_pool_class_keeps_the_sizing_from_settings(database_url: str) -> None:
    settings = Settings(database_pool_size=3, database_max_overflow=2, database_pool_timeout=7)
    engine = create_engine(database_url, settings=settings, poolclass=AsyncAdaptedQueuePool)
    explicit = create_engine(database_url, poolclass=AsyncAdaptedQueuePool, pool_size=4)
    try:
        assert isinstance(engine.pool, AsyncAdaptedQueuePool)
        memory = is_memory_sqlite(parse_database_url(database_url))  # one connection holds it
        assert engine.pool.size() == (1 if memory else 3)
        assert engine.pool.timeout() == 7
        assert explicit.pool.size() == 4
    finally:
        await engine.dispose()
        await explicit.dispose()
