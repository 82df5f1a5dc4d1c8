"""TimestampMixin and IntIdMixin (core.database.mixins): maintained alike on both backends."""

from __future__ import annotations

from datetime import UTC, datetime, timedelta

import pytest
from sqlalchemy import inspect, select, text, update
from sqlalchemy.ext.asyncio import AsyncSession

from core.database import NotNullViolation
from tests.models import Parent

PAST = datetime(2020, 1, 1, tzinfo=UTC)


async def _aged_parent(session: AsyncSession, name: str) -> Parent:
    parent = Parent(name=name, created_at=PAST, updated_at=PAST)
    session.add(parent)
    await session.flush()
    return parent


def test_timestamp_columns_are_not_null_with_a_server_default() -> None:
    table = Parent.__table__
    for name in ("created_at", "updated_at"):
        column = table.c[name]
        assert column.nullable is False
        assert column.server_default is not None


@pytest.mark.parity("timestamps set on insert")
async def test_timestamps_are_set_on_insert(db_session: AsyncSession) -> None:
    before = datetime.now(UTC)
    parent = Parent(name="new")
    db_session.add(parent)
    await db_session.flush()
    # Readable without an await: the values are on the object, nothing is expired.
    assert parent.created_at == parent.updated_at
    assert parent.created_at.utcoffset() == timedelta(0)
    assert parent.created_at >= before
    stored = (
        await db_session.execute(
            select(Parent.created_at, Parent.updated_at).where(Parent.id == parent.id)
        )
    ).one()
    assert stored.created_at == stored.updated_at == parent.created_at


@pytest.mark.parity("timestamps server default on raw insert")
async def test_server_default_fills_raw_inserts(db_session: AsyncSession) -> None:
    await db_session.execute(text("INSERT INTO parity_parents (name) VALUES ('raw')"))
    row = (
        await db_session.execute(
            select(Parent.created_at, Parent.updated_at).where(Parent.name == "raw")
        )
    ).one()
    assert row.created_at is not None
    assert row.updated_at is not None
    assert row.created_at.tzinfo is not None


@pytest.mark.parity("timestamps NOT NULL")
async def test_timestamps_refuse_null(db_session: AsyncSession) -> None:
    with pytest.raises(NotNullViolation):
        await db_session.execute(
            text("INSERT INTO parity_parents (name, created_at) VALUES ('n', NULL)")
        )


@pytest.mark.parity("updated_at bumped on ORM update")
async def test_orm_update_bumps_updated_at(db_session: AsyncSession) -> None:
    parent = await _aged_parent(db_session, "orm")
    parent.name = "orm renamed"
    await db_session.flush()
    assert not inspect(parent).expired_attributes  # no lazy load (MissingGreenlet) needed
    assert parent.updated_at > PAST
    assert parent.created_at == PAST
    stored = await db_session.scalar(select(Parent.updated_at).where(Parent.id == parent.id))
    assert stored == parent.updated_at


@pytest.mark.parity("updated_at bumped on Core update")
async def test_core_update_bumps_updated_at(db_session: AsyncSession) -> None:
    parent = await _aged_parent(db_session, "core")
    await db_session.execute(update(Parent).where(Parent.id == parent.id).values(name="core 2"))
    row = (
        await db_session.execute(
            select(Parent.created_at, Parent.updated_at).where(Parent.id == parent.id)
        )
    ).one()
    assert row.updated_at > PAST
    assert row.created_at == PAST


@pytest.mark.parity("timestamps readable after commit")
async def test_timestamps_readable_after_commit_without_lazy_load(
    db_session: AsyncSession,
) -> None:
    parent = await _aged_parent(db_session, "committed")
    parent.name = "committed 2"
    await db_session.commit()
    # expire_on_commit=False: plain attribute access, no await, no MissingGreenlet.
    assert not inspect(parent).expired_attributes
    assert parent.updated_at > parent.created_at == PAST
    assert parent.updated_at.tzinfo is not None
