"""The sync face: scripts, Alembic data migrations, `def` routes and workers.

The same DATABASE_URL and settings as the async face, through sync drivers
(sqlite3, psycopg 3), with the same rules: SQLite pragmas and transaction turns,
Postgres pool, timeouts and liveness check, error classes, masking and `on_commit`.

    from core.database.sync import fetch_all, transaction

    rows = fetch_all("SELECT id, email FROM users WHERE id > :after", {"after": 10})
    with transaction() as session:
        session.add(user)
"""

from __future__ import annotations

from typing import TYPE_CHECKING, Any

from core.database.session import on_commit
from core.database.sync.database import (
    SyncDatabase,
    get_sync_database,
    set_sync_database,
    transaction,
)
from core.database.sync.engine import create_sync_engine
from core.database.sync.raw import execute, fetch_all, fetch_one, fetch_value

if TYPE_CHECKING:
    from core.database.sync.fastapi import SyncSessionDep, get_sync_session

__all__ = [
    "SyncDatabase",
    "SyncSessionDep",
    "create_sync_engine",
    "execute",
    "fetch_all",
    "fetch_one",
    "fetch_value",
    "get_sync_database",
    "get_sync_session",
    "on_commit",
    "set_sync_database",
    "transaction",
]

_FASTAPI_NAMES = frozenset({"SyncSessionDep", "get_sync_session"})


def __getattr__(name: str) -> Any:
    # FastAPI is an optional extra: import its integration only when asked for.
    if name in _FASTAPI_NAMES:
        try:
            from core.database.sync import fastapi as integration
        except ImportError as exc:
            raise ImportError(
                f"core.database.sync.{name} needs FastAPI: pip install 'core-database[fastapi]'"
            ) from exc
        return getattr(integration, name)
    raise AttributeError(f"module 'core.database.sync' has no attribute {name!r}")
