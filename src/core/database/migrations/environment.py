"""The body of Alembic's env.py: URL, engine, context options, offline and online mode.

The URL comes from ``alembic -x dburl=...``, else ``config.attributes["url"]``
(code), else ``DATABASE_URL``; ``alembic.ini`` holds none. A connection in
``config.attributes["connection"]`` (code, inside ``run_sync``) is used as is.
"""

from __future__ import annotations

import asyncio
import io
import logging
import sys
from collections.abc import Coroutine
from concurrent.futures import ThreadPoolExecutor
from logging.config import fileConfig
from typing import Any, TypeVar

from alembic import context
from alembic.config import Config
from alembic.script import ScriptDirectory
from alembic.util import CommandError
from sqlalchemy import MetaData
from sqlalchemy.engine import URL, Connection

from core.database.engine import create_engine
from core.database.errors import ConfigurationError
from core.database.migrations import checks  # noqa: F401 - registers the comparator
from core.database.migrations.errors import MultipleHeadsError, OfflineSQLError
from core.database.migrations.hooks import prepare_revision, render_item
from core.database.migrations.lock import take_migration_lock
from core.database.migrations.sqlite import foreign_keys_checked, foreign_keys_off
from core.database.settings import get_settings
from core.database.url import is_memory_sqlite, mask_url, parse_database_url

__all__ = ["URL_ARGUMENT", "context_options", "resolve_url", "run_blocking", "run_migrations"]

log = logging.getLogger(__name__)

# `alembic -x dburl=postgresql://... upgrade head`
URL_ARGUMENT = "dburl"
_T = TypeVar("_T")


def run_migrations(target_metadata: MetaData, *, config: Config | None = None) -> None:
    """Run the Alembic command in progress: offline (``--sql``) or online (async engine)."""
    config = config or context.config
    if config.config_file_name and config.attributes.get("configure_logger", True):
        # Code that calls alembic.command keeps its own logging (configure_logger=False).
        fileConfig(config.config_file_name, disable_existing_loggers=False)
    connection = config.attributes.get("connection")
    if connection is not None:
        _migrate(connection, target_metadata)
        return
    url = resolve_url(config)
    log.info("database %s", mask_url(url))
    if context.is_offline_mode():
        _migrate_offline(url, target_metadata)
        return
    if is_memory_sqlite(url):
        raise ConfigurationError(
            "an in-memory SQLite database lives in one connection and would vanish after "
            "the migration; use core.database.migrations.upgrade_engine(engine)"
        )
    run_blocking(_migrate_online(url, target_metadata))


def _run() -> None:
    """context.run_migrations(), naming several heads where Alembic would not."""
    # `check` and `revision --autogenerate` would only say "Target database is not up
    # to date". (`upgrade head` already says it clearly.)
    if "revision_context" in context.get_context().opts:
        heads = ScriptDirectory.from_config(context.config).get_heads()
        if len(heads) > 1:
            raise MultipleHeadsError(sorted(heads))
    context.run_migrations()


def resolve_url(config: Config) -> URL:
    """The database URL: ``-x dburl=``, else ``config.attributes["url"]``, else settings."""
    raw: str | URL | None = context.get_x_argument(as_dictionary=True).get(URL_ARGUMENT)
    if not raw:
        raw = config.attributes.get("url")
    if not raw:
        raw = get_settings().database_url.get_secret_value()
    return parse_database_url(raw)


def context_options(target_metadata: MetaData) -> dict[str, Any]:
    """The ``context.configure()`` options shared by online and offline mode."""
    return {
        "target_metadata": target_metadata,
        # Batch operations recreate tables on SQLite and emit plain ALTERs on Postgres,
        # so one migration file runs on both.
        "render_as_batch": True,
        "compare_type": True,
        "compare_server_default": True,
        "render_item": render_item,
        "process_revision_directives": prepare_revision,
        # The engine makes SQLite transactions real (explicit BEGIN), so its DDL is
        # transactional too: a failed migration leaves neither DDL nor version row.
        "transactional_ddl": True,
    }


def _migrate_offline(url: URL, target_metadata: MetaData) -> None:
    # Rendered into memory first: a revision that cannot be rendered must not leave a
    # truncated script behind (someone would run it).
    output = context.config.output_buffer or sys.stdout
    buffer = io.StringIO()
    context.configure(
        url=url,
        literal_binds=True,
        dialect_opts={"paramstyle": "named"},
        output_buffer=buffer,
        **context_options(target_metadata),
    )
    sqlite = url.get_backend_name() == "sqlite"
    if sqlite:
        # A script run by hand needs the same protection against cascading deletes.
        context.execute("PRAGMA foreign_keys=OFF")
    try:
        with context.begin_transaction():
            _run()
    except (CommandError, NotImplementedError) as exc:
        raise OfflineSQLError(
            f"offline mode (--sql) cannot render this history for {url.get_backend_name()}, "
            f"so no SQL was written: {exc}. On SQLite a batch operation that recreates a "
            "table needs the live database: run the upgrade against it instead"
        ) from exc
    if sqlite:
        context.execute("PRAGMA foreign_keys=ON")
    output.write(buffer.getvalue())


async def _migrate_online(url: URL, target_metadata: MetaData) -> None:
    settings = get_settings()
    # A migration may rewrite a big table: no statement timeout, and a name that
    # tells a DBA who holds the locks.
    settings = settings.model_copy(
        update={
            "database_statement_timeout_ms": 0,
            # The write lock up front: two migrations at once take turns (lock.py).
            "database_sqlite_begin": "immediate",
            "database_application_name": f"{settings.database_application_name} migrations",
        }
    )
    engine = create_engine(url, settings=settings)
    try:
        async with engine.connect() as connection:
            await connection.run_sync(_migrate, target_metadata)
    finally:
        # aiosqlite's worker thread would keep the process alive otherwise.
        await engine.dispose()


def _migrate(connection: Connection, target_metadata: MetaData) -> None:
    if connection.dialect.name != "sqlite":
        context.configure(connection=connection, **context_options(target_metadata))
        with context.begin_transaction():
            # Two deploys at once: the second waits here, then finds nothing to do.
            take_migration_lock(connection)
            _run()
        return
    applied: list[object] = []
    with foreign_keys_off(connection):
        # Configured only now: a transaction open at configure() time counts as the
        # caller's, and Alembic would never commit it (version row lost).
        context.configure(
            connection=connection,
            on_version_apply=lambda **kw: applied.append(kw["step"]),
            **context_options(target_metadata),
        )
        with context.begin_transaction():
            _run()
            if applied:
                # Inside the transaction: a violation rolls the whole upgrade back.
                foreign_keys_checked(connection)


def run_blocking(coroutine: Coroutine[Any, Any, _T]) -> _T:
    """Run `coroutine` to completion from sync code, also when called under a running loop."""
    try:
        asyncio.get_running_loop()
    except RuntimeError:
        return asyncio.run(coroutine)
    # Called from async code (a lifespan, an async test): a private loop in a worker
    # thread, since this loop cannot be re-entered.
    with ThreadPoolExecutor(max_workers=1, thread_name_prefix="migrations") as pool:
        return pool.submit(asyncio.run, coroutine).result()
