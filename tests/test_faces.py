"""Sessions, raw helpers, errors and types: one behaviour, both faces (async and sync).

Each test runs once through core.database and once through core.database.sync
(the `face` fixture), on this run's backend: the sync face keeps every rule.
"""

from __future__ import annotations

import logging
import secrets
import uuid
from datetime import datetime, timedelta, timezone
from decimal import Decimal
from pathlib import Path

import pytest
from sqlalchemy import bindparam, select, text
from sqlalchemy import exc as sa_exc
from sqlalchemy.ext.asyncio import AsyncSession

from core.database import (
    CheckViolation,
    Database,
    ForeignKeyViolation,
    IntegrityViolation,
    InvalidStatementError,
    NotNullViolation,
    UniqueViolation,
    UTCDateTime,
    on_commit,
)
from core.database.settings import get_settings
from core.database.sync import SyncDatabase
from tests.faces import Face, FaceSession
from tests.models import Child, Color, Item, Parent

INSERT = "INSERT INTO parity_parents (name) VALUES (:name)"
MARKER = "MARKER-5d1e-secret"


class Boom(Exception):
    """Raised inside a transaction block to make it roll back."""


async def _seed(face: Face, *names: str) -> None:
    for name in names:
        assert await face.execute(INSERT, {"name": name}) == 1


async def _names(session: FaceSession) -> set[str]:
    return set(await session.scalars(select(Parent.name)))


# --- raw helpers -------------------------------------------------------------------


async def test_fetch_helpers_return_plain_python(face: Face) -> None:
    await _seed(face, "a", "b")
    one = await face.fetch_one(
        "SELECT id, name FROM parity_parents WHERE name = :name", {"name": "a"}
    )
    assert isinstance(one, dict)
    assert list(one) == ["id", "name"]
    assert one["name"] == "a"
    missing = await face.fetch_one("SELECT id FROM parity_parents WHERE name = :n", {"n": "z"})
    assert missing is None
    assert await face.fetch_all("SELECT name FROM parity_parents ORDER BY id") == [
        {"name": "a"},
        {"name": "b"},
    ]
    assert await face.fetch_all("SELECT name FROM parity_parents WHERE 1 = 0") == []
    assert await face.fetch_value("SELECT count(*) FROM parity_parents") == 2
    assert await face.fetch_value("SELECT name FROM parity_parents WHERE 1 = 0") is None


async def test_execute_returns_the_rowcount(face: Face) -> None:
    await _seed(face, "a", "b", "c")
    assert await face.execute("UPDATE parity_parents SET name = name || '!' WHERE name <> 'c'") == 2
    assert await face.execute("DELETE FROM parity_parents WHERE name = :n", {"n": "zz"}) == 0
    assert await face.execute("DELETE FROM parity_parents") == 3


async def test_parameters_are_bound_not_formatted(face: Face) -> None:
    tricky = "O'Brien'); DROP TABLE parity_parents; --"
    await _seed(face, tricky)
    query = "SELECT name FROM parity_parents WHERE name = :n"
    assert await face.fetch_value(query, {"n": tricky}) == tricky
    assert await face.fetch_value("SELECT count(*) FROM parity_parents") == 1


async def test_execute_has_its_own_transaction(face: Face) -> None:
    await _seed(face, "a")
    # Committed (here: its savepoint released), so the test's own session sees it.
    assert await face.session.scalar(text("SELECT count(*) FROM parity_parents")) == 1
    with pytest.raises(UniqueViolation):
        await face.execute(INSERT, {"name": "a"})
    # Rolled back: on Postgres a failed statement left unrolled would abort what follows.
    assert await face.execute("UPDATE parity_parents SET name = 'b' WHERE name = 'a'") == 1
    assert await face.fetch_all("SELECT name FROM parity_parents") == [{"name": "b"}]


async def test_session_argument_runs_in_the_callers_transaction(face: Face) -> None:
    session = face.session
    await face.execute(INSERT, {"name": "kept"}, session=session)
    nested = await session.begin_nested()
    await face.execute(INSERT, {"name": "dropped"}, session=session)
    rows = await face.fetch_all("SELECT name FROM parity_parents ORDER BY id", session=session)
    assert rows == [{"name": "kept"}, {"name": "dropped"}]
    await nested.rollback()
    assert await face.fetch_value("SELECT count(*) FROM parity_parents", session=session) == 1
    assert await face.fetch_one("SELECT name FROM parity_parents", session=session) == {
        "name": "kept"
    }


async def test_typed_columns_give_aware_utc(face: Face) -> None:
    await _seed(face, "typed")
    query = text("SELECT created_at FROM parity_parents").columns(created_at=UTCDateTime())
    created = await face.fetch_value(query)
    assert created.utcoffset() == timedelta(0)


