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
    _wrap_statements(dialect, hook, after=False)


def after_statements(dialect: Dialect, hook: StatementHook) -> None:
    """Call `hook` after each statement the driver ran without an error."""
    _wrap_statements(dialect, hook, after=True)


def _wrap_statements(dialect: Dialect, hook: StatementHook, *, after: bool) -> None:
    def wrapped(call: Callable[..., None], many: bool) -> Callable[..., None]:
        def run(cursor: Any, statement: str, parameters: Any, context: Any = None) -> None:
            if not after:
                hook(cursor, statement, parameters, many, context)
            call(cursor, statement, parameters, context)
            if after:
                hook(cursor, statement, parameters, many, context)

        return run

    # A statement without parameters goes through the same wrapper, its parameters None.
    no_params = dialect.do_execute_no_params
    run_no_params = wrapped(
        lambda cursor, statement, _none, context: no_params(cursor, statement, context), False
    )

    def do_execute_no_params(cursor: Any, statement: str, context: Any = None) -> None:
        run_no_params(cursor, statement, None, context)

    # Instance attributes: this engine's dialect only (create_engine makes one per engine).
    dialect.do_execute = wrapped(dialect.do_execute, False)  # type: ignore[method-assign]
    dialect.do_executemany = wrapped(dialect.do_executemany, True)  # type: ignore[method-assign]
    dialect.do_execute_no_params = do_execute_no_params  # type: ignore[method-assign]


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
