"""bulk_insert: fast loads that store exactly what the ORM stores, on both backends."""

from __future__ import annotations

import traceback
import uuid
from datetime import UTC, datetime, timedelta
from decimal import Decimal
from typing import Any

import pytest
from sqlalchemy import event, func, select, text
from sqlalchemy.ext.asyncio import AsyncConnection, AsyncSession

from core.database import Database, NotNullViolation, UniqueViolation, bulk_insert
from tests.models import Child, Color, Item, Parent

ITEM: dict[str, Any] = {
    "quantity": 3,
    "price": Decimal("12.30"),
    "amount": Decimal("0.1000000000001"),
    "payload": {"a": [1, 2, {"b": None}], "é": "ü"},
    "tags": ["x", 1, True],
    "token": uuid.UUID("12345678-1234-5678-1234-567812345678"),
    "color": Color.GREEN,
    "active": False,
    "happened_at": datetime(2024, 5, 6, 7, 8, 9, 123456, tzinfo=UTC) + timedelta(hours=2),
    "secret": "s",
}
STORED = ", ".join(ITEM)  # every column the caller gave, read back without the ORM


async def _count(session: AsyncSession, model: type[Any]) -> int:
    return int(await session.scalar(select(func.count()).select_from(model)) or 0)


async def test_row_reads_back_as_the_orm_stored_it(db_session: AsyncSession) -> None:
    by_orm = Item(**ITEM)
    db_session.add(by_orm)
    await db_session.flush()
    assert await bulk_insert(db_session, Item, [dict(ITEM)]) == 1
    by_bulk_id = await db_session.scalar(select(func.max(Item.id)))
    assert by_bulk_id is not None and by_bulk_id != by_orm.id

    raw = (await db_session.execute(text(f"SELECT {STORED} FROM parity_items ORDER BY id"))).all()
    assert raw[0] == raw[1]  # the very values the database holds, not just their Python form
    db_session.expunge_all()
    rows = (await db_session.scalars(select(Item).order_by(Item.id))).all()
    for key in ITEM:
        assert getattr(rows[1], key) == getattr(rows[0], key), key
    assert rows[1].happened_at == ITEM["happened_at"]
    assert rows[1].happened_at.tzinfo is not None


async def test_fills_timestamps_and_python_defaults(db_session: AsyncSession) -> None:
    before = datetime.now(UTC)
    assert await bulk_insert(db_session, Item, [{"secret": "a"}, {"secret": "b"}]) == 2
    items = (await db_session.scalars(select(Item).order_by(Item.id))).all()
    assert [(i.quantity, i.active, i.payload) for i in items] == [(0, True, None)] * 2
    for item in items:
        assert item.created_at.tzinfo is not None
        assert before - timedelta(seconds=1) <= item.created_at <= datetime.now(UTC)
        assert item.updated_at == item.created_at


async def test_rows_may_leave_out_keys_that_have_a_python_default(db_session: AsyncSession) -> None:
    created = datetime(2020, 1, 2, 3, 4, 5, tzinfo=UTC)
    rows = [{"quantity": 5, "created_at": created}, {"secret": "x"}]
    assert await bulk_insert(db_session, Item, rows) == 2
    first, second = (await db_session.scalars(select(Item).order_by(Item.id))).all()
    assert (first.quantity, first.secret, first.created_at) == (5, None, created)
    assert first.updated_at == created
    assert (second.quantity, second.secret) == (0, "x")
    assert second.updated_at == second.created_at > created


async def test_empty_input_inserts_nothing(db_session: AsyncSession) -> None:
    assert await bulk_insert(db_session, Parent, []) == 0
    assert await bulk_insert(db_session, Parent, iter([])) == 0


async def test_accepts_a_table_and_any_iterable(db_session: AsyncSession) -> None:
    count = await bulk_insert(db_session, Parent.__table__, ({"name": f"p{i}"} for i in range(250)))
    assert count == 250
    assert await _count(db_session, Parent) == 250


