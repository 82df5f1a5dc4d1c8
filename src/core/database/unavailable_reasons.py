"""Why a database could not be reached, in words an operator can act on; never a password.

authentication failed for user "app"          wrong password, or no such role
database "shop" does not exist
connection refused at db.internal:5432        nothing listens there
host "db.internal" not found                  DNS
timed out connecting to db.internal:5432      a firewall, or a server too busy to answer
cannot open SQLite database ./data/app.db: unable to open database file
"""

from __future__ import annotations

import errno
import re
import socket
from typing import Any

from sqlalchemy.engine import URL

__all__ = ["unavailable_reason"]

_POSTGRES_PORT = 5432


def unavailable_reason(cause: BaseException | None, url: URL | None) -> str:
    """A one-line reason for `cause`, the driver's error, when connecting to `url` failed."""
    if url is not None and url.get_backend_name() == "sqlite":
        return f"cannot open SQLite database {url.database or ':memory:'}: {_first_line(cause)}"
    where = _address(url)
    state, detail = _server_answer(cause)
    if state in ("28P01", "28000"):
        user = url.username if url is not None and url.username else "?"
        if state == "28P01":
            return f'authentication failed for user "{user}"'
        return f'authentication refused for user "{user}": {detail}'
    if state == "3D000":
        name = url.database if url is not None and url.database else "?"
        return f'database "{name}" does not exist'
    if state:
        return f"server refused the connection at {where}: {detail} [{state}]"
    if detail:
        return f"server refused the connection at {where}: {detail}"
    if isinstance(cause, socket.gaierror) or _libpq_says(cause, "failed to resolve host"):
        host = url.host if url is not None and url.host else "?"
        return f'host "{host}" not found'
    if isinstance(cause, TimeoutError) or _libpq_says(cause, "timeout expired"):
        return f"timed out connecting to {where}"
    if (
        isinstance(cause, ConnectionRefusedError)
        or _errno(cause) == errno.ECONNREFUSED
        or _libpq_says(cause, "Connection refused")
    ):
        return f"connection refused at {where}"
    if isinstance(cause, OSError):
        return f"cannot connect to {where}: {cause.strerror or type(cause).__name__}"
    return f"cannot connect to {where}: {type(cause).__name__}"


# libpq (psycopg, the sync face) reports a refused login in words, without a SQLSTATE.
_FATAL = re.compile(r"FATAL:\s+(.*)")
_LIBPQ_STATES = (
    (re.compile(r"password authentication failed"), "28P01"),
    (re.compile(r'role "[^"]*" does not exist|no pg_hba\.conf entry'), "28000"),
    (re.compile(r'database "[^"]*" does not exist'), "3D000"),
)


def _server_answer(cause: BaseException | None) -> tuple[str, str]:
    """(SQLSTATE, the server's words) if the server refused the login; else ("", "")."""
    state = str(getattr(cause, "sqlstate", "") or "")
    if state:
        return state, _first_line(cause)
    fatal = _FATAL.search(str(cause)) if _is_libpq(cause) else None
    if fatal is None:
        return "", ""
    words = fatal.group(1).strip()
    for pattern, libpq_state in _LIBPQ_STATES:
        if pattern.search(words):
            return libpq_state, words
    return "", words


def _is_libpq(cause: BaseException | None) -> bool:
    return type(cause).__module__.startswith("psycopg")


def _libpq_says(cause: BaseException | None, words: str) -> bool:
    return _is_libpq(cause) and words in str(cause)


def _address(url: URL | None) -> str:
    if url is None:
        return "the server"
    host = url.host or str(url.query.get("host") or "localhost")
    if ":" in host:
        host = f"[{host}]"
    return f"{host}:{url.port or _POSTGRES_PORT}"


def _errno(error: Any) -> int | None:
    number = getattr(error, "errno", None)
    return number if isinstance(number, int) else None


def _first_line(error: BaseException | None) -> str:
    if error is None:
        return "unknown error"
    text = str(error).strip().splitlines()
    return text[0] if text else type(error).__name__