async def test_typed_datetime_parameter_matches_stored_values(face: Face) -> None:
    when = datetime(2024, 5, 1, 12, 0, tzinfo=timezone(timedelta(hours=2)))
    face.session.add(Item(happened_at=when))
    await face.session.flush()
    query = text("SELECT count(*) FROM parity_items WHERE happened_at = :when").bindparams(
        bindparam("when", type_=UTCDateTime())
    )
    assert await face.fetch_value(query, {"when": when}, session=face.session) == 1


async def test_execute_outside_any_test_transaction(
    face: Face, database_url: str, dialect: str, tmp_path: Path
) -> None:
    # Real commits, seen from another connection: a file database, or a table of its own.
    url = f"sqlite+aiosqlite:///{tmp_path}/raw.db" if dialect == "sqlite" else database_url
    table = f"raw_{secrets.token_hex(4)}"
    own = Face(face.name, _database(face, url), face.session)
    with _installed(own):
        try:
            await own.execute(
                f"CREATE TABLE {table} (id INTEGER PRIMARY KEY, name VARCHAR(20) UNIQUE)"
            )
            assert await own.execute(f"INSERT INTO {table} VALUES (1, :n)", {"n": "a"}) == 1
            with pytest.raises(UniqueViolation):
                await own.execute(f"INSERT INTO {table} VALUES (2, 'b'), (3, :n)", {"n": "a"})
            other = SyncDatabase(url)  # another connection, another face: the same rows
            try:
                with other.engine.connect() as connection:
                    rows = connection.execute(text(f"SELECT id, name FROM {table}")).all()
            finally:
                other.dispose()
            assert [tuple(row) for row in rows] == [(1, "a")]
            assert await own.fetch_value(f"SELECT count(*) FROM {table}") == 1
        finally:
            await own.execute(f"DROP TABLE IF EXISTS {table}")
            await _dispose(own)


def _database(face: Face, url: str, **engine_options: object) -> Database | SyncDatabase:
    if face.name == "async":
        return Database(url, **engine_options)
    return SyncDatabase(url, **engine_options)


# A driver flag of the caller's own, and a session setting in each driver's spelling.
_OWN_CONNECT_ARGS = {
    ("sqlite", "async"): {"timeout": 7.5},
    ("sqlite", "sync"): {"timeout": 7.5},
    ("postgresql", "async"): {"server_settings": {"jit": "off"}, "command_timeout": 60},
    ("postgresql", "sync"): {"options": "-c jit=off", "application_name": "own-name"},
}


async def test_own_connect_args_join_the_toolkits_rules(
    face: Face, database_url: str, dialect: str, tmp_path: Path
) -> None:
    url = f"sqlite+aiosqlite:///{tmp_path}/own.db" if dialect == "sqlite" else database_url
    connect_args = _OWN_CONNECT_ARGS[dialect, face.name]
    own = Face(face.name, _database(face, url, connect_args=connect_args), face.session)
    settings = get_settings()
    with _installed(own):
        try:
            if dialect == "sqlite":
                assert await own.fetch_value("PRAGMA busy_timeout") == 7500  # theirs
                assert await own.fetch_value("PRAGMA foreign_keys") == 1  # and the toolkit's
                assert await own.fetch_value("PRAGMA journal_mode") == "wal"
                return
            assert await own.fetch_value("SHOW jit") == "off"
            assert await own.fetch_value("SHOW timezone") == "UTC"
            timeout = "SELECT setting FROM pg_settings WHERE name = 'statement_timeout'"
            assert await own.fetch_value(timeout) == str(settings.database_statement_timeout_ms)
            expected_name = (
                "own-name" if face.name == "sync" else settings.database_application_name
            )
            assert await own.fetch_value("SHOW application_name") == expected_name
        finally:
            await _dispose(own)


class _installed:
    """Make `face.database` the default of its face while the block runs."""

    def __init__(self, face: Face) -> None:
        self._face = face

    def __enter__(self) -> None:
        from core.database import set_database
        from core.database.sync import set_sync_database

        database = self._face.database
        if isinstance(database, Database):
            self._previous: object = set_database(database)
        else:
            self._previous = set_sync_database(database)

    def __exit__(self, *_exc: object) -> None:
        from core.database import set_database
        from core.database.sync import set_sync_database

        if isinstance(self._face.database, Database):
            set_database(self._previous)  # type: ignore[arg-type]
        else:
            set_sync_database(self._previous)  # type: ignore[arg-type]


async def _dispose(face: Face) -> None:
    if isinstance(face.database, Database):
        await face.database.dispose()
    else:
        face.database.dispose()


# --- sessions and on_commit ----------------------------------------------------------


async def test_transaction_commits_and_runs_on_commit(face: Face) -> None:
    calls: list[str] = []
    async with face.transaction() as session:
        session.add(Parent(name="committed"))
        on_commit(session.raw, lambda: calls.append("first"))
        on_commit(session.raw, lambda: calls.append("second"))
        assert calls == []
    assert calls == ["first", "second"]
    assert await _names(face.session) == {"committed"}


