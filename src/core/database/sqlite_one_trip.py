"""aiosqlite: a statement in one trip to the driver's thread, the BEGIN riding with it.

aiosqlite runs every call on a thread of its own, and each call is a trip there and
back through the event loop. SQLAlchemy's adapter makes four per statement (open a
cursor, execute, fetch the rows, close the cursor), and a transaction's BEGIN
IMMEDIATE was one more, sent alone. Here the engine's statements run in one trip
after the cursor is opened: execute, then the rows fetched, in the thread; and the
transaction's BEGIN is sent in that same trip, before the first statement. A
read-only unit's "PRAGMA query_only=ON; BEGIN DEFERRED" rides the same way, and its
"PRAGMA query_only=OFF" goes with its COMMIT or ROLLBACK.

A BEGIN still pending when the transaction ends means it never did anything: the
COMMIT or ROLLBACK is skipped (see engine.py). The transaction turn is taken at
begin, as before, so transactions keep their order. Code that talks to the driver
directly inside a transaction (bulk_insert) sends the pending BEGIN first.
"""

from __future__ import annotations

import collections
from typing import Any
from weakref import WeakKeyDictionary

from sqlalchemy.dialects.sqlite.aiosqlite import AsyncAdapt_aiosqlite_cursor
from sqlalchemy.engine import Dialect
from sqlalchemy.util import await_only

__all__ = [
    "begin_now",
    "defer_begin",
    "end_in_one_trip",
    "forget_ended",
    "forget_pending_begin",
    "note_ended",
    "nothing_open",
    "run_statements_in_one_trip",
]

# aiosqlite connection -> the statements that begin its transaction, yet to be sent.
_PENDING: WeakKeyDictionary[Any, tuple[str, ...]] = WeakKeyDictionary()
# aiosqlite connections whose last act was a COMMIT or ROLLBACK: no transaction is open.
_ENDED: WeakKeyDictionary[Any, bool] = WeakKeyDictionary()


def defer_begin(driver_connection: Any, sql: str) -> None:
    """Send `sql` (BEGIN IMMEDIATE; or a reader's "PRAGMA query_only=ON; BEGIN DEFERRED")
    with the transaction's first statement."""
    _ENDED.pop(driver_connection, None)
    _PENDING[driver_connection] = tuple(part.strip() for part in sql.split(";") if part.strip())


def forget_pending_begin(pooled_connection: Any) -> bool:
    """True if the transaction on this connection never began (its BEGIN still pending)."""
    driver = getattr(pooled_connection, "driver_connection", None)
    return driver is not None and _PENDING.pop(driver, None) is not None


def note_ended(pooled_connection: Any) -> None:
    """The driver's COMMIT or ROLLBACK returned: nothing is open on this connection."""
    driver = getattr(pooled_connection, "driver_connection", None)
    if driver is not None:
        _ENDED[driver] = True


def forget_ended(pooled_connection: Any) -> None:
    """A checkout: what the new holder does on the driver is not known here."""
    driver = getattr(pooled_connection, "driver_connection", None)
    if driver is not None:
        _ENDED.pop(driver, None)


def nothing_open(pooled_connection: Any) -> bool:
    """True if no statement ran since this checkout's last COMMIT or ROLLBACK.

    The pool rolls back every connection it takes back; after a commit that is one
    more trip to the driver's thread on every unit of work, with nothing to undo.
    Only within one checkout: code that used the driver directly before it (a BEGIN
    sent past the engine) gets its rollback.
    """
    driver = getattr(pooled_connection, "driver_connection", None)
    return driver is not None and _ENDED.get(driver, False)


def end_in_one_trip(pooled_connection: Any, how: str, then: str | None = None) -> None:
    """COMMIT or ROLLBACK (`how`), then `then` (a reader's "PRAGMA query_only=OFF"), in
    one trip to the driver's thread."""
    driver = pooled_connection.driver_connection

    def in_the_thread() -> None:
        connection = driver._conn
        getattr(connection, how)()
        if then is not None:
            connection.execute(then)

    await_only(driver._execute(in_the_thread))


