"""The plugin's per-test isolation (core.database.testing.plugin / .isolation), on both backends.

Code under test may commit, roll back, hit a constraint or answer HTTP requests: the test's
outer transaction survives it all and undoes it all afterwards.
"""

from __future__ import annotations

import asyncio
from typing import Any

import pytest
from fastapi import FastAPI
from sqlalchemy import func, select
from sqlalchemy.ext.asyncio import AsyncConnection, AsyncSession

from core.database import (
    Database,
    SessionDep,
    UniqueViolation,
    execute,
    fetch_value,
    install_error_handlers,
    transaction,
)
from core.database.testing import OuterTransactionEndedError, make_client, rollback_after
from core.database.testing.schema import as_metadata_list, load_object
from tests import models
from tests.models import Child, Parent


async def names(session: AsyncSession) -> list[str]:
    return list((await session.scalars(select(Parent.name).order_by(Parent.name))).all())


def make_app() -> FastAPI:
    api = FastAPI()
    install_error_handlers(api)

    @api.post("/parents", status_code=201)
    async def create(name: str, session: SessionDep) -> dict[str, Any]:
        parent = Parent(name=name)
        session.add(parent)
        await session.flush()
        return {"id": parent.id, "name": parent.name}

    @api.patch("/parents/{parent_id}")
    async def rename(parent_id: int, name: str, session: SessionDep) -> dict[str, Any]:
        parent = await session.get_one(Parent, parent_id)
        parent.name = name
        return {"id": parent.id}

    @api.delete("/parents/{parent_id}", status_code=204)
    async def delete(parent_id: int, session: SessionDep) -> None:
        await session.delete(await session.get_one(Parent, parent_id))

    @api.get("/parents/count")
    async def count(session: SessionDep) -> int:
        return int(await session.scalar(select(func.count()).select_from(Parent)) or 0)

    return api


@pytest.fixture(scope="module")
def app() -> FastAPI:
    """Overrides the plugin's `app`: what a host conftest.py does instead of the ini option."""
    return make_app()


async def test_commit_in_code_under_test_keeps_the_outer_transaction(
    db_session: AsyncSession, db_connection: AsyncConnection
) -> None:
    db_session.add(Parent(name="a"))
    await db_session.commit()  # releases a SAVEPOINT, not the outer transaction
    assert db_connection.in_transaction()
    async with transaction() as other:  # code under test opening its own unit of work
        other.add(Parent(name="b"))
    assert await names(db_session) == ["a", "b"]


async def test_rollback_in_code_under_test_leaves_the_session_usable(
    db_session: AsyncSession, db_connection: AsyncConnection
) -> None:
    db_session.add(Parent(name="kept"))
    await db_session.commit()
    db_session.add(Parent(name="undone"))
    await db_session.flush()
    await db_session.rollback()  # back to the SAVEPOINT: "kept" stays, the test goes on
    assert db_connection.in_transaction()
    assert await names(db_session) == ["kept"]
    db_session.add(Parent(name="after"))
    await db_session.commit()
    assert await names(db_session) == ["after", "kept"]


async def test_a_failed_statement_then_rollback_is_recoverable(
    db_session: AsyncSession, db_connection: AsyncConnection
) -> None:
    db_session.add(Parent(name="dup"))
    await db_session.commit()
    db_session.add(Parent(name="dup"))
    with pytest.raises(UniqueViolation):
        await db_session.flush()
    # On Postgres the failed INSERT aborts the transaction: only the SAVEPOINT is lost.
    await db_session.rollback()
    assert db_connection.in_transaction()
    assert await names(db_session) == ["dup"]


async def test_http_requests_join_the_test_transaction(
    db_client: Any, db_session: AsyncSession
) -> None:
    response = await db_client.post("/parents", params={"name": "via-http"})
    assert response.status_code == 201
    # The request committed (a SAVEPOINT release) on the test's connection: visible here.
    assert await names(db_session) == ["via-http"]
    db_session.add(Parent(name="seeded"))
    await db_session.commit()
    assert (await db_client.get("/parents/count")).json() == 2
    assert (await db_client.post("/parents", params={"name": "seeded"})).status_code == 409
    assert (await db_client.get("/parents/count")).json() == 2


async def test_db_session_sees_what_a_request_committed(
    db_client: Any, db_session: AsyncSession
) -> None:
    parent = Parent(name="before", children=[Child(label="kid")])
    db_session.add(parent)
    await db_session.commit()
    loaded_at = parent.updated_at
    response = await db_client.patch(f"/parents/{parent.id}", params={"name": "after"})
    assert response.status_code == 200
    # A plain attribute read, a get() from the identity map and a re-select all agree.
    assert parent.name == "after"
    assert parent.updated_at >= loaded_at
    assert (await db_session.get(Parent, parent.id)) is parent
    assert await names(db_session) == ["after"]
    # The relationship loaded before the request is still readable (no lazy load).
    assert [child.label for child in parent.children] == ["kid"]


