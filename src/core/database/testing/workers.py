"""pytest-xdist: each worker process gets a database of its own.

Workers run their tests at the same time, and each one creates and drops the schema;
sharing one database they would drop each other's tables mid-test. So under ``-n``:

- Postgres: worker ``gw0`` uses ``<database>_gw0``, created on the same server (from
  ``template0``, so nothing the base database holds leaks in) and dropped at the end;
- a SQLite file: ``<stem>_gw0<suffix>`` beside it, deleted at the end;
- in-memory SQLite is private to its process already and stays as it is.

The worker's name keeps the base name as its prefix, so "test" stays a word of it
and the guard's naming rule still holds.
"""

from __future__ import annotations

import asyncio
import os
import threading
from collections.abc import Coroutine, Iterator
from contextlib import contextmanager
from pathlib import Path
from typing import Any, TypeVar

from sqlalchemy.engine import URL
from sqlalchemy.exc import SQLAlchemyError

from core.database.engine import create_engine
from core.database.errors import DatabaseError, DatabaseUnavailableError
from core.database.sqlite_file_lock import turn_file_for
from core.database.url import is_memory_sqlite, mask_url, parse_database_url

__all__ = ["WORKER_ENV", "worker_database", "worker_name", "worker_url"]

WORKER_ENV = "PYTEST_XDIST_WORKER"
_T = TypeVar("_T")


def worker_name() -> str | None:
    """The pytest-xdist worker this process is (``gw0``, ...), or None outside ``-n``."""
    return os.environ.get(WORKER_ENV) or None


def worker_url(url: URL, worker: str) -> URL:
    """``url`` with the database renamed for ``worker``; in-memory SQLite unchanged."""
    if is_memory_sqlite(url):
        return url
    database = url.database or ""
    if url.get_backend_name() == "sqlite":
        path = Path(database)
        return url.set(database=str(path.with_name(f"{path.stem}_{worker}{path.suffix}")))
    return url.set(database=f"{database}_{worker}")


@contextmanager
def worker_database(url: str, worker: str | None = None) -> Iterator[str]:
    """Yield the URL this process tests against, creating (and afterwards dropping) its database.

    Outside pytest-xdist (``worker`` None and no ``PYTEST_XDIST_WORKER``), ``url`` as given.
    """
    worker = worker or worker_name()
    base = parse_database_url(url)
    if worker is None or is_memory_sqlite(base):
        yield url
        return
    own = worker_url(base, worker)
    if own.get_backend_name() == "sqlite":
        try:
            yield own.render_as_string(hide_password=False)
        finally:
            _remove_sqlite_files(Path(own.database or ""))
        return
    _run_in_thread(_recreate(base, own))
    try:
        yield own.render_as_string(hide_password=False)
    finally:
        _run_in_thread(_drop(base, own))


async def _recreate(base: URL, own: URL) -> None:
    # Through the base database: the server needs a database to connect to first.
    admin = create_engine(base, isolation_level="AUTOCOMMIT")
    name = admin.dialect.identifier_preparer.quote(own.database or "")
    try:
        async with admin.connect() as connection:
            # A database left by an interrupted run of this worker goes first.
            await connection.exec_driver_sql(f"DROP DATABASE IF EXISTS {name} WITH (FORCE)")
            await connection.exec_driver_sql(f"CREATE DATABASE {name} TEMPLATE template0")
    except DatabaseUnavailableError:
        raise  # the server itself: nothing worker-specific to add
    except (DatabaseError, SQLAlchemyError) as exc:
        raise DatabaseError(
            f"pytest-xdist: cannot create the worker database {mask_url(own)} ({exc}); the test"
            " user needs the CREATEDB privilege, or run without -n"
        ) from None
    finally:
        await admin.dispose()


async def _drop(base: URL, own: URL) -> None:
    admin = create_engine(base, isolation_level="AUTOCOMMIT")
    name = admin.dialect.identifier_preparer.quote(own.database or "")
    try:
        async with admin.connect() as connection:
            await connection.exec_driver_sql(f"DROP DATABASE IF EXISTS {name} WITH (FORCE)")
    finally:
        await admin.dispose()


def _remove_sqlite_files(path: Path) -> None:
    for suffix in ("", "-wal", "-shm", "-journal"):
        path.with_name(path.name + suffix).unlink(missing_ok=True)
    turn_file_for(str(path)).unlink(missing_ok=True)  # the toolkit's cross-process lock


def _run_in_thread(coroutine: Coroutine[Any, Any, _T]) -> _T:
    """Run ``coroutine`` to the end in a loop of its own, off the test session's loop.

    The session's loop belongs to pytest-asyncio; a fresh loop in another thread leaves
    it (and the thread's current-loop setting) untouched.
    """
    outcome: dict[str, Any] = {}

    def target() -> None:
        try:
            outcome["result"] = asyncio.run(coroutine)
        except BaseException as exc:  # handed to the caller's thread
            outcome["error"] = exc

    thread = threading.Thread(target=target, name="core-database-worker-db")
    thread.start()
    thread.join()
    if "error" in outcome:
        raise outcome["error"]
    result: _T = outcome["result"]
    return result
