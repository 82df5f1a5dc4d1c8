"""Portable column types (core.database.types): the same values come back on both backends."""

from __future__ import annotations

import uuid
from datetime import UTC, datetime, timedelta, timezone
from decimal import Decimal

import pytest
from sqlalchemy import JSON, Dialect, func, insert, select, text
from sqlalchemy.dialects import postgresql, sqlite
from sqlalchemy.exc import StatementError
from sqlalchemy.ext.asyncio import AsyncSession

from core.database import CheckViolation, ExactDecimal, utcnow
from tests.models import Color, Item, Parent

PLUS_TWO = timezone(timedelta(hours=2))


async def _column_type(session: AsyncSession, table: str, column: str) -> str:
    return str(
        await session.scalar(
            text(
                "SELECT data_type FROM information_schema.columns"
                " WHERE table_name = :table AND column_name = :column"
            ),
            {"table": table, "column": column},
        )
    )


# --- datetimes -------------------------------------------------------------------------


@pytest.mark.parity("aware datetime stored as UTC")
async def test_aware_datetime_round_trips_as_utc(db_session: AsyncSession) -> None:
    given = datetime(2024, 5, 1, 12, 30, 15, 250_000, tzinfo=PLUS_TWO)
    db_session.add(item := Item(happened_at=given))
    await db_session.flush()
    stored = await db_session.scalar(select(Item.happened_at).where(Item.id == item.id))
    assert stored == given
    assert stored is not None
    assert stored.utcoffset() == timedelta(0)
    assert (stored.hour, stored.microsecond) == (10, 250_000)


# Text another writer may have left in a SQLite column (Postgres parses the same literals).
STORED_FORMS = {
    "whole seconds": ("2024-05-01 10:00:00", datetime(2024, 5, 1, 10, tzinfo=UTC)),
    "microseconds": ("2024-05-01 10:00:00.250000", datetime(2024, 5, 1, 10, 0, 0, 250_000, UTC)),
    "milliseconds": ("2024-05-01 10:00:00.250", datetime(2024, 5, 1, 10, 0, 0, 250_000, UTC)),
    "T separator": ("2024-05-01T10:00:00", datetime(2024, 5, 1, 10, tzinfo=UTC)),
    "an offset": ("2024-05-01 12:00:00+02:00", datetime(2024, 5, 1, 10, tzinfo=UTC)),
    "a negative offset": ("2024-05-01 07:30:00-02:30", datetime(2024, 5, 1, 10, tzinfo=UTC)),
    "a fraction and an offset": (
        "2024-05-01 12:00:00.5+02:00",
        datetime(2024, 5, 1, 10, 0, 0, 500_000, UTC),
    ),
    "Z for UTC": ("2024-05-01T10:00:00Z", datetime(2024, 5, 1, 10, tzinfo=UTC)),
    "a date alone": ("2024-05-01", datetime(2024, 5, 1, tzinfo=UTC)),
    "a leap day at midnight": ("2024-02-29 00:00:00", datetime(2024, 2, 29, tzinfo=UTC)),
}


@pytest.mark.parity("datetime text in any ISO form reads back aware UTC")
@pytest.mark.parametrize(("stored", "expected"), STORED_FORMS.values(), ids=STORED_FORMS.keys())
async def test_stored_text_reads_back_aware_utc(
    db_session: AsyncSession, stored: str, expected: datetime
) -> None:
    db_session.add(item := Item(happened_at=utcnow()))
    await db_session.flush()
    postgres = db_session.bind.dialect.name == "postgresql"
    value = "CAST(CAST(:at AS TEXT) AS TIMESTAMP WITH TIME ZONE)" if postgres else ":at"
    await db_session.execute(
        text(f"UPDATE parity_items SET happened_at = {value} WHERE id = :id"),
        {"at": stored, "id": item.id},
    )
    read = await db_session.scalar(select(Item.happened_at).where(Item.id == item.id))
    assert read == expected
    assert read is not None
    assert read.tzinfo is UTC


@pytest.mark.parity("naive datetime refused")
async def test_naive_datetime_is_refused(db_session: AsyncSession) -> None:
    db_session.add(Item(happened_at=datetime(2024, 5, 1, 12, 30)))
    with pytest.raises(StatementError, match="naive datetime refused") as caught:
        await db_session.flush()
    assert isinstance(caught.value.orig, ValueError)


