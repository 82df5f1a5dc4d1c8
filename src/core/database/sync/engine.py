"""Build the sync Engine: the same URL, settings and rules as the async one, sync drivers.

SQLite runs on the standard library's sqlite3, Postgres on psycopg 3. Everything
else (pool sizing, pragmas, transaction turns, timeouts, error translation, the
liveness check) comes from core.database.engine, written once for both faces.
"""

from __future__ import annotations

import importlib.util
from typing import Any

from sqlalchemy import create_engine as create_sqlalchemy_engine
from sqlalchemy.engine import URL, Engine

from core.database.engine import EngineFace, engine_arguments, install_rules
from core.database.errors import ConfigurationError
from core.database.pool import FairQueuePool, FairThreadQueue
from core.database.postgres_options import psycopg_connect_args
from core.database.settings import Settings, get_settings
from core.database.url import mask_url, sync_database_url

__all__ = ["SYNC_FACE", "create_sync_engine"]


def _sqlite3_begin(driver_connection: Any, sql: str) -> None:
    driver_connection.execute(sql)


def _sqlite3_script(driver_connection: Any, sql: str) -> None:
    driver_connection.executescript(sql)


SYNC_FACE = EngineFace(
    poolclass=FairQueuePool,
    turn_queue=lambda: FairThreadQueue(maxsize=1),
    postgres_connect_args=psycopg_connect_args,
    send_begin=_sqlite3_begin,
    send_script=_sqlite3_script,
    # The pool hands a connection to whichever thread asks; sqlite3 would refuse that.
    sqlite_connect_args={"check_same_thread": False},
)


def create_sync_engine(
    url: str | URL | None = None,
    *,
    settings: Settings | None = None,
    **engine_options: Any,
) -> Engine:
    """A sync Engine for `url` (default: settings.database_url); no connection is made yet.

    `url` is written as for the async face (`sqlite+aiosqlite://`, `postgres://`, ...);
    `engine_options` override the computed create_engine() arguments.
    """
    settings = settings or get_settings()
    raw = url if url is not None else settings.database_url.get_secret_value()
    parsed = sync_database_url(raw)
    if parsed.get_backend_name() == "postgresql" and importlib.util.find_spec("psycopg") is None:
        raise ConfigurationError(
            "the sync face needs psycopg for Postgres: pip install 'core-database[sync]'"
        )
    shown = mask_url(parsed)
    parsed, options = engine_arguments(parsed, settings, SYNC_FACE, engine_options)
    engine = create_sqlalchemy_engine(parsed, **options)
    install_rules(engine, parsed, settings, SYNC_FACE, options, shown)
    return engine
