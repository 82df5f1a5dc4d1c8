"""Build an AsyncEngine from a URL and settings, tuned per dialect (see docs/parity.md).

The rules (pool, pragmas, transaction turns, timeouts, error translation) are written
once, for any `EngineFace`: the async engine here, the sync one in core.database.sync.
"""

from __future__ import annotations

import sqlite3
from collections.abc import Callable, Mapping
from contextlib import suppress
from dataclasses import dataclass
from typing import Any

from sqlalchemy import event
from sqlalchemy.engine import URL, Engine
from sqlalchemy.ext.asyncio import AsyncEngine, create_async_engine
from sqlalchemy.pool import Pool
from sqlalchemy.sql.compiler import InsertmanyvaluesSentinelOpts
from sqlalchemy.util import await_only, get_cls_kwargs
from sqlalchemy.util.queue import QueueCommon

from core.database.aborted import install_abort_tracking
from core.database.aiosqlite_connect import connect_aiosqlite
from core.database.dialect_hooks import before_statements, pooled_info
from core.database.driver_errors import (
    connect_or_unavailable,
    refuse_too_many_parameters,
    translate_error,
)
from core.database.fork_safety import fresh_pool_after_fork
from core.database.functions.sqlite_udfs import register_sqlite_functions
from core.database.pool import (
    DisposeHooks,
    FairAsyncQueue,
    FairAsyncQueuePool,
    NamedPoolTimeouts,
    ping_when_idle,
)
from core.database.postgres_options import postgres_connect_args
from core.database.reconnect import reconnect_on_first_statement
from core.database.sequences import install_sequence_sync
from core.database.server_cancel import cancel_queries_on_terminate
from core.database.settings import Settings, get_settings
from core.database.sqlite_adapters import register_sqlite_adapters
from core.database.sqlite_file_lock import ProcessTurn, turn_file_for
from core.database.sqlite_interrupt import interrupt_on_cancel
from core.database.sqlite_one_trip import (
    defer_begin,
    end_in_one_trip,
    forget_ended,
    forget_pending_begin,
    note_ended,
    nothing_open,
    run_statements_in_one_trip,
)
from core.database.sqlite_turns import TransactionTurns
from core.database.url import is_memory_sqlite, mask_url, parse_database_url

__all__ = [
    "ASYNC_FACE",
    "EngineFace",
    "create_engine",
    "engine_arguments",
    "install_rules",
    "read_only_engine",
]

# Marks a connection whose transaction is read-only (read_only_engine) until it ends.
_READ_ONLY_ACTIVE = "core.database.read_only"
_WRITABLE = "PRAGMA query_only=OFF"

# create_async_engine() option -> the pool class's own parameter.
_POOL_SIZING = {"pool_size": "pool_size", "max_overflow": "max_overflow", "pool_timeout": "timeout"}


@dataclass(frozen=True)
class EngineFace:
    """What differs between the async engine and the sync one; every other rule is shared."""

    # A first-come, first-served queue pool for tasks or for threads.
    poolclass: type[Pool]
    # The turn queue of SQLite transactions (FairAsyncQueue or FairThreadQueue).
    turn_queue: Callable[[], QueueCommon[object]]
    # (url, settings, the caller's connect_args) -> (url, connect_args) for the Postgres driver.
    postgres_connect_args: Callable[
        [URL, Settings, Mapping[str, Any] | None], tuple[URL, dict[str, Any]]
    ]
    # Send "BEGIN IMMEDIATE" (one statement), or a script, straight to the SQLite driver.
    send_begin: Callable[[Any, str], None]
    send_script: Callable[[Any, str], None]
    sqlite_connect_args: Mapping[str, Any]
    # aiosqlite: each statement in one trip to the driver's thread (sqlite_one_trip.py).
    one_trip_statements: bool = False


ASYNC_FACE = EngineFace(
    poolclass=FairAsyncQueuePool,
    turn_queue=lambda: FairAsyncQueue(maxsize=1),
    postgres_connect_args=postgres_connect_args,
    # The BEGIN rides with the transaction's first statement: no trip of its own.
    send_begin=defer_begin,
    send_script=defer_begin,
    sqlite_connect_args={"async_creator_fn": connect_aiosqlite},
    one_trip_statements=True,
)