@pytest.mark.parity("CURRENT_TIMESTAMP reads back aware UTC")
async def test_current_timestamp_text_reads_back_aware_utc(db_session: AsyncSession) -> None:
    await db_session.execute(text("INSERT INTO parity_parents (name) VALUES ('raw')"))
    created = await db_session.scalar(select(Parent.created_at).where(Parent.name == "raw"))
    assert created is not None
    assert created.utcoffset() == timedelta(0)
    # A timezone bug is hours off; the clock read by the server is the same machine's.
    assert abs(utcnow() - created) < timedelta(minutes=5)


@pytest.mark.parity("datetime equality in WHERE")
async def test_stored_datetimes_compare_equal_in_where(db_session: AsyncSession) -> None:
    # A server-default (CURRENT_TIMESTAMP) row and a whole-second Python value: on SQLite
    # both are text, and `12:00:00` must equal `12:00:00`, not `12:00:00.000000`.
    await db_session.execute(text("INSERT INTO parity_parents (name) VALUES ('raw')"))
    created = await db_session.scalar(select(Parent.created_at).where(Parent.name == "raw"))
    found = await db_session.scalar(select(Parent.name).where(Parent.created_at == created))
    assert found == "raw"
    whole = datetime(2024, 5, 1, 10, 0, 0, tzinfo=UTC)
    db_session.add(Item(happened_at=whole))
    await db_session.flush()
    count = select(func.count()).select_from(Item)
    assert await db_session.scalar(count.where(Item.happened_at == whole)) == 1
    assert await db_session.scalar(count.where(Item.happened_at >= whole)) == 1
    assert await db_session.scalar(count.where(Item.happened_at < whole)) == 0


@pytest.mark.parity("datetime comparison across time zones")
async def test_datetime_comparison_uses_the_instant(db_session: AsyncSession) -> None:
    base = datetime(2024, 5, 1, 10, 0, tzinfo=UTC)
    db_session.add_all(
        [
            Item(happened_at=base + timedelta(minutes=m, microseconds=u))
            for m, u in [(0, 0), (0, 1), (30, 0)]
        ]
    )
    await db_session.flush()
    count = select(func.count()).select_from(Item)
    same_instant = datetime(2024, 5, 1, 12, 0, tzinfo=PLUS_TWO)
    assert await db_session.scalar(count.where(Item.happened_at == same_instant)) == 1
    assert await db_session.scalar(count.where(Item.happened_at > same_instant)) == 2
    ordered = await db_session.scalars(select(Item.happened_at).order_by(Item.happened_at))
    assert [value.astimezone(UTC) for value in ordered if value] == [
        base,
        base + timedelta(microseconds=1),
        base + timedelta(minutes=30),
    ]


# --- decimals --------------------------------------------------------------------------


@pytest.mark.parity("Decimal exact round trip")
async def test_decimal_round_trips_exactly(db_session: AsyncSession) -> None:
    values = [
        (Decimal("1234567890.12"), Decimal("12345.678901234")),
        (Decimal("0.10"), Decimal("1.10")),
        (Decimal("-5"), Decimal("100")),
    ]
    db_session.add_all([Item(price=price, amount=amount) for price, amount in values])
    await db_session.flush()
    rows = (await db_session.execute(select(Item.price, Item.amount).order_by(Item.id))).all()
    # Scaled columns keep their scale; unscaled ones the plainest form, on both backends.
    expected = [
        ("1234567890.12", "12345.678901234"),
        ("0.10", "1.1"),
        ("-5.00", "100"),
    ]
    assert [(str(price), str(amount)) for price, amount in rows] == expected


@pytest.mark.parity("Decimal arithmetic in SQL")
async def test_decimal_sums_in_sql_are_exact(db_session: AsyncSession) -> None:
    db_session.add_all([Item(amount=Decimal(v), price=Decimal(v)) for v in ("0.1", "0.2", "1.1")])
    await db_session.flush()
    assert await db_session.scalar(select(func.sum(Item.amount))) == Decimal("1.4")
    assert str(await db_session.scalar(select(func.sum(Item.price)))) == "1.40"
    assert await db_session.scalar(select(func.max(Item.amount * Item.amount))) == Decimal("1.21")


