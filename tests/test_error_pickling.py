"""Toolkit errors survive pickling: they cross process boundaries (workers, task queues)."""

from __future__ import annotations

import pickle

import pytest
from sqlalchemy import exc as sa_exc
from sqlalchemy.ext.asyncio import AsyncSession

from core.database import (
    DatabaseUnavailableError,
    LockNotAvailable,
    PoolTimeoutError,
    StatementTimeoutError,
    TooManyConnectionsError,
    UniqueViolation,
)
from tests.models import Parent


async def test_a_real_unique_violation_round_trips(db_session: AsyncSession) -> None:
    db_session.add(Parent(name="twin"))
    await db_session.flush()
    db_session.add(Parent(name="twin"))
    with pytest.raises(UniqueViolation) as caught:
        await db_session.flush()
    await db_session.rollback()
    copy = pickle.loads(pickle.dumps(caught.value))
    assert type(copy) is UniqueViolation
    assert isinstance(copy, sa_exc.IntegrityError)
    assert str(copy) == str(caught.value)
    assert (copy.table, copy.columns, copy.constraint) == (
        caught.value.table,
        caught.value.columns,
        caught.value.constraint,
    )


def test_unavailable_error_round_trips() -> None:
    error = DatabaseUnavailableError(
        "database unavailable: OSError", url="postgresql+asyncpg://u:***@h/db"
    )
    copy = pickle.loads(pickle.dumps(error))
    assert (str(copy), copy.url, copy.connection_invalidated) == (str(error), error.url, False)


@pytest.mark.parametrize(
    "error",
    [
        PoolTimeoutError("no pooled connection came free within 5s", url="sqlite+aiosqlite:///x"),
        TooManyConnectionsError("no connection slot left", url="postgresql+asyncpg://u:***@h/db"),
        StatementTimeoutError("statement cancelled: it ran past statement_timeout"),
    ],
    ids=type,
)
def test_typed_failures_round_trip(error: Exception) -> None:
    copy = pickle.loads(pickle.dumps(error))
    assert type(copy) is type(error)
    assert str(copy) == str(error)
    assert copy.__dict__ == error.__dict__


def test_a_lock_not_granted_round_trips() -> None:
    error = LockNotAvailable("database is locked", statement="BEGIN IMMEDIATE")
    copy = pickle.loads(pickle.dumps(error))
    assert (type(copy), str(copy), copy.statement) == (
        LockNotAvailable,
        str(error),
        "BEGIN IMMEDIATE",
    )