def create_engine(
    url: str | URL | None = None,
    *,
    settings: Settings | None = None,
    **engine_options: Any,
) -> AsyncEngine:
    """An AsyncEngine for `url` (default: settings.database_url); no connection is made yet.

    `engine_options` override the computed create_async_engine() arguments.
    """
    settings = settings or get_settings()
    raw = url if url is not None else settings.database_url.get_secret_value()
    parsed = parse_database_url(raw)
    shown = mask_url(parsed)  # as configured: the dialect options below edit the query
    parsed, options = engine_arguments(parsed, settings, ASYNC_FACE, engine_options)
    engine = create_async_engine(parsed, **options)
    install_rules(engine.sync_engine, parsed, settings, ASYNC_FACE, options, shown)
    reconnect_on_first_statement(engine)
    if parsed.get_backend_name() == "postgresql":
        cancel_queries_on_terminate(engine)
    else:
        interrupt_on_cancel(engine.sync_engine)
    return engine


def engine_arguments(
    url: URL, settings: Settings, face: EngineFace, overrides: Mapping[str, Any]
) -> tuple[URL, dict[str, Any]]:
    """The URL and create_(async_)engine() options for `url`; `overrides` win.

    Their `connect_args` join the computed ones rather than replace them: an SSL
    context or a driver flag must not cost the busy timeout, the session's UTC or
    its statement timeout.
    """
    overrides = dict(overrides)
    given = overrides.pop("connect_args", None)
    if url.get_backend_name() == "sqlite":
        url, options = _sqlite_options(url, settings, face)
        if given is not None:
            options["connect_args"] = {**options.get("connect_args", {}), **given}
    else:
        url, options = _postgres_options(url, settings, face, given)
    options.update(
        echo=settings.database_echo,
        # Bound values (tokens, emails, secrets) never reach logs or error messages.
        hide_parameters=True,
    )
    if "poolclass" in overrides:
        _fit_pool_sizing(options, overrides["poolclass"])
    options.update(overrides)
    return url, options


def install_rules(
    engine: Engine,
    url: URL,
    settings: Settings,
    face: EngineFace,
    options: Mapping[str, Any],
    masked_url: str,
) -> None:
    """Error translation, connect failures, SQLite pragmas and turns, the liveness check."""
    if isinstance(engine.pool, NamedPoolTimeouts):
        engine.pool.masked_url = masked_url  # named in PoolTimeoutError
    if not is_memory_sqlite(url):
        # An in-memory database lives in its connection: a child keeps its own copy.
        fresh_pool_after_fork(engine)
    # Dialect events and hooks only, no connection events: see dialect_hooks.py.
    event.listen(engine, "handle_error", translate_error)
    event.listen(engine, "do_connect", connect_or_unavailable(masked_url, url))
    if url.get_backend_name() == "sqlite":
        # First: they replace the driver calls (one trip, BEGIN, COMMIT, ROLLBACK) that
        # the rules below wrap.
        _install_sqlite_hooks(engine, url, settings, face)
    elif not options.get("pool_pre_ping"):  # an explicit pool_pre_ping=True pings every time
        ping_when_idle(engine, timeout=settings.database_connect_timeout)
    before_statements(engine.dialect, refuse_too_many_parameters)
    install_sequence_sync(engine)
    # Outermost, so its COMMIT check runs first: an aborted transaction never reaches
    # the SQLite hooks' deferred COMMIT.
    install_abort_tracking(engine)


def read_only_engine(engine: AsyncEngine) -> AsyncEngine:
    """`engine`'s connections, with every transaction read-only.

    Postgres: BEGIN ISOLATION LEVEL REPEATABLE READ, READ ONLY — one snapshot for the
    whole unit, as a SQLite read transaction has, at no cost for a reader. SQLite: the
    begin hook below opens a DEFERRED transaction outside the write turn, with
    `PRAGMA query_only` on until it ends, so readers run side by side in WAL.
    """
    if engine.dialect.name == "postgresql":
        return engine.execution_options(postgresql_readonly=True, isolation_level="REPEATABLE READ")
    readers = engine.execution_options()
    # A listener on this option engine alone: the engine's other units keep the fast path.
    event.listen(readers.sync_engine, "begin", _begin_read_only)
    return readers


def _begin_read_only(connection: Any) -> None:
    # Runs just before the dialect's do_begin, which sees the mark (_install_sqlite_hooks).
    connection.connection.record_info[_READ_ONLY_ACTIVE] = True


