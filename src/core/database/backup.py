"""Dump and restore a whole database: pg_dump/pg_restore (custom format) or SQLite's backup API."""

from __future__ import annotations

import os
import shutil
import sqlite3
import subprocess
from pathlib import Path

from sqlalchemy.engine import URL

from core.database.errors import ConfigurationError
from core.database.url import is_memory_sqlite, mask_url

__all__ = ["dump", "restore"]


def dump(url: URL, target: Path) -> Path:
    """Write a consistent copy of the database at `url` to `target` (blocking)."""
    if url.get_backend_name() == "sqlite":
        _sqlite_copy(_sqlite_path(url), target)
    else:
        _run_pg("pg_dump", url, "--format=custom", "--no-owner", f"--file={target}")
    return target


def restore(url: URL, source: Path) -> None:
    """Replace the contents of the database at `url` with the dump in `source` (blocking)."""
    if not source.exists():
        raise ConfigurationError(f"no dump file at {source}")
    if url.get_backend_name() == "sqlite":
        _sqlite_copy(source, _sqlite_path(url))
    else:
        _run_pg("pg_restore", url, "--clean", "--if-exists", "--no-owner", str(source))


def _sqlite_path(url: URL) -> Path:
    if is_memory_sqlite(url):
        raise ConfigurationError("an in-memory SQLite database cannot be dumped or restored")
    return Path(url.database or "")


def _sqlite_copy(source: Path, target: Path) -> None:
    # The online backup API copies a live database page by page, consistently,
    # even while the app keeps writing to it (WAL included).
    src = sqlite3.connect(f"file:{source}?mode=ro", uri=True)
    dst = sqlite3.connect(target)
    try:
        src.backup(dst)
    finally:
        dst.close()
        src.close()


def _run_pg(program: str, url: URL, *args: str) -> None:
    executable = _find_pg_program(program)
    # The password travels in the environment, never on a command line others can read.
    env = {**os.environ, "PGPASSWORD": url.password or ""}
    libpq = url.set(drivername="postgresql", password=None)
    dsn = libpq.render_as_string(hide_password=False)
    process = subprocess.run(
        [executable, f"--dbname={dsn}", *args], env=env, capture_output=True, check=False
    )
    if process.returncode != 0:
        message = (
            process.stderr.decode(errors="replace").strip().replace(url.password or "\0", "***")
        )
        raise RuntimeError(f"{program} failed for {mask_url(url)}: {message}")


def _find_pg_program(program: str) -> str:
    found = shutil.which(program)
    if found:
        return found
    candidates = sorted(
        Path("/usr/lib/postgresql").glob(f"*/bin/{program}"),
        key=lambda path: int(path.parts[-3]) if path.parts[-3].isdigit() else 0,
    )
    if not candidates:
        raise ConfigurationError(
            f"{program} was not found: install the PostgreSQL client tools (e.g. postgresql-client)"
        )
    return str(candidates[-1])
