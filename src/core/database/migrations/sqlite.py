"""SQLite migrations without cascading deletes: foreign keys off, checked, then restored.

A batch migration on SQLite copies a table, drops the old one and renames the
copy. With foreign keys ON, the DROP deletes the parent rows first, and
``ON DELETE CASCADE`` takes the child rows with them. ``PRAGMA foreign_keys`` is
a no-op inside a transaction, so it is switched while none is open.
"""

from __future__ import annotations

from collections import Counter
from collections.abc import Iterator
from contextlib import contextmanager
from typing import Any

from alembic.util import CommandError
from sqlalchemy.engine import Connection

from core.database.errors import DatabaseError

__all__ = ["ForeignKeyCheckError", "foreign_keys_checked", "foreign_keys_off"]


class ForeignKeyCheckError(DatabaseError, CommandError):
    """A migration left rows pointing at a missing parent; it was rolled back."""


@contextmanager
def foreign_keys_off(connection: Connection) -> Iterator[None]:
    """Foreign keys OFF on `connection` while the block runs, then back as they were."""
    if connection.in_transaction():
        raise CommandError(
            "migrations on SQLite need a connection outside a transaction (engine.connect(), "
            "not engine.begin()): PRAGMA foreign_keys is a no-op inside one"
        )
    previous = _driver_pragma(connection, "PRAGMA foreign_keys")[0][0]
    _driver_pragma(connection, "PRAGMA foreign_keys=OFF")
    if _driver_pragma(connection, "PRAGMA foreign_keys")[0][0] != 0:
        raise CommandError(
            "could not turn SQLite foreign keys off (a transaction is open at the driver "
            "level); refusing to migrate: recreated tables would cascade-delete child rows"
        )
    try:
        yield
    finally:
        if connection.in_transaction():
            # Alembic commits what succeeded; anything still open belongs to a failure.
            connection.rollback()
        _driver_pragma(connection, f"PRAGMA foreign_keys={int(previous)}")


def foreign_keys_checked(connection: Connection) -> None:
    """Raise ForeignKeyCheckError naming each table whose rows lost their parent row."""
    rows = connection.exec_driver_sql("PRAGMA foreign_key_check").all()
    if not rows:
        return
    # Columns: table, rowid, parent table, foreign key id. Only names are reported.
    counts = Counter((str(row[0]), str(row[2])) for row in rows)
    detail = ", ".join(
        f"{table} ({count} row{'s' if count > 1 else ''} without a parent in {parent})"
        for (table, parent), count in sorted(counts.items())
    )
    raise ForeignKeyCheckError(
        f"PRAGMA foreign_key_check failed after the migration, which was rolled back: {detail}"
    )


def _driver_pragma(connection: Connection, sql: str) -> list[tuple[Any, ...]]:
    # Straight to the driver, which runs in autocommit (the engine emits BEGIN itself):
    # through SQLAlchemy, the statement would autobegin a transaction first.
    dbapi_connection = connection.connection.dbapi_connection
    if dbapi_connection is None:
        raise CommandError("the SQLite connection is closed")
    cursor = dbapi_connection.cursor()
    try:
        cursor.execute(sql)
        return [tuple(row) for row in cursor.fetchall()]
    finally:
        cursor.close()