@pytest.mark.parity("Decimal with too many places refused")
@pytest.mark.parametrize("price", [Decimal("1.234"), Decimal("12345678901.00")])
async def test_decimal_that_does_not_fit_is_refused(
    db_session: AsyncSession, price: Decimal
) -> None:
    db_session.add(Item(price=price))
    with pytest.raises(StatementError) as caught:
        await db_session.flush()
    assert isinstance(caught.value.orig, ValueError)


WIDE = Decimal("1234567890.1234567")  # 17 significant digits


@pytest.mark.sqlite_only(reason="SQLite holds 15 significant digits; Postgres NUMERIC holds any")
async def test_more_than_15_digits_refused_on_sqlite(db_session: AsyncSession) -> None:
    db_session.add(Item(amount=WIDE))
    with pytest.raises(StatementError, match="15"):
        await db_session.flush()


@pytest.mark.postgres_only(reason="SQLite holds 15 significant digits; Postgres NUMERIC holds any")
async def test_more_than_15_digits_exact_on_postgres(db_session: AsyncSession) -> None:
    db_session.add(item := Item(amount=WIDE))
    await db_session.flush()
    assert await db_session.scalar(select(Item.amount).where(Item.id == item.id)) == WIDE


# --- JSON, UUID, enums, booleans -------------------------------------------------------


PAYLOAD = {"name": "x", "nested": {"list": [1, 2.5, "three", None, True], "empty": {}}}


@pytest.mark.parity("JSON nested round trip")
async def test_json_round_trips(db_session: AsyncSession) -> None:
    db_session.add(item := Item(payload=PAYLOAD, tags=["a", {"b": [1]}]))
    await db_session.flush()
    row = (
        await db_session.execute(select(Item.payload, Item.tags).where(Item.id == item.id))
    ).one()
    assert row.payload == PAYLOAD
    assert row.tags == ["a", {"b": [1]}]


@pytest.mark.parity("JSON element query")
async def test_json_elements_can_be_queried(db_session: AsyncSession) -> None:
    db_session.add_all([Item(payload={"kind": "a", "n": 1}), Item(payload={"kind": "b", "n": 2})])
    await db_session.flush()
    kinds = select(Item.payload["n"].as_integer()).where(Item.payload["kind"].as_string() == "b")
    assert (await db_session.scalars(kinds)).all() == [2]


@pytest.mark.parity("JSON None is SQL NULL")
async def test_json_none_is_sql_null(db_session: AsyncSession) -> None:
    db_session.add_all([Item(payload=None, secret="none"), Item(payload=JSON.NULL, secret="json")])
    await db_session.flush()
    nulls = await db_session.scalars(select(Item.secret).where(Item.payload.is_(None)))
    assert nulls.all() == ["none"]
    values = await db_session.scalars(select(Item.payload).order_by(Item.id))
    assert values.all() == [None, None]


@pytest.mark.postgres_only(reason="JSONB exists only on Postgres (SQLite stores JSON text)")
async def test_json_is_jsonb_on_postgres(db_session: AsyncSession) -> None:
    assert await _column_type(db_session, "parity_items", "payload") == "jsonb"


@pytest.mark.parity("UUID round trip")
async def test_uuid_round_trips(db_session: AsyncSession) -> None:
    token = uuid.uuid4()
    db_session.add(Item(token=token))
    await db_session.flush()
    stored = await db_session.scalar(select(Item.token).where(Item.token == token))
    assert stored == token
    assert isinstance(stored, uuid.UUID)


@pytest.mark.postgres_only(reason="a native uuid type exists only on Postgres")
async def test_uuid_is_native_on_postgres(db_session: AsyncSession) -> None:
    assert await _column_type(db_session, "parity_items", "token") == "uuid"


@pytest.mark.parity("enum stored by value")
async def test_enum_is_stored_by_value(db_session: AsyncSession) -> None:
    db_session.add(item := Item(color=Color.GREEN))
    await db_session.flush()
    raw = await db_session.scalar(
        text("SELECT color FROM parity_items WHERE id = :id"), {"id": item.id}
    )
    assert raw == "green"
    assert await db_session.scalar(select(Item.color).where(Item.id == item.id)) is Color.GREEN