async def test_db_session_sees_a_row_a_request_deleted_as_gone(
    db_client: Any, db_session: AsyncSession
) -> None:
    parent = Parent(name="doomed")
    db_session.add(parent)
    await db_session.commit()
    assert (await db_client.delete(f"/parents/{parent.id}")).status_code == 204
    assert await db_session.get(Parent, parent.id) is None


async def test_db_session_keeps_its_own_unflushed_change(
    db_client: Any, db_session: AsyncSession
) -> None:
    mine, theirs = Parent(name="mine"), Parent(name="theirs")
    db_session.add_all([mine, theirs])
    await db_session.commit()
    mine.name = "edited in the test"  # not flushed yet
    await db_client.patch(f"/parents/{theirs.id}", params={"name": "renamed"})
    assert theirs.name == "renamed"
    assert mine.name == "edited in the test"
    await db_session.commit()
    assert await names(db_session) == ["edited in the test", "renamed"]


async def test_db_session_sees_what_transaction_committed(db_session: AsyncSession) -> None:
    parent = Parent(name="old")
    db_session.add(parent)
    await db_session.commit()
    async with transaction() as other:
        (await other.get_one(Parent, parent.id)).name = "new"
    assert parent.name == "new"


async def test_rows_written_every_way_are_gone_after_the_test(database: Database) -> None:
    async def count() -> int:
        return int(await fetch_value("SELECT count(*) FROM parity_parents") or 0)

    async with rollback_after(database):
        async with database.session() as session:
            session.add(Parent(name="orm-commit"))
            await session.commit()
        async with transaction() as session:
            session.add(Parent(name="transaction"))
        await execute("INSERT INTO parity_parents (name) VALUES (:name)", {"name": "raw"})
        async with make_client(make_app()) as client:
            assert (await client.post("/parents", params={"name": "http"})).status_code == 201
        assert await count() == 4
    async with rollback_after(database):  # the next test
        assert await count() == 0


async def test_ending_the_outer_transaction_is_reported(database: Database) -> None:
    with pytest.raises(OuterTransactionEndedError, match="commit through a session"):
        async with rollback_after(database) as connection:
            await connection.commit()


def test_public_names_are_exported_and_sorted() -> None:
    import core.database.testing as testing

    assert testing.__all__ == sorted(testing.__all__)
    assert all(getattr(testing, name) is not None for name in testing.__all__)


def test_ini_names_resolve_to_metadata() -> None:
    metadata = models.TestBase.metadata
    assert load_object("tests.models:TestBase.metadata") is metadata
    assert as_metadata_list(models.TestBase) == [metadata]
    assert as_metadata_list([metadata, models.TestBase]) == [metadata, metadata]
    with pytest.raises(ValueError, match=r"package\.module:attribute"):
        load_object("tests.models")
    with pytest.raises(TypeError, match="MetaData"):
        as_metadata_list("tests.models:TestBase")


async def test_concurrent_requests_in_one_test_take_turns_on_its_connection(
    db_client: Any, db_session: AsyncSession
) -> None:
    created = await asyncio.gather(
        *(db_client.post("/parents", params={"name": f"p{i}"}) for i in range(8))
    )
    assert [response.status_code for response in created] == [201] * 8
    duplicates = await asyncio.gather(
        *(db_client.post("/parents", params={"name": "same"}) for _ in range(3))
    )
    assert sorted(response.status_code for response in duplicates) == [201, 409, 409]
    counts = await asyncio.gather(*(db_client.get("/parents/count") for _ in range(4)))
    assert [response.json() for response in counts] == [9] * 4
    assert len(await names(db_session)) == 9


async def test_concurrent_units_of_work_and_raw_helpers_in_one_test(
    db_session: AsyncSession,
) -> None:
    async def unit(name: str) -> None:
        async with transaction() as session:
            session.add(Parent(name=name))
            await session.flush()
            # A raw helper inside the unit joins it without waiting for the turn.
            assert (
                await fetch_value(
                    "SELECT count(*) FROM parity_parents WHERE name = :n", {"n": name}
                )
                == 1
            )

    await asyncio.gather(*(unit(f"u{i}") for i in range(5)))
    await asyncio.gather(
        *(
            execute("INSERT INTO parity_parents (name) VALUES (:n)", {"n": f"r{i}"})
            for i in range(5)
        )
    )
    counts = await asyncio.gather(
        *(fetch_value("SELECT count(*) FROM parity_parents") for _ in range(5))
    )
    assert counts == [10] * 5
    assert len(await names(db_session)) == 10