async def test_transaction_rolls_back_on_error(face: Face) -> None:
    calls: list[str] = []
    with pytest.raises(Boom):
        async with face.transaction() as session:
            session.add(Parent(name="rolled back"))
            await session.flush()
            on_commit(session.raw, lambda: calls.append("committed"))
            raise Boom
    assert calls == []
    assert await _names(face.session) == set()


async def test_on_commit_in_a_rolled_back_savepoint_is_dropped(face: Face) -> None:
    calls: list[str] = []
    async with face.transaction() as session:
        on_commit(session.raw, lambda: calls.append("outer"))
        nested = await session.begin_nested()
        on_commit(session.raw, lambda: calls.append("inner"))
        await nested.rollback()
    assert calls == ["outer"]


async def test_failing_callback_is_logged_and_the_commit_stands(
    face: Face, caplog: pytest.LogCaptureFixture
) -> None:
    def fail() -> None:
        raise RuntimeError("callback broke")

    calls: list[str] = []
    with caplog.at_level(logging.ERROR, logger="core.database"):
        async with face.transaction() as session:
            session.add(Parent(name="stands"))
            on_commit(session.raw, fail)
            on_commit(session.raw, lambda: calls.append("after"))
    assert calls == ["after"]
    assert "callback broke" in caplog.text
    assert await _names(face.session) == {"stands"}


async def test_timestamps_are_readable_and_aware_after_commit(face: Face) -> None:
    async with face.transaction() as session:
        parent = Parent(name="stamped")
        session.add(parent)
    # expire_on_commit=False on both faces: no lazy load after the session closed.
    assert parent.created_at.utcoffset() == timedelta(0)
    assert parent.updated_at >= parent.created_at


async def test_ping_answers(face: Face) -> None:
    assert await face.ping() is True


# --- errors ---------------------------------------------------------------------------


@pytest.mark.parametrize(
    ("rows", "expected", "where"),
    [
        (lambda: [Parent(name=MARKER), Parent(name=MARKER)], UniqueViolation, "parity_parents"),
        (lambda: [Child(parent_id=987_654, label=MARKER)], ForeignKeyViolation, None),
        (lambda: [Child(parent_id=None, label=MARKER)], NotNullViolation, None),
        (lambda: [Item(quantity=-1, secret=MARKER)], CheckViolation, None),
    ],
    ids=["unique", "foreign-key", "not-null", "check"],
)
async def test_violations_are_the_same_classes(
    face: Face, dialect: str, rows: object, expected: type[IntegrityViolation], where: str | None
) -> None:
    face.session.add_all(rows())  # type: ignore[operator]
    with pytest.raises(expected) as caught:
        await face.session.flush()
    await face.session.rollback()
    error = caught.value
    assert isinstance(error, sa_exc.IntegrityError)
    assert MARKER not in str(error)
    assert MARKER not in repr(error)
    assert MARKER not in str(error.orig)
    if where is not None:
        assert (error.table, error.columns) == (where, ("name",))
    if expected is CheckViolation:
        assert error.constraint == "ck_parity_items_quantity_non_negative"
    if dialect == "postgresql" and expected is UniqueViolation:
        assert error.constraint == "uq_parity_parents_name"
    if dialect == "postgresql" and expected is ForeignKeyViolation:
        assert error.constraint == "fk_parity_children_parent_id_parity_parents"


async def test_raw_helper_violations_are_translated_too(face: Face) -> None:
    await _seed(face, MARKER)
    with pytest.raises(UniqueViolation) as caught:
        await face.execute(INSERT, {"name": MARKER})
    assert MARKER not in str(caught.value.orig)
    with pytest.raises(ForeignKeyViolation):
        await face.execute(
            "INSERT INTO parity_children (parent_id, label) VALUES (:p, 'x')", {"p": 424_242}
        )


@pytest.mark.parametrize(
    "sql",
    [
        "SELECT * FROM parity_no_such_table",
        "SELECT no_such_column FROM parity_parents",
        "SELECT parity_no_such_function(1)",
        "SELEC 1",
        "SELECT (1",
        "INSERT INTO parity_parents (name, no_such_column) VALUES ('a', 1)",
        "SELECT id FROM parity_parents, parity_children",
        "SELECT lower('a', 'b')",
    ],
    ids=[
        "table",
        "column",
        "function",
        "syntax",
        "incomplete",
        "insert-column",
        "ambiguous",
        "arguments",
    ],
)
async def test_sql_that_cannot_run_is_one_class_on_both(face: Face, sql: str) -> None:
    with pytest.raises(InvalidStatementError) as caught:
        await face.fetch_all(sql)
    assert isinstance(caught.value, sa_exc.ProgrammingError)  # as SQLAlchemy names it
    assert await face.fetch_value("SELECT count(*) FROM parity_parents") == 0  # usable after


