"""Driver errors become the same toolkit class on both backends, never carrying a bound value."""

from __future__ import annotations

import logging
import traceback
from collections.abc import Callable, Iterator
from datetime import datetime

import pytest
from sqlalchemy import exc as sa_exc
from sqlalchemy import text
from sqlalchemy.ext.asyncio import AsyncSession

from core.database import (
    CheckViolation,
    ConfigurationError,
    Database,
    DatabaseError,
    DatabaseUnavailableError,
    ForeignKeyViolation,
    IntegrityViolation,
    NotFoundError,
    NotNullViolation,
    UniqueViolation,
)
from tests.models import Child, Item, Parent

MARKER = "MARKER-7f3a9c-secret"

Rows = Callable[[], list[object]]
CASES: dict[str, tuple[type[IntegrityViolation], Rows]] = {
    "unique": (UniqueViolation, lambda: [Parent(name=MARKER), Parent(name=MARKER)]),
    "foreign key": (ForeignKeyViolation, lambda: [Child(parent_id=987_654, label=MARKER)]),
    "not null": (NotNullViolation, lambda: [Child(parent_id=None, label=MARKER)]),
    "check": (CheckViolation, lambda: [Item(quantity=-1, secret=MARKER)]),
}


@pytest.fixture
def echo(
    database: Database, caplog: pytest.LogCaptureFixture
) -> Iterator[pytest.LogCaptureFixture]:
    """SQL echo on, captured by caplog; request it before db_session (a connection reads
    the echo flag when it is created)."""
    engine = database.engine.sync_engine
    engine.echo = True
    try:
        with caplog.at_level(logging.INFO, logger="sqlalchemy.engine"):
            yield caplog
    finally:
        engine.echo = False


async def _violate(session: AsyncSession, kind: str) -> IntegrityViolation:
    expected, rows = CASES[kind]
    session.add_all(rows())
    with pytest.raises(expected) as caught:
        await session.flush()
    await session.rollback()
    return caught.value


def _assert_no_marker(error: BaseException, caplog: pytest.LogCaptureFixture) -> None:
    assert MARKER not in str(error)
    assert MARKER not in repr(error)
    assert MARKER not in "".join(traceback.format_exception(error))
    assert caplog.records  # echo really logged the statements
    assert MARKER not in caplog.text


@pytest.mark.parity("unique violation is UniqueViolation")
async def test_unique_violation(db_session: AsyncSession, dialect: str) -> None:
    error = await _violate(db_session, "unique")
    assert isinstance(error, sa_exc.IntegrityError)
    assert (error.table, error.columns) == ("parity_parents", ("name",))
    if dialect == "postgresql":
        assert error.constraint == "uq_parity_parents_name"


@pytest.mark.parity("foreign key violation is ForeignKeyViolation")
async def test_foreign_key_violation(db_session: AsyncSession, dialect: str) -> None:
    error = await _violate(db_session, "foreign key")
    assert isinstance(error, sa_exc.IntegrityError)
    assert str(error).startswith("foreign key violation")
    if dialect == "postgresql":
        assert error.constraint == "fk_parity_children_parent_id_parity_parents"
        assert (error.table, error.columns) == ("parity_children", ("parent_id",))


@pytest.mark.parity("NOT NULL violation is NotNullViolation")
async def test_not_null_violation(db_session: AsyncSession) -> None:
    error = await _violate(db_session, "not null")
    assert isinstance(error, sa_exc.IntegrityError)
    assert (error.table, error.columns) == ("parity_children", ("parent_id",))


@pytest.mark.parity("CHECK violation is CheckViolation")
async def test_check_violation(db_session: AsyncSession) -> None:
    error = await _violate(db_session, "check")
    assert isinstance(error, sa_exc.IntegrityError)
    assert error.constraint == "ck_parity_items_quantity_non_negative"


@pytest.mark.parity("no bound value in errors or logs")
@pytest.mark.parametrize("kind", list(CASES))
async def test_errors_and_logs_never_carry_bound_values(
    echo: pytest.LogCaptureFixture, db_session: AsyncSession, kind: str
) -> None:
    error = await _violate(db_session, kind)
    _assert_no_marker(error, echo)


@pytest.mark.parity("no bound value in errors or logs")
async def test_bind_errors_never_carry_bound_values(
    echo: pytest.LogCaptureFixture, db_session: AsyncSession
) -> None:
    db_session.add(Item(secret=MARKER, happened_at=datetime(2024, 1, 1)))
    with pytest.raises(sa_exc.StatementError) as caught:
        await db_session.flush()
    await db_session.rollback()
    _assert_no_marker(caught.value, echo)


@pytest.mark.postgres_only(reason="asyncpg type-checks arguments; SQLite stores any value")
async def test_argument_encoding_errors_never_carry_bound_values(
    echo: pytest.LogCaptureFixture, db_session: AsyncSession
) -> None:
    with pytest.raises(sa_exc.DBAPIError) as caught:
        await db_session.execute(text("SELECT CAST(:value AS integer)"), {"value": MARKER})
    await db_session.rollback()
    assert "invalid input for query argument $1" in str(caught.value)
    _assert_no_marker(caught.value, echo)


@pytest.mark.parity("session usable after an integrity error")
async def test_session_is_usable_after_a_violation(db_session: AsyncSession) -> None:
    await _violate(db_session, "unique")
    db_session.add(parent := Parent(name="after"))
    await db_session.flush()
    assert await db_session.get(Parent, parent.id) is parent


def test_hierarchy() -> None:
    for cls in (UniqueViolation, ForeignKeyViolation, NotNullViolation, CheckViolation):
        assert issubclass(cls, IntegrityViolation)
    assert issubclass(IntegrityViolation, DatabaseError)
    assert issubclass(IntegrityViolation, sa_exc.IntegrityError)
    assert issubclass(ConfigurationError, ValueError)
    assert issubclass(NotFoundError, LookupError)
    assert issubclass(DatabaseUnavailableError, DatabaseError)
    unavailable = DatabaseUnavailableError("down", url="postgresql+asyncpg://app:***@db/app")
    assert str(unavailable) == "down (postgresql+asyncpg://app:***@db/app)"