def _fit_pool_sizing(options: dict[str, Any], poolclass: type[Pool]) -> None:
    # The computed sizing fits a queue pool: create_async_engine() refuses arguments a
    # caller's pool class does not take (NullPool and StaticPool take none of them).
    accepted = get_cls_kwargs(poolclass)  # as create_async_engine() reads them
    for option, parameter in _POOL_SIZING.items():
        if parameter not in accepted:
            options.pop(option, None)


def _sqlite_options(url: URL, settings: Settings, face: EngineFace) -> tuple[URL, dict[str, Any]]:
    if is_memory_sqlite(url):
        # The database lives in its one connection: keep it in a pool of one, never
        # recycled, so sessions take turns instead of sharing an open transaction.
        options: dict[str, Any] = {
            "poolclass": face.poolclass,
            "pool_size": 1,
            "max_overflow": 0,
            "pool_recycle": -1,
            "pool_timeout": settings.database_pool_timeout,
        }
        if face.sqlite_connect_args:
            options["connect_args"] = dict(face.sqlite_connect_args)
        return url, options
    return url, {
        "poolclass": face.poolclass,
        "pool_size": settings.database_pool_size,
        "max_overflow": settings.database_max_overflow,
        "pool_timeout": settings.database_pool_timeout,
        # sqlite3 sets SQLite's busy timeout from this, before the pragmas below run.
        "connect_args": {
            "timeout": _seconds(settings.database_sqlite_busy_timeout_ms),
            **face.sqlite_connect_args,
        },
    }


def _seconds(milliseconds: int) -> float:
    # sqlite3 passes int(timeout * 1000) on, and 1.001 * 1000 is 1000.99...: half a
    # millisecond more keeps every whole number of milliseconds exact.
    return (milliseconds + 0.5) / 1000


def _postgres_options(
    url: URL, settings: Settings, face: EngineFace, given: Mapping[str, Any] | None
) -> tuple[URL, dict[str, Any]]:
    url, connect_args = face.postgres_connect_args(url, settings, given)
    return url, {
        # First come, first served under contention: no multi-second tail (see pool.py).
        "poolclass": face.poolclass,
        "pool_size": settings.database_pool_size,
        "max_overflow": settings.database_max_overflow,
        "pool_timeout": settings.database_pool_timeout,
        "pool_recycle": settings.database_pool_recycle,
        # Liveness is checked by ping_when_idle(): pre-ping would cost 3 round trips per checkout.
        "pool_pre_ping": False,
        "connect_args": connect_args,
    }


def _install_sqlite_hooks(engine: Engine, url: URL, settings: Settings, face: EngineFace) -> None:
    register_sqlite_adapters()  # raw Decimal and UUID parameters, as on Postgres
    begin = f"BEGIN {settings.database_sqlite_begin.upper()}"
    # case_sensitive_like: LIKE matches case as on Postgres (ilike() folds case on both).
    pragmas = ["PRAGMA foreign_keys=ON", "PRAGMA case_sensitive_like=ON"]
    if not is_memory_sqlite(url):
        pragmas += [
            "PRAGMA journal_mode=WAL",
            "PRAGMA synchronous=NORMAL",
        ]

    # SQLite gives a multi-row INSERT ascending rowids in VALUES order, so the ORM may
    # batch inserts and match RETURNING ids by sorting them (as SQLAlchemy does for
    # MariaDB); without this, add_all() sends one INSERT per row.
    engine.dialect.insertmanyvalues_implicit_sentinel = InsertmanyvaluesSentinelOpts.AUTOINCREMENT
    if face.one_trip_statements:
        run_statements_in_one_trip(engine.dialect)
        event.listen(engine, "checkout", lambda _d, _r, proxy: forget_ended(proxy))

    @event.listens_for(engine, "connect")
    def _on_connect(dbapi_connection: Any, _record: Any) -> None:
        # Autocommit at the driver level: pysqlite's legacy mode would not emit BEGIN
        # before SELECT, DDL or SAVEPOINT, so savepoints would not roll back.
        dbapi_connection.isolation_level = None
        # The portable SQL functions (core.database.functions), in the driver's own thread.
        if isinstance(dbapi_connection, sqlite3.Connection):  # the sync face
            register_sqlite_functions(dbapi_connection)
        else:
            driver = dbapi_connection.driver_connection
            await_only(driver._execute(lambda: register_sqlite_functions(driver._conn)))
        cursor = dbapi_connection.cursor()
        try:
            for pragma in pragmas:
                cursor.execute(pragma)
        finally:
            cursor.close()

    turns: TransactionTurns | None = None
    if not is_memory_sqlite(url) and settings.database_sqlite_begin != "deferred":
        # Each transaction takes the write lock: queue for it here, not in the busy
        # handler, and between processes on the lock file beside the database.
        timeout = settings.database_sqlite_busy_timeout_ms / 1000
        process_turn = ProcessTurn(turn_file_for(str(url.database)), timeout)
        turns = TransactionTurns(engine, timeout, face.turn_queue(), process_turn)
        if isinstance(engine.pool, DisposeHooks):
            engine.pool.on_dispose += (process_turn.close,)
    _end_transactions_in_the_driver(engine.dialect, turns, face.one_trip_statements)

    default_begin = engine.dialect.do_begin

    def do_begin(pooled_connection: Any) -> None:
        # What fails here is handled as a failed statement: translated, and a closed
        # connection invalidated.
        default_begin(pooled_connection)
        if pooled_info(pooled_connection) is None:
            return  # the dialect's first look at the database, in autocommit as before
        driver = pooled_connection.driver_connection
        if pooled_connection.record_info.get(_READ_ONLY_ACTIVE):
            # A reader (read_only_engine): no write turn; query_only refuses writes until it ends.
            face.send_script(driver, "PRAGMA query_only=ON; BEGIN DEFERRED")
            return
        if turns is not None:
            turns.take(pooled_connection)
        try:
            face.send_begin(driver, begin)
        except BaseException:
            if turns is not None:
                turns.give_back(pooled_connection.record_info)
            raise

    engine.dialect.do_begin = do_begin  # type: ignore[method-assign,assignment]


