"""Turn a provider's Postgres URL and the settings into asyncpg or psycopg connect arguments.

libpq spellings that hosting providers hand out (`sslmode`, `sslrootcert`,
`connect_timeout`, `application_name`, `options`) are translated, so such a URL
works unchanged with asyncpg (psycopg, the sync face, is libpq and takes them
as they are); secrets (`sslpassword`, `password`, `passfile`) leave the
URL and live only in the arguments.
"""

from __future__ import annotations

import math
import ssl
from collections.abc import Mapping
from dataclasses import dataclass, field
from typing import Any
from uuid import uuid4

from sqlalchemy.engine import URL

from core.database.errors import ConfigurationError
from core.database.settings import Settings

__all__ = ["postgres_connect_args", "psycopg_connect_args"]

_SSL_KEYS = ("sslmode", "sslrootcert", "sslcert", "sslkey", "sslpassword")
_SSL_MODES = ("disable", "allow", "prefer", "require", "verify-ca", "verify-full")


@dataclass
class _Connection:
    """What a Postgres URL and the settings ask of a connection, in no driver's terms."""

    url: URL  # without the keys read below
    timeout: float
    server_settings: dict[str, str]
    secrets: dict[str, str] = field(default_factory=dict)
    ssl: dict[str, str] = field(default_factory=dict)


def _read(url: URL, settings: Settings, given: Mapping[str, str]) -> _Connection:
    """`given`: session settings the caller passed in connect_args; they win over the URL's."""
    query = dict(url.query)
    server_settings = {"application_name": settings.database_application_name}
    if not settings.database_pgbouncer and settings.database_statement_timeout_ms:
        # PgBouncer refuses unknown startup parameters; behind it, set the timeout on the role.
        server_settings["statement_timeout"] = str(settings.database_statement_timeout_ms)
    timeout = settings.database_connect_timeout
    if "application_name" in query:
        server_settings["application_name"] = _single(query.pop("application_name"))
    if "connect_timeout" in query:
        timeout = float(_single(query.pop("connect_timeout")))
    # In the URL, `repr(engine)` would print them: str(url) masks only the password.
    secrets: dict[str, str] = {
        key: _single(query.pop(key)) for key in ("password", "passfile") if key in query
    }
    if "options" in query:
        server_settings.update(_parse_options(_single(query.pop("options")), "the URL's options="))
    server_settings.update(given)
    # Dates, extract() and timestamp text in UTC whatever the server's default TimeZone
    # (setting names are case-insensitive: one spelling only).
    for name in [name for name in server_settings if name.lower() == "timezone"]:
        del server_settings[name]
    server_settings["timezone"] = "UTC"
    ssl_values = {key: _single(query.pop(key)) for key in _SSL_KEYS if key in query}
    if ssl_values.get("sslmode", "prefer") not in _SSL_MODES:
        raise ConfigurationError(f"sslmode must be one of {', '.join(_SSL_MODES)}")
    return _Connection(url.set(query=query), timeout, server_settings, secrets, ssl_values)


def postgres_connect_args(
    url: URL, settings: Settings, given: Mapping[str, Any] | None = None
) -> tuple[URL, dict[str, Any]]:
    """Return `url` without libpq-only query keys, and the asyncpg connect arguments.

    `given`: the caller's own connect_args. Each key wins, except that its
    `server_settings` join the computed ones, and the session stays in UTC.
    """
    given = dict(given or {})
    connection = _read(url, settings, given.pop("server_settings", None) or {})
    args: dict[str, Any] = {"timeout": connection.timeout, **connection.secrets}
    if connection.ssl:
        args["ssl"] = _ssl_argument(connection.ssl)
    args["server_settings"] = connection.server_settings
    if settings.database_pgbouncer:
        # Transaction pooling hands each transaction any server connection: named
        # prepared statements from another connection would "not exist" there.
        args["statement_cache_size"] = 0
        args["prepared_statement_cache_size"] = 0
        args["prepared_statement_name_func"] = _unique_statement_name
    return connection.url, {**args, **given}


def psycopg_connect_args(
    url: URL, settings: Settings, given: Mapping[str, Any] | None = None
) -> tuple[URL, dict[str, Any]]:
    """The same connection for psycopg (the sync face), in libpq's own keywords.

    `given`: the caller's own connect_args. Each key wins, except that the `-c`
    pairs of its `options` join the computed ones, and the session stays in UTC.
    """
    given = dict(given or {})
    extra: dict[str, str] = {}
    if given.get("options") and not settings.database_pgbouncer:
        extra = _parse_options(given.pop("options"), "connect_args options")
    connection = _read(url, settings, extra)
    server_settings = dict(connection.server_settings)
    args: dict[str, Any] = {
        # libpq takes whole seconds, and reads 1 as 2 (its minimum); round up, never down.
        "connect_timeout": max(2, math.ceil(connection.timeout)),
        # Data unacknowledged this long closes the socket: a connection the network
        # dropped without a word fails its liveness ping instead of hanging on it.
        "tcp_user_timeout": math.ceil(connection.timeout * 1000),
        "application_name": server_settings.pop("application_name"),
        **connection.secrets,
        **connection.ssl,  # libpq's names: psycopg passes them on as they are
    }
    if settings.database_pgbouncer:
        # PgBouncer refuses the `options` startup parameter, and transaction pooling
        # cannot keep server-side prepared statements.
        args["prepare_threshold"] = None
        return connection.url, {**args, **given}
    # asyncpg reads timestamptz as UTC whatever the session's zone; psycopg reads it in
    # the session's zone, so the session is put in UTC: the same values on both faces.
    server_settings.setdefault("timezone", "UTC")
    args["options"] = " ".join(
        f"-c {name}={_libpq_escape(value)}" for name, value in server_settings.items()
    )
    return connection.url, {**args, **given}


def _libpq_escape(value: str) -> str:
    # libpq splits `options` at spaces; a backslash keeps one in a value.
    return value.replace("\\", "\\\\").replace(" ", "\\ ")


def _unique_statement_name() -> str:
    return f"__asyncpg_{uuid4().hex}__"


def _single(value: str | tuple[str, ...]) -> str:
    return value if isinstance(value, str) else value[-1]


def _parse_options(options: str, where: str) -> dict[str, str]:
    # "-c statement_timeout=5000 -c search_path=app" -> {"statement_timeout": "5000", ...}
    result: dict[str, str] = {}
    words = options.replace("-c ", "-c").split()
    for word in words:
        key, sep, value = word.removeprefix("-c").partition("=")
        if not word.startswith("-c") or not sep:
            raise ConfigurationError(f"{where} accepts only '-c name=value' pairs")
        result[key] = value
    return result


def _ssl_argument(values: dict[str, str]) -> str | ssl.SSLContext:
    mode = values.get("sslmode", "prefer")
    if not any(key in values for key in ("sslrootcert", "sslcert", "sslkey")):
        return mode  # asyncpg takes libpq's mode names as they are.
    if mode in ("disable", "allow", "prefer"):
        raise ConfigurationError("certificate files need sslmode=require, verify-ca or verify-full")
    context = ssl.create_default_context(cafile=values.get("sslrootcert"))
    # libpq semantics: only verify-full checks the host name; verify-ca and require
    # with a root certificate check the chain.
    context.check_hostname = mode == "verify-full"
    if mode == "require" and "sslrootcert" not in values:
        context.verify_mode = ssl.CERT_NONE
    if "sslcert" in values:
        context.load_cert_chain(
            values["sslcert"], values.get("sslkey"), password=values.get("sslpassword")
        )
    return context
