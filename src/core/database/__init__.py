"""core.database: one DATABASE_URL chooses SQLite or Postgres; nothing else changes."""

from __future__ import annotations

from typing import TYPE_CHECKING, Any

from core.database import functions  # noqa: F401  (core.database.functions, imported for its hooks)
from core.database.base import NAMING_CONVENTION, POSTGRES_NAMING_CONVENTION, Base, new_metadata
from core.database.bulk import bulk_insert
from core.database.database import (
    Database,
    get_database,
    read_transaction,
    set_database,
    transaction,
)
from core.database.engine import create_engine
from core.database.errors import (
    CheckViolation,
    ConfigurationError,
    DatabaseError,
    DatabaseUnavailableError,
    ForeignKeyViolation,
    IntegrityViolation,
    InvalidStatementError,
    InvalidValueError,
    LockNotAvailable,
    NotFoundError,
    NotNullViolation,
    PoolTimeoutError,
    ReadOnlyTransactionError,
    StatementTimeoutError,
    TooManyConnectionsError,
    TooManyParameters,
    TransactionAborted,
    UniqueViolation,
)
from core.database.health import DatabaseHealth
from core.database.mixins import IntIdMixin, TimestampMixin
from core.database.raw import execute, fetch_all, fetch_one, fetch_value
from core.database.retry import run_in_transaction
from core.database.scripts import run
from core.database.sequences import sync_sequences
from core.database.session import make_sessionmaker, on_commit
from core.database.startup import DatabaseStartupCheck, check_database
from core.database.types import (
    BigIntPK,
    Duration,
    ExactDecimal,
    JSONType,
    UTCDateTime,
    portable_enum,
    utcnow,
)
from core.database.upsert import insert_or_ignore, upsert
from core.database.url import mask_url, parse_database_url

if TYPE_CHECKING:
    from core.database.fastapi import (
        ReadSessionDep,
        SessionDep,
        get_read_session,
        get_session,
        install_error_handlers,
    )

__all__ = [
    "NAMING_CONVENTION",
    "POSTGRES_NAMING_CONVENTION",
    "Base",
    "BigIntPK",
    "CheckViolation",
    "ConfigurationError",
    "Database",
    "DatabaseError",
    "DatabaseHealth",
    "DatabaseStartupCheck",
    "DatabaseUnavailableError",
    "Duration",
    "ExactDecimal",
    "ForeignKeyViolation",
    "IntIdMixin",
    "IntegrityViolation",
    "InvalidStatementError",
    "InvalidValueError",
    "JSONType",
    "LockNotAvailable",
    "NotFoundError",
    "NotNullViolation",
    "PoolTimeoutError",
    "ReadOnlyTransactionError",
    "ReadSessionDep",
    "SessionDep",
    "StatementTimeoutError",
    "TimestampMixin",
    "TooManyConnectionsError",
    "TooManyParameters",
    "TransactionAborted",
    "UTCDateTime",
    "UniqueViolation",
    "bulk_insert",
    "check_database",
    "create_engine",
    "execute",
    "fetch_all",
    "fetch_one",
    "fetch_value",
    "get_database",
    "get_read_session",
    "get_session",
    "insert_or_ignore",
    "install_error_handlers",
    "make_sessionmaker",
    "mask_url",
    "new_metadata",
    "on_commit",
    "parse_database_url",
    "portable_enum",
    "read_transaction",
    "run",
    "run_in_transaction",
    "set_database",
    "sync_sequences",
    "transaction",
    "upsert",
    "utcnow",
]

_FASTAPI_NAMES = frozenset(
    {"ReadSessionDep", "SessionDep", "get_read_session", "get_session", "install_error_handlers"}
)


def __getattr__(name: str) -> Any:
    # FastAPI is an optional extra: import its integration only when asked for.
    if name in _FASTAPI_NAMES:
        try:
            from core.database import fastapi as integration
        except ImportError as exc:
            raise ImportError(
                f"core.database.{name} needs FastAPI: pip install 'core-database[fastapi]'"
            ) from exc
        return getattr(integration, name)
    raise AttributeError(f"module 'core.database' has no attribute {name!r}")