def _end_transactions_in_the_driver(
    dialect: Any, turns: TransactionTurns | None, begin_deferred: bool
) -> None:
    # A COMMIT that SQLite refuses (a deferred foreign key, say) leaves the transaction
    # open, while SQLAlchemy counts it as ended and returns the connection to the pool
    # without a rollback: the next BEGIN there fails, and its locks stay held. Postgres
    # ends the transaction itself; here the toolkit does. The turn passes on only once
    # the driver call has returned: the write lock is free by then.
    commit, rollback = dialect.do_commit, dialect.do_rollback

    def do_commit(dbapi_connection: Any) -> None:
        record_info = dbapi_connection.record_info  # None once detached from the pool
        reader = _read_only_ends(record_info)
        never_began = begin_deferred and forget_pending_begin(dbapi_connection)
        writable = not reader or never_began  # query_only was never turned on
        try:
            if never_began:
                pass
            elif begin_deferred:
                end_in_one_trip(dbapi_connection, "commit", None if writable else _WRITABLE)
                writable = True
            else:
                commit(dbapi_connection)
        except BaseException:
            with suppress(Exception):
                dbapi_connection.rollback()
            raise
        finally:
            if not writable:
                _writable_again(dbapi_connection)
            if turns is not None:
                turns.give_back(record_info)
        if begin_deferred:
            note_ended(dbapi_connection)

    def do_rollback(dbapi_connection: Any) -> None:
        record_info = dbapi_connection.record_info
        reader = _read_only_ends(record_info)
        never_began = begin_deferred and forget_pending_begin(dbapi_connection)
        writable = not reader or never_began
        try:
            if never_began or (begin_deferred and nothing_open(dbapi_connection)):
                return  # nothing began, or it has ended already (the pool's reset)
            if begin_deferred:
                end_in_one_trip(dbapi_connection, "rollback", None if writable else _WRITABLE)
                writable = True
                note_ended(dbapi_connection)
            else:
                rollback(dbapi_connection)
        finally:
            if not writable:
                _writable_again(dbapi_connection)
            if turns is not None:
                turns.give_back(record_info)

    dialect.do_commit = do_commit
    dialect.do_rollback = do_rollback


def _read_only_ends(record_info: dict[str, Any] | None) -> bool:
    """True if the transaction ending on this connection was read-only (query_only on)."""
    return record_info is not None and bool(record_info.pop(_READ_ONLY_ACTIVE, False))


def _writable_again(pooled_connection: Any) -> None:
    """After a read-only transaction, let the connection write again (query_only off)."""
    cursor = pooled_connection.cursor()
    try:
        cursor.execute(_WRITABLE)
    finally:
        cursor.close()
