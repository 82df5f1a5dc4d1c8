"""The toolkit's exceptions: the same class for the same failure on SQLite and Postgres.

    DatabaseError
    ├── ConfigurationError            bad DATABASE_URL or settings (also a ValueError)
    ├── DatabaseUnavailableError      server unreachable, refused or timed out: retry later
    │   ├── PoolTimeoutError          no pooled connection came free in time (also sa TimeoutError)
    │   └── TooManyConnectionsError   the server refused a connection: too many clients (53xxx)
    ├── StatementTimeoutError         a statement ran past statement_timeout (57014)
    ├── NotFoundError                 a repository found no row for the key (also a LookupError)
    ├── ReadOnlyTransactionError      a read-only unit of work tried to write
    ├── BroadcastError                post-commit fan-out (core.database.broadcast)
    │   ├── BroadcastMessageError     a channel or message no backend can carry (also a ValueError)
    │   └── BroadcastUnavailableError the broadcaster's server (e.g. Redis) cannot be reached
    ├── InvalidValueError             a value does not fit its column or cast: wrong type, out of
    │                                 range, bad text for a number (also a DBAPIError, ValueError)
    ├── LockNotAvailable              a lock was not granted: NOWAIT, lock_timeout, SQLite busy
    ├── TooManyParameters             more than 32,767 bound values in one statement
    ├── TransactionAborted            a statement after a failed one, before the rollback
    └── IntegrityViolation            also a sqlalchemy.exc.IntegrityError (old handlers match)
        ├── UniqueViolation
        ├── ForeignKeyViolation
        ├── NotNullViolation
        └── CheckViolation

Messages name the table, columns and constraint where the backend reports them,
never a bound value or a password.
"""

from __future__ import annotations

from typing import Any

from sqlalchemy import exc as sa_exc

__all__ = [
    "BroadcastError",
    "BroadcastMessageError",
    "BroadcastUnavailableError",
    "CheckViolation",
    "ConfigurationError",
    "DatabaseError",
    "DatabaseUnavailableError",
    "ForeignKeyViolation",
    "IntegrityViolation",
    "InvalidValueError",
    "LockNotAvailable",
    "NotFoundError",
    "NotNullViolation",
    "PoolTimeoutError",
    "ReadOnlyTransactionError",
    "StatementTimeoutError",
    "TooManyConnectionsError",
    "TooManyParameters",
    "TransactionAborted",
    "UniqueViolation",
]


class DatabaseError(Exception):
    """Base class of every error the toolkit raises on purpose."""

    def __reduce__(self) -> tuple[Any, ...]:
        # Subclasses take keyword-only constructor arguments: pickle the state instead, so
        # errors cross process boundaries (multiprocessing, task queues, pytest-xdist).
        return (_rebuild, (type(self), self.args, self.__dict__))


def _rebuild(cls: type[DatabaseError], args: tuple[Any, ...], state: dict[str, Any]) -> Any:
    error = cls.__new__(cls)
    error.args = args
    error.__dict__.update(state)
    return error


class ConfigurationError(DatabaseError, ValueError):
    """The configuration cannot work: an unsupported or malformed DATABASE_URL, say."""


class DatabaseUnavailableError(DatabaseError):
    """The database could not be reached; `url` is the masked URL that was tried.

    `reason` says why in one line (authentication failed for user "app", database
    "shop" does not exist, connection refused at host:port, timed out...).
    """

    def __init__(
        self,
        message: str,
        *,
        url: str,
        connection_invalidated: bool = False,
        reason: str | None = None,
    ) -> None:
        super().__init__(f"{message} ({url})")
        self.url = url
        self.reason = reason or message
        # True when an open connection died midway: the transaction is lost, not committed.
        self.connection_invalidated = connection_invalidated


class PoolTimeoutError(DatabaseUnavailableError, sa_exc.TimeoutError):
    """Every pooled connection stayed checked out for `pool_timeout` seconds.

    Also a sqlalchemy.exc.TimeoutError, so handlers written for SQLAlchemy's match.
    """