@pytest.mark.parity("enum CHECK refuses an unknown value")
async def test_enum_check_refuses_unknown_raw_value(db_session: AsyncSession) -> None:
    with pytest.raises(CheckViolation):
        await db_session.execute(
            text("INSERT INTO parity_items (quantity, active, color) VALUES (0, true, 'blue')")
        )


@pytest.mark.parity("booleans")
async def test_booleans_round_trip_and_filter(db_session: AsyncSession) -> None:
    db_session.add_all([Item(active=True), Item(active=False)])
    await db_session.flush()
    values = await db_session.scalars(select(Item.active).order_by(Item.id))
    assert values.all() == [True, False]
    inactive = select(func.count()).select_from(Item).where(Item.active.is_(False))
    assert await db_session.scalar(inactive) == 1


# --- keys and RETURNING ----------------------------------------------------------------


@pytest.mark.parity("integer primary key autoincrement")
async def test_integer_primary_keys_autoincrement(db_session: AsyncSession) -> None:
    first, second = Parent(name="one"), Parent(name="two")
    db_session.add_all([first, second])
    await db_session.flush()
    assert isinstance(first.id, int)
    assert second.id > first.id


@pytest.mark.postgres_only(reason="BIGINT ids on Postgres; SQLite's rowid alias must be INTEGER")
async def test_int_id_is_bigint_on_postgres(db_session: AsyncSession) -> None:
    assert await _column_type(db_session, "parity_parents", "id") == "bigint"


@pytest.mark.sqlite_only(reason="only INTEGER PRIMARY KEY is SQLite's autoincrementing rowid alias")
async def test_int_id_is_the_rowid_alias_on_sqlite(db_session: AsyncSession) -> None:
    columns = (await db_session.execute(text("PRAGMA table_info(parity_parents)"))).all()
    id_column = next(column for column in columns if column.name == "id")
    assert (id_column.type, id_column.pk) == ("INTEGER", 1)
    await db_session.execute(text("INSERT INTO parity_parents (name) VALUES ('r')"))
    rowid = await db_session.scalar(text("SELECT rowid FROM parity_parents WHERE name = 'r'"))
    assert rowid == await db_session.scalar(text("SELECT id FROM parity_parents WHERE name = 'r'"))


@pytest.mark.parity("INSERT ... RETURNING")
async def test_insert_returning(db_session: AsyncSession) -> None:
    row = (
        await db_session.execute(
            insert(Parent).values(name="returned").returning(Parent.id, Parent.created_at)
        )
    ).one()
    assert isinstance(row.id, int)
    assert row.created_at.utcoffset() == timedelta(0)
    assert await db_session.scalar(select(Parent.name).where(Parent.id == row.id)) == "returned"


@pytest.mark.parametrize("dialect", [sqlite.dialect(), postgresql.dialect()], ids=["sqlite", "pg"])
def test_decimal_precision_without_scale_means_whole_numbers(dialect: Dialect) -> None:
    # NUMERIC(5) is NUMERIC(5, 0) on Postgres, which would round 1.5 to 2 without a word.
    column_type = ExactDecimal(5)
    with pytest.raises(ValueError, match="decimal places"):
        column_type.process_bind_param(Decimal("1.5"), dialect)
    assert Decimal(str(column_type.process_bind_param(Decimal("12345"), dialect))) == 12345


@pytest.mark.parametrize("dialect", [sqlite.dialect(), postgresql.dialect()], ids=["sqlite", "pg"])
def test_decimal_zero_fits_a_column_of_only_places(dialect: Dialect) -> None:
    column_type = ExactDecimal(4, 4)
    assert Decimal(str(column_type.process_bind_param(Decimal("0"), dialect))) == 0
    assert Decimal(str(column_type.process_bind_param(Decimal("0.1234"), dialect))) == Decimal(
        "0.1234"
    )
    with pytest.raises(ValueError, match="does not fit"):
        column_type.process_bind_param(Decimal("1.5"), dialect)