async def test_unknown_keys_are_refused_and_nothing_is_written(db_session: AsyncSession) -> None:
    with pytest.raises(ValueError, match=r"parity_parents has no column\(s\) 'nmae'"):
        await bulk_insert(db_session, Parent, [{"name": "a"}, {"nmae": "b"}])
    assert await _count(db_session, Parent) == 0


async def test_missing_not_null_values_are_refused(db_session: AsyncSession) -> None:
    with pytest.raises(ValueError, match=r"NOT NULL column\(s\) 'parent_id', 'label'"):
        await bulk_insert(db_session, Child, [{}])
    with pytest.raises(ValueError, match="'name' in some rows"):
        await bulk_insert(db_session, Parent, [{"name": "a"}, {"created_at": datetime.now(UTC)}])
    assert await _count(db_session, Parent) == 0


async def test_null_in_a_not_null_column_is_a_not_null_violation(db_session: AsyncSession) -> None:
    with pytest.raises(NotNullViolation):
        await bulk_insert(db_session, Parent, [{"name": None}])


async def test_duplicates_are_a_unique_violation(db_session: AsyncSession) -> None:
    with pytest.raises(UniqueViolation) as caught:
        await bulk_insert(db_session, Parent, [{"name": "same"}, {"name": "same"}])
    assert caught.value.table == "parity_parents"
    assert caught.value.columns == ("name",)
    assert "same" not in str(caught.value)  # never a bound value in a message


async def test_joins_the_callers_transaction(db_session: AsyncSession) -> None:
    parent = Parent(name="pending")
    db_session.add(parent)  # flushed first, so rows may refer to it
    await db_session.flush()
    rows = [{"parent_id": parent.id, "label": f"c{i}"} for i in range(3)]
    await bulk_insert(db_session, Child, rows)
    assert await _count(db_session, Child) == 3
    await db_session.rollback()
    assert await _count(db_session, Child) == 0
    assert await _count(db_session, Parent) == 0


async def test_flushes_pending_objects_first(db_session: AsyncSession) -> None:
    parent = Parent(name="p", id=10_000)
    db_session.add(parent)
    await bulk_insert(db_session, Child, [{"parent_id": 10_000, "label": "c"}])
    assert await _count(db_session, Child) == 1


async def test_works_on_a_connection(db_connection: AsyncConnection) -> None:
    assert await bulk_insert(db_connection, Parent, [{"name": "a"}, {"name": "b"}]) == 2
    names = (await db_connection.execute(select(Parent.name).order_by(Parent.name))).scalars()
    assert names.all() == ["a", "b"]


async def test_orm_add_all_inserts_in_batches(database: Database, db_session: AsyncSession) -> None:
    inserts: list[str] = []

    def record(_conn: Any, _cursor: Any, statement: str, *_args: Any) -> None:
        if statement.lstrip().upper().startswith("INSERT"):
            inserts.append(statement)

    parents = [Parent(name=f"n{i}") for i in range(300)]
    event.listen(database.engine.sync_engine, "before_cursor_execute", record)
    try:
        db_session.add_all(parents)
        await db_session.flush()
    finally:
        event.remove(database.engine.sync_engine, "before_cursor_execute", record)
    assert len(inserts) <= 3  # not one INSERT per row
    stored = {row.id: row.name for row in await db_session.execute(select(Parent.id, Parent.name))}
    assert {parent.id: parent.name for parent in parents} == stored


def _chain(error: BaseException) -> list[BaseException]:
    chain: list[BaseException] = []
    current: BaseException | None = error
    while current is not None and current not in chain:
        chain.append(current)
        current = current.__cause__ or current.__context__
    return chain


async def test_a_duplicate_carries_no_bound_value_anywhere(db_session: AsyncSession) -> None:
    marker = "MARKER-5d1e-secret@example.com"
    with pytest.raises(UniqueViolation) as caught:
        await bulk_insert(db_session, Parent, [{"name": marker}, {"name": marker}])
    chain = _chain(caught.value)
    assert len(chain) > 1  # the driver's own exception is kept as the cause
    for error in chain:
        assert marker not in str(error)
        assert marker not in repr(error)
        assert marker not in str(getattr(error, "detail", None))
    assert marker not in "".join(traceback.format_exception(caught.value))
