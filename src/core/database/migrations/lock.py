"""One migration at a time per database: two deploys running ``upgrade head`` at once.

Postgres: a session advisory lock, held around the whole Alembic run; the second
process waits for it, then reads the version the first one committed and finds
nothing to do. SQLite: the migration's transaction begins IMMEDIATE (the write
lock), which serialises it the same way; nothing more is needed here.
"""

from __future__ import annotations

import hashlib
from collections.abc import Iterator
from contextlib import contextmanager

from sqlalchemy import text
from sqlalchemy.engine import Connection

__all__ = ["MIGRATION_LOCK_KEY", "migration_lock"]

# A fixed signed 64-bit key: the same in every process and version of the toolkit.
MIGRATION_LOCK_KEY = int.from_bytes(
    hashlib.sha256(b"core.database migrations").digest()[:8], "big", signed=True
)


@contextmanager
def migration_lock(connection: Connection) -> Iterator[None]:
    """Hold the database's migration lock while the block runs (Postgres; SQLite: no-op)."""
    if connection.dialect.name != "postgresql":
        yield
        return
    key = {"key": MIGRATION_LOCK_KEY}
    if connection.in_transaction():
        # The caller's transaction (Alembic's "connection sharing" recipe): a
        # transaction-level lock, released when the caller commits or rolls back.
        connection.execute(text("SELECT pg_advisory_xact_lock(:key)"), key)
        yield
        return
    connection.execute(text("SELECT pg_advisory_lock(:key)"), key)
    # The lock belongs to the session and outlives this commit; Alembic must find
    # no transaction open, or it would take it for the caller's and never commit.
    connection.commit()
    try:
        yield
    finally:
        if connection.in_transaction():
            connection.rollback()
        connection.execute(text("SELECT pg_advisory_unlock(:key)"), key)
        connection.commit()