async def test_session_is_usable_after_a_violation(face: Face) -> None:
    face.session.add_all([Parent(name="dup"), Parent(name="dup")])
    with pytest.raises(UniqueViolation):
        await face.session.flush()
    await face.session.rollback()
    face.session.add(Parent(name="fine"))
    await face.session.flush()
    assert await _names(face.session) == {"fine"}


# --- types ----------------------------------------------------------------------------


async def test_aware_datetime_round_trips_as_utc(face: Face) -> None:
    when = datetime(2024, 1, 2, 3, 4, 5, 600_000, tzinfo=timezone(timedelta(hours=-5)))
    item = Item(happened_at=when)
    face.session.add(item)
    await face.session.flush()
    item_id = item.id
    face.session.raw.expire_all()
    loaded = await face.session.scalar(select(Item.happened_at).where(Item.id == item_id))
    assert loaded == when
    assert loaded.utcoffset() == timedelta(0)


async def test_naive_datetime_is_refused(face: Face) -> None:
    face.session.add(Item(happened_at=datetime(2024, 1, 1)))
    with pytest.raises(sa_exc.StatementError, match="naive"):
        await face.session.flush()
    await face.session.rollback()


async def test_values_round_trip_the_same(face: Face) -> None:
    token = uuid.uuid4()
    item = Item(
        price=Decimal("1234567890.12"),
        payload={"a": [1, 2, {"b": None}], "ü": "ß"},
        tags=["x", 1],
        token=token,
        color=Color.GREEN,
        active=False,
    )
    face.session.add(item)
    await face.session.flush()
    item_id = item.id
    face.session.raw.expire_all()
    row = (await face.session.execute(select(Item).where(Item.id == item_id))).scalar_one()
    assert row.price == Decimal("1234567890.12")
    assert row.payload == {"a": [1, 2, {"b": None}], "ü": "ß"}
    assert row.tags == ["x", 1]
    assert row.token == token
    assert row.color is Color.GREEN
    assert row.active is False
    stored = await face.fetch_value(
        "SELECT color FROM parity_items WHERE id = :id", {"id": item_id}, session=face.session
    )
    assert stored == "green"


async def test_raw_decimal_and_uuid_parameters_match_stored_values(face: Face) -> None:
    token = uuid.uuid4()
    face.session.add(Item(price=Decimal("1.50"), token=token))
    await face.session.flush()
    by_price = "SELECT count(*) FROM parity_items WHERE price = :p"
    assert await face.fetch_value(by_price, {"p": Decimal("1.50")}, session=face.session) == 1
    by_token = "SELECT count(*) FROM parity_items WHERE token = :t"
    assert await face.fetch_value(by_token, {"t": token}, session=face.session) == 1
    assert await face.fetch_value(by_token, {"t": uuid.uuid4()}, session=face.session) == 0
    update = "UPDATE parity_items SET price = :p WHERE token = :t"
    assert await face.execute(update, {"p": Decimal("2.25"), "t": token}, session=face.session) == 1
    face.session.raw.expire_all()
    stored = await face.session.scalar(select(Item.price).where(Item.token == token))
    assert stored == Decimal("2.25")


async def test_decimal_that_does_not_fit_is_refused(face: Face) -> None:
    face.session.add(Item(price=Decimal("1.234")))
    with pytest.raises(sa_exc.StatementError):
        await face.session.flush()
    await face.session.rollback()


async def test_insert_returning(face: Face) -> None:
    rows = await face.fetch_all(
        "INSERT INTO parity_parents (name) VALUES (:a), (:b) RETURNING id, name",
        {"a": "r1", "b": "r2"},
    )
    assert [row["name"] for row in rows] == ["r1", "r2"]
    assert rows[0]["id"] < rows[1]["id"]


async def test_one_session_runs_each_commits_callbacks_once_and_listens_once(face: Face) -> None:
    raw = face.session.raw
    sync = raw.sync_session if isinstance(raw, AsyncSession) else raw
    # The toolkit listens on a session only once it has a callback (an app's own
    # listeners, like the reference app's, are there from the start).
    before = len(list(sync.dispatch.after_transaction_end))
    calls: list[str] = []
    on_commit(raw, lambda: calls.append("first"))
    await face.session.commit()
    await face.session.rollback()  # nothing pending: nothing runs
    on_commit(raw, lambda: calls.append("rolled back"))
    await face.session.rollback()
    on_commit(raw, lambda: calls.append("second"))
    on_commit(raw, lambda: calls.append("third"))
    await face.session.commit()
    assert calls == ["first", "second", "third"]
    assert len(list(sync.dispatch.after_transaction_end)) == before + 1  # once, not per callback