class TooManyConnectionsError(DatabaseUnavailableError):
    """The server refused a new connection: it has no slot left (SQLSTATE 53300 and kin)."""


class StatementTimeoutError(DatabaseError):
    """The server cancelled a statement that ran past `statement_timeout`; it was rolled back."""

    def __init__(self, message: str, *, timeout_ms: int | None = None) -> None:
        super().__init__(message)
        self.timeout_ms = timeout_ms


class NotFoundError(DatabaseError, LookupError):
    """No row matched the key a caller asked for."""


class ReadOnlyTransactionError(DatabaseError):
    """A read-only unit of work (`read_transaction()`, a read replica) tried to write."""

    def __init__(self, message: str = "cannot write in a read-only transaction") -> None:
        super().__init__(message)


class BroadcastError(DatabaseError):
    """Publishing or subscribing failed."""


class BroadcastMessageError(BroadcastError, ValueError):
    """A channel name or message that some backend cannot carry (too long, NUL, not text)."""


class BroadcastUnavailableError(BroadcastError):
    """The broadcaster's server could not be reached; the message was not sent."""


class _StatementFailure(DatabaseError, sa_exc.DBAPIError):
    """A statement the database (or the toolkit, for the same reason) refused.

    Also a DBAPIError, so handlers written for SQLAlchemy's errors still match. The
    message is the reason; bound values are never in it.
    """

    def __init__(
        self, reason: str, *, statement: str | None = None, orig: BaseException | None = None
    ) -> None:
        original = orig if orig is not None else Exception(reason)
        sa_exc.DBAPIError.__init__(self, statement, None, original, hide_parameters=True)
        self.reason = reason

    def __str__(self) -> str:
        return self.reason


class InvalidValueError(_StatementFailure, ValueError):
    """A value that does not fit: wrong Python type, out of the column's range, bad number text."""


class InvalidStatementError(_StatementFailure, sa_exc.ProgrammingError):
    """SQL the database cannot run: a syntax error, or a table, column or function it lacks.

    One class on both (SQLite says OperationalError, Postgres ProgrammingError); a bug
    in the statement, so no handler turns it into a client error.
    """


class LockNotAvailable(_StatementFailure, sa_exc.OperationalError):
    """A row or table lock was not granted in time (FOR UPDATE NOWAIT, lock_timeout, busy)."""


class TooManyParameters(_StatementFailure):
    """A statement binds more values than Postgres accepts (32,767): chunk the list."""


class TransactionAborted(_StatementFailure):
    """A statement ran after a failed one in the same transaction: roll back first."""


class IntegrityViolation(DatabaseError, sa_exc.IntegrityError):
    """A constraint refused the write; subclasses say which kind."""

    kind = "integrity"

    def __init__(
        self,
        original: sa_exc.IntegrityError,
        *,
        table: str | None = None,
        columns: tuple[str, ...] = (),
        constraint: str | None = None,
    ) -> None:
        sa_exc.IntegrityError.__init__(
            self,
            original.statement,
            None,
            original.orig or original,
            hide_parameters=True,
            connection_invalidated=original.connection_invalidated,
        )
        self.table = table
        self.columns = columns
        self.constraint = constraint

    def __str__(self) -> str:
        parts = [f"{self.kind} violation"]
        if self.constraint:
            parts.append(f"constraint {self.constraint!r}")
        if self.table:
            target = f"{self.table}({', '.join(self.columns)})" if self.columns else self.table
            parts.append(f"on {target}")
        elif self.columns:
            parts.append(f"on ({', '.join(self.columns)})")
        return " ".join(parts)


class UniqueViolation(IntegrityViolation):
    """A unique or primary-key constraint refused a duplicate."""

    kind = "unique"


class ForeignKeyViolation(IntegrityViolation):
    """A foreign key refused a missing parent or a delete of a referenced row."""

    kind = "foreign key"


class NotNullViolation(IntegrityViolation):
    """A NOT NULL column was given no value."""

    kind = "not null"


class CheckViolation(IntegrityViolation):
    """A CHECK constraint refused the row."""

    kind = "check"
