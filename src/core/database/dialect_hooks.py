"""The toolkit's per-statement and per-transaction rules, run inside the dialect's own calls.

An engine with any connection-event listener (`before_cursor_execute`, `begin`,
`commit`, ...) takes SQLAlchemy's slower path for every statement and transaction:
each event is dispatched through a dispatcher joined per Connection, which cost a
one-row unit of work about 25 µs (12% on SQLite), measured with a listener that did
nothing. So the toolkit installs none: its rules wrap the dialect's `do_execute`,
`do_executemany`, `do_execute_no_params` (here) and `do_begin`, `do_commit`,
`do_rollback` (aborted.py, engine.py), which SQLAlchemy calls anyway, inside the same
error handling as the statement. An engine keeps the fast path until its user adds
a listener of their own.
"""

from __future__ import annotations

from collections.abc import Callable
from typing import Any

from sqlalchemy.engine import Dialect

__all__ = ["StatementHook", "after_statements", "before_statements", "pooled_info"]

# (cursor, statement, parameters or None, executemany, execution context or None)
StatementHook = Callable[[Any, str, Any, bool, Any], None]


def before_statements(dialect: Dialect, hook: StatementHook) -> None:
    """Call `hook` before each statement reaches the driver; what it raises fails the statement."""
    execute, executemany, no_params = (
        dialect.do_execute,
        dialect.do_executemany,
        dialect.do_execute_no_params,
    )

    def do_execute(cursor: Any, statement: str, parameters: Any, context: Any = None) -> None:
        hook(cursor, statement, parameters, False, context)
        execute(cursor, statement, parameters, context)

    def do_executemany(cursor: Any, statement: str, parameters: Any, context: Any = None) -> None:
        hook(cursor, statement, parameters, True, context)
        executemany(cursor, statement, parameters, context)

    def do_execute_no_params(cursor: Any, statement: str, context: Any = None) -> None:
        hook(cursor, statement, None, False, context)
        no_params(cursor, statement, context)

    _install(dialect, do_execute, do_executemany, do_execute_no_params)


def after_statements(dialect: Dialect, hook: StatementHook) -> None:
    """Call `hook` after each statement the driver ran without an error."""
    execute, executemany, no_params = (
        dialect.do_execute,
        dialect.do_executemany,
        dialect.do_execute_no_params,
    )

    def do_execute(cursor: Any, statement: str, parameters: Any, context: Any = None) -> None:
        execute(cursor, statement, parameters, context)
        hook(cursor, statement, parameters, False, context)

    def do_executemany(cursor: Any, statement: str, parameters: Any, context: Any = None) -> None:
        executemany(cursor, statement, parameters, context)
        hook(cursor, statement, parameters, True, context)

    def do_execute_no_params(cursor: Any, statement: str, context: Any = None) -> None:
        no_params(cursor, statement, context)
        hook(cursor, statement, None, False, context)

    _install(dialect, do_execute, do_executemany, do_execute_no_params)


def _install(
    dialect: Dialect,
    execute: Callable[..., None],
    executemany: Callable[..., None],
    no_params: Callable[..., None],
) -> None:
    # Instance attributes: this engine's dialect only (create_engine makes one per engine).
    dialect.do_execute = execute  # type: ignore[method-assign]
    dialect.do_executemany = executemany  # type: ignore[method-assign]
    dialect.do_execute_no_params = no_params  # type: ignore[method-assign]


def pooled_info(pooled_connection: Any) -> dict[str, Any] | None:
    """The `.info` of the connection a dialect hook was given; None at the first connect.

    SQLAlchemy initialises the dialect on a bare proxy of the first connection, with no
    `.info` (nor a pool entry's transaction): the toolkit's rules leave it alone.
    """
    try:
        info: dict[str, Any] = pooled_connection.info
    except NotImplementedError:
        return None
    return info