async def begin_now(driver_connection: Any) -> None:
    """Send a pending BEGIN before using the aiosqlite connection directly."""
    _ENDED.pop(driver_connection, None)
    for sql in _PENDING.pop(driver_connection, ()):
        await driver_connection.execute(sql)


def run_statements_in_one_trip(dialect: Dialect) -> None:
    """Make `dialect` (aiosqlite's) execute each statement in one trip to the thread."""
    plain = (dialect.do_execute, dialect.do_execute_no_params, dialect.do_executemany)
    do_execute, do_execute_no_params, do_executemany = plain

    def execute(cursor: Any, statement: str, parameters: Any, context: Any = None) -> None:
        if type(cursor) is not AsyncAdapt_aiosqlite_cursor:  # a server-side cursor
            do_execute(cursor, statement, parameters, context)
            return
        _one_trip(cursor, statement, parameters, many=False)

    def execute_no_params(cursor: Any, statement: str, context: Any = None) -> None:
        if type(cursor) is not AsyncAdapt_aiosqlite_cursor:
            do_execute_no_params(cursor, statement, context)
            return
        _one_trip(cursor, statement, None, many=False)

    def executemany(cursor: Any, statement: str, parameters: Any, context: Any = None) -> None:
        if type(cursor) is not AsyncAdapt_aiosqlite_cursor:
            do_executemany(cursor, statement, parameters, context)
            return
        _one_trip(cursor, statement, parameters, many=True)

    dialect.do_execute = execute  # type: ignore[method-assign]
    dialect.do_execute_no_params = execute_no_params  # type: ignore[method-assign]
    dialect.do_executemany = executemany  # type: ignore[method-assign]


class _Done:
    """What the adapter reads from a cursor whose statement has run and whose rows are read.

    It stands in for aiosqlite's Cursor: closing that would be one more trip for nothing
    (the statement is done), so closing this one costs nothing.
    """

    __slots__ = ("arraysize", "description", "lastrowid", "rowcount")

    def __init__(self, description: Any, rowcount: int, lastrowid: int | None) -> None:
        self.description = description
        self.rowcount = rowcount
        self.lastrowid = lastrowid
        self.arraysize = 1

    async def close(self) -> None:
        return None


def _one_trip(cursor: Any, statement: str, parameters: Any, *, many: bool) -> None:
    adapter = cursor._adapt_connection
    driver = cursor._connection  # the aiosqlite Connection
    begin = _PENDING.pop(driver, ())
    _ENDED.pop(driver, None)  # any statement may open a transaction (BEGIN written as SQL)

    def in_the_thread() -> tuple[_Done, list[Any] | None]:
        connection = driver._conn  # sqlite3's, used in its own thread
        for sql in begin:
            connection.execute(sql)
        # A cursor of its own: the adapter's may have run a statement already (insert
        # batches share one).
        sqlite_cursor = connection.cursor()
        if many:
            sqlite_cursor.executemany(statement, parameters)
        elif parameters is None:
            sqlite_cursor.execute(statement)
        else:
            sqlite_cursor.execute(statement, parameters)
        description = sqlite_cursor.description
        rows = sqlite_cursor.fetchall() if description else None
        done = _Done(description, sqlite_cursor.rowcount, sqlite_cursor.lastrowid)
        sqlite_cursor.close()
        return done, rows

    async def locked() -> tuple[_Done, list[Any] | None]:
        async with adapter._execute_mutex:  # as the adapter: one statement at a time
            return await driver._execute(in_the_thread)  # type: ignore[no-any-return]

    try:
        done, rows = await_only(locked())
    except Exception as error:
        adapter._handle_exception(error)  # as the adapter would: raises
    cursor._cursor = done
    if rows is not None:
        cursor._rows = collections.deque(rows)
