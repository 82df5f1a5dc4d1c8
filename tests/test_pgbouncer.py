"""DATABASE_PGBOUNCER against a real PgBouncer in transaction mode, on a scratch database.

Six client connections share two server connections, so a statement prepared in one
transaction may be executed on another server in the next: the setting must make that
work, and without it the same client fails with asyncpg's prepared-statement error.
"""

from __future__ import annotations

import asyncio
import uuid
from collections.abc import AsyncIterator, Iterator
from datetime import UTC, datetime
from decimal import Decimal
from pathlib import Path

import pytest
from pydantic import SecretStr
from sqlalchemy import exc as sa_exc
from sqlalchemy import select, text
from sqlalchemy.engine import URL

from core.database import (
    Database,
    DatabaseUnavailableError,
    execute,
    fetch_all,
    fetch_one,
    fetch_value,
    set_database,
)
from core.database.settings import Settings
from core.database.testing import pgbouncer as pgbouncer_module
from core.database.testing.pgbouncer import (
    PgBouncerUnavailableError,
    find_pgbouncer,
    pgbouncer_in_front,
)
from tests.models import Color, Counter, Item

pytestmark = pytest.mark.postgres_only(reason="PgBouncer fronts Postgres only")

SERVERS = 2  # PgBouncer's pool per database and user
CLIENTS = 6  # the toolkit's pool: three times as many connections as servers


@pytest.fixture
def bouncer(scratch: URL) -> Iterator[str]:
    """The scratch database's URL through a fresh PgBouncer in transaction mode."""
    try:
        find_pgbouncer()
    except PgBouncerUnavailableError as exc:
        pytest.fail(str(exc), pytrace=False)  # never a silent skip: CI installs it
    with pgbouncer_in_front(
        scratch.render_as_string(hide_password=False), pool_size=SERVERS
    ) as url:
        yield url


def test_a_missing_pgbouncer_is_an_error_with_the_install_hint(
    monkeypatch: pytest.MonkeyPatch, tmp_path: Path
) -> None:
    monkeypatch.setenv("PATH", str(tmp_path))
    monkeypatch.setattr(pgbouncer_module, "DEBIAN_PATH", tmp_path / "pgbouncer")
    with pytest.raises(PgBouncerUnavailableError, match="apt-get install pgbouncer"):
        find_pgbouncer()


def _database(url: str, *, pgbouncer: bool, statement_timeout_ms: int = 0) -> Database:
    settings = Settings(
        database_url=SecretStr(url),
        database_pgbouncer=pgbouncer,
        database_statement_timeout_ms=statement_timeout_ms,
        database_pool_size=CLIENTS,
        database_max_overflow=0,
    )
    return Database(url, settings=settings)


@pytest.fixture
async def behind_bouncer(bouncer: str) -> AsyncIterator[Database]:
    """A Database with DATABASE_PGBOUNCER=true, its tables created through PgBouncer."""
    db = _database(bouncer, pgbouncer=True)
    try:
        async with db.engine.begin() as connection:
            await connection.run_sync(Counter.metadata.create_all, [Counter.__table__])
            await connection.run_sync(Item.metadata.create_all, [Item.__table__])
        yield db
    finally:
        await db.dispose()


async def test_concurrent_transactions_share_two_servers(behind_bouncer: Database) -> None:
    servers: dict[int, set[int]] = {}  # client connection -> server backends it was given

    async def worker(k: int) -> None:
        for i in range(10):
            async with behind_bouncer.transaction() as session:
                raw = await (await session.connection()).get_raw_connection()
                client = id(raw.dbapi_connection)
                row_id = await session.scalar(
                    text("INSERT INTO parity_counters (value) VALUES (:v) RETURNING id"),
                    {"v": k * 100 + i},
                )
                await session.execute(
                    text("UPDATE parity_counters SET value = value + :d WHERE id = :id"),
                    {"d": 1, "id": row_id},
                )
                value = await session.scalar(
                    text("SELECT value FROM parity_counters WHERE id = :id"), {"id": row_id}
                )
                assert value == k * 100 + i + 1
                pid = await session.scalar(text("SELECT pg_backend_pid()"))
                servers.setdefault(client, set()).add(pid)

    await asyncio.gather(*(worker(k) for k in range(CLIENTS)))

    async with behind_bouncer.session() as session:
        count, total = (
            await session.execute(text("SELECT count(*), sum(value) FROM parity_counters"))
        ).one()
    assert count == CLIENTS * 10
    assert total == sum(k * 100 + i + 1 for k in range(CLIENTS) for i in range(10))
    # More clients than servers: server connections were really shared between clients.
    assert len(servers) > SERVERS
    assert len(set().union(*servers.values())) <= SERVERS


