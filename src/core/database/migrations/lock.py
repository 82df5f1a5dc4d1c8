"""One migration at a time per database: two deploys running ``upgrade head`` at once.

Postgres: a transaction-level advisory lock, taken first thing in the migration's
transaction; the second process waits for it, then reads the version the first
one committed and finds nothing to do. Transaction-level, so it is released with
the commit or rollback whatever happens, and holds behind PgBouncer's transaction
pooling too. SQLite: the migration's transaction begins IMMEDIATE (the write
lock), which serialises it the same way; nothing more is needed here.
"""

from __future__ import annotations

import hashlib

from sqlalchemy import text
from sqlalchemy.engine import Connection

__all__ = ["MIGRATION_LOCK_KEY", "take_migration_lock"]

# A fixed signed 64-bit key: the same in every process and version of the toolkit.
MIGRATION_LOCK_KEY = int.from_bytes(
    hashlib.sha256(b"core.database migrations").digest()[:8], "big", signed=True
)


def take_migration_lock(connection: Connection) -> None:
    """Wait for the database's migration lock; held until the transaction ends (Postgres)."""
    if connection.dialect.name == "postgresql":
        connection.execute(text("SELECT pg_advisory_xact_lock(:key)"), {"key": MIGRATION_LOCK_KEY})