async def test_orm_round_trip(behind_bouncer: Database) -> None:
    token = uuid.uuid4()
    happened = datetime(2024, 5, 1, 12, 30, tzinfo=UTC)
    async with behind_bouncer.transaction() as session:
        session.add(
            Item(
                quantity=3,
                price=Decimal("12.34"),
                payload={"a": [1, 2]},
                token=token,
                color=Color.GREEN,
                happened_at=happened,
            )
        )
    async with behind_bouncer.session() as session:
        item = (await session.execute(select(Item).where(Item.token == token))).scalar_one()
    assert (item.quantity, item.price, item.payload) == (3, Decimal("12.34"), {"a": [1, 2]})
    assert (item.color, item.happened_at) == (Color.GREEN, happened)


async def test_raw_helpers(behind_bouncer: Database) -> None:
    # Their own connection per call (no test transaction to join): the production path.
    previous = set_database(behind_bouncer)
    try:

        async def worker(k: int) -> None:
            for i in range(5):
                sql = "INSERT INTO parity_counters (value) VALUES (:v)"
                assert await execute(sql, {"v": k * 10 + i}) == 1
                row = await fetch_one("SELECT CAST(:x AS integer) + 1 AS y", {"x": k})
                assert row == {"y": k + 1}

        await asyncio.gather(*(worker(k) for k in range(CLIENTS)))
        rows = await fetch_all("SELECT value FROM parity_counters WHERE value < :n", {"n": 3})
        assert sorted(row["value"] for row in rows) == [0, 1, 2]
        assert await fetch_value("SELECT count(*) FROM parity_counters") == CLIENTS * 5
    finally:
        set_database(previous)


async def _statement_reused_on_another_server(db: Database) -> None:
    """Run one statement twice on one client, the second time on the other server.

    Deterministic with two servers: `a` and then `c` each hold one in an open transaction,
    so `b` gets one server for its first run and the other one for its second.
    """
    reused = text("SELECT CAST(:n AS integer) * 2")
    async with db.engine.connect() as a, db.engine.connect() as b, db.engine.connect() as c:
        first = await a.scalar(text("SELECT pg_backend_pid()"))
        assert await b.scalar(reused, {"n": 1}) == 2
        await b.commit()
        second = await c.scalar(text("SELECT pg_backend_pid()"))
        await a.commit()
        assert first != second  # a and c hold the two servers
        assert await b.scalar(reused, {"n": 2}) == 4


async def test_a_statement_runs_on_another_server_with_the_setting(bouncer: str) -> None:
    db = _database(bouncer, pgbouncer=True)
    try:
        await _statement_reused_on_another_server(db)
    finally:
        await db.dispose()


async def test_without_the_setting_the_statement_does_not_exist_there(bouncer: str) -> None:
    db = _database(bouncer, pgbouncer=False)  # statement_timeout 0: it connects
    try:
        with pytest.raises(sa_exc.DBAPIError, match=r'prepared statement "\w+" does not exist'):
            await _statement_reused_on_another_server(db)
    finally:
        await db.dispose()


async def test_statement_timeout_is_left_to_the_role(bouncer: str, scratch: URL) -> None:
    refused = _database(bouncer, pgbouncer=False, statement_timeout_ms=5000)
    with pytest.raises(DatabaseUnavailableError) as caught:
        await refused.ping()
    await refused.dispose()
    assert "unsupported startup parameter: statement_timeout" in _chain(caught.value)

    # The documented way: set it on the role (here only in the scratch database).
    direct = Database(scratch)
    role_in_db = f'ROLE "{scratch.username}" IN DATABASE "{scratch.database}"'
    db = _database(bouncer, pgbouncer=True, statement_timeout_ms=5000)
    try:
        async with direct.engine.begin() as connection:
            await connection.exec_driver_sql(f"ALTER {role_in_db} SET statement_timeout = '7s'")
        assert await _fetch_timeout(db) == "7s"
    finally:
        async with direct.engine.begin() as connection:
            await connection.exec_driver_sql(f"ALTER {role_in_db} RESET statement_timeout")
        await direct.dispose()
        await db.dispose()


async def _fetch_timeout(db: Database) -> str:
    async with db.session() as session:
        return str(await session.scalar(text("SHOW statement_timeout")))


def _chain(exc: BaseException | None) -> str:
    messages = []
    while exc is not None:
        messages.append(str(exc))
        exc = exc.__cause__ or exc.__context__
    return "\n".join(messages)
