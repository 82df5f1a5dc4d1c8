"""Parse, normalise and validate DATABASE_URL; render it with every secret masked.

Accepted forms (anything else is a ConfigurationError naming these):

    sqlite+aiosqlite:///./app.db   sqlite:///./app.db   sqlite://   sqlite:///:memory:
    postgresql+asyncpg://user:pw@host:5432/db   postgresql://...   postgres://...

Passwords may hold raw `@ : / % #`; percent-encoded forms work too.
"""

from __future__ import annotations

import re
from urllib.parse import parse_qsl, unquote

from sqlalchemy.engine import URL

from core.database.errors import ConfigurationError

__all__ = [
    "MASK",
    "DatabaseURL",
    "is_memory_sqlite",
    "is_secret_query_key",
    "mask_url",
    "parse_database_url",
    "sync_database_url",
]

MASK = "***"
SQLITE_DRIVER = "sqlite+aiosqlite"
POSTGRES_DRIVER = "postgresql+asyncpg"
# The sync face's drivers for the same databases: stdlib sqlite3 and psycopg 3.
SYNC_DRIVERS = {SQLITE_DRIVER: "sqlite+pysqlite", POSTGRES_DRIVER: "postgresql+psycopg"}
SUPPORTED_FORMS = (
    "sqlite+aiosqlite:///./app.db, sqlite+aiosqlite:///:memory:, "
    "postgresql+asyncpg://user:password@host:5432/dbname "
    "(sqlite://, postgres:// and postgresql:// are accepted and use these drivers)"
)
_SCHEMES = {
    "sqlite": SQLITE_DRIVER,
    "sqlite+aiosqlite": SQLITE_DRIVER,
    "postgres": POSTGRES_DRIVER,
    "postgresql": POSTGRES_DRIVER,
    "postgresql+asyncpg": POSTGRES_DRIVER,
}
# Query keys whose values are secrets as well as the password: any key naming a
# password, secret or token (password, sslpassword, auth_token, client_secret...), and
# the paths to a private key or a password file, which say where the secret is kept.
SECRET_QUERY_KEYS = frozenset({"sslkey", "passfile", "pwd"})
_SECRET_KEY_PARTS = ("password", "passwd", "secret", "token")

_SCHEME = re.compile(r"^(?P<scheme>[A-Za-z][A-Za-z0-9+.\-]*)://(?P<rest>.*)$", re.S)
# Userinfo is lazy, so the split happens at the first `@` that is followed by a
# well-formed host: a raw `@` inside the password then stays in the password.
_NETLOC = re.compile(
    r"""^(?:(?P<userinfo>.*?)@)??
        (?:\[(?P<ipv6>[0-9A-Fa-f:.%\w]+)\]|(?P<host>[A-Za-z0-9._\-~]*))
        (?::(?P<port>\d*))?
        (?:/(?P<database>[^?@]*))?
        (?:\?(?P<query>.*))?$""",
    re.S | re.X,
)


class DatabaseURL(URL):
    """A SQLAlchemy URL whose ``str()``, ``repr()`` and default rendering mask every secret.

    SQLAlchemy's own URL hides the password but prints ``?password=...`` and other
    secret query values in clear.
    """

    __slots__ = ()

    @classmethod
    def of(cls, url: URL) -> DatabaseURL:
        """`url` as a DatabaseURL (the same URL, masked when printed)."""
        return url if isinstance(url, DatabaseURL) else cls(*url)

    def render_as_string(self, hide_password: bool = True) -> str:
        """The URL as text; with `hide_password` (the default) every secret is masked."""
        if hide_password:
            return mask_url(self)
        return super().render_as_string(hide_password=False)

    def __repr__(self) -> str:
        return mask_url(self)

    def __str__(self) -> str:
        return mask_url(self)


def parse_database_url(raw: str | URL) -> URL:
    """Return the async-driver URL for `raw`, or raise ConfigurationError (password-free).

    The result is a `DatabaseURL`: printed, it masks the password and secret query values.
    """
    if isinstance(raw, URL):
        raw = URL.render_as_string(raw, hide_password=False)
    text = raw.strip()
    if not text:
        raise ConfigurationError(f"DATABASE_URL is empty; use one of: {SUPPORTED_FORMS}")
    match = _SCHEME.match(text)
    if match is None:
        raise ConfigurationError(
            f"DATABASE_URL is not a URL (no scheme://); use one of: {SUPPORTED_FORMS}"
        )
    scheme = match["scheme"].lower()
    driver = _SCHEMES.get(scheme)
    if driver is None and scheme.split("+")[0] in _SCHEMES:
        raise ConfigurationError(
            f"DATABASE_URL driver {scheme!r} is not supported (the toolkit runs on "
            f"aiosqlite and asyncpg); use one of: {SUPPORTED_FORMS}"
        )
    if driver is None:
        raise ConfigurationError(
            f"DATABASE_URL scheme {scheme!r} is not supported; use one of: {SUPPORTED_FORMS}"
        )
    if driver == SQLITE_DRIVER:
        return _parse_sqlite(match["rest"])
    return _parse_postgres(match["rest"])


def _parse_sqlite(rest: str) -> URL:
    path, _, query = rest.partition("?")
    if path and not path.startswith("/"):
        raise ConfigurationError(
            "a SQLite URL takes three slashes before a relative path "
            f"(sqlite+aiosqlite:///./app.db); use one of: {SUPPORTED_FORMS}"
        )
    database = unquote(path[1:]) or None
    return DatabaseURL.create(SQLITE_DRIVER, database=database, query=_parse_query(query))


def _parse_postgres(rest: str) -> URL:
    match = _NETLOC.match(rest)
    if match is None:
        raise ConfigurationError(
            f"DATABASE_URL could not be parsed as a Postgres URL; use one of: {SUPPORTED_FORMS}"
        )
    username = password = None
    if match["userinfo"] is not None:
        user, colon, secret = match["userinfo"].partition(":")
        username = unquote(user) or None
        password = unquote(secret) if colon else None
    port = match["port"]
    return DatabaseURL.create(
        POSTGRES_DRIVER,
        username=username,
        password=password,
        host=match["ipv6"] or match["host"] or None,
        port=int(port) if port else None,
        database=unquote(match["database"]) if match["database"] else None,
        query=_parse_query(match["query"] or ""),
    )


def _parse_query(query: str) -> dict[str, str | tuple[str, ...]]:
    result: dict[str, str | tuple[str, ...]] = {}
    for key, value in parse_qsl(query, keep_blank_values=True):
        previous = result.get(key)
        if previous is None:
            result[key] = value
        else:
            as_tuple = previous if isinstance(previous, tuple) else (previous,)
            result[key] = (*as_tuple, value)
    return result


def sync_database_url(raw: str | URL) -> URL:
    """`raw` parsed as parse_database_url() does, for the sync drivers (sqlite3, psycopg).

    The sync drivers' own spellings (`sqlite+pysqlite://`, `postgresql+psycopg://`) are
    accepted here too.
    """
    if isinstance(raw, URL):
        raw = raw.render_as_string(hide_password=False)
    for async_driver, sync_driver in SYNC_DRIVERS.items():
        if raw.strip().lower().startswith(f"{sync_driver}://"):
            raw = async_driver + raw.strip()[len(sync_driver) :]
    url = parse_database_url(raw)
    return url.set(drivername=SYNC_DRIVERS[url.drivername])


def is_secret_query_key(key: str) -> bool:
    """True if a URL query value under `key` is a secret (password, sslpassword, token...)."""
    lowered = key.lower()
    return lowered in SECRET_QUERY_KEYS or any(part in lowered for part in _SECRET_KEY_PARTS)


def mask_url(url: URL) -> str:
    """Render `url` with the password and secret query values replaced by `***`."""
    query = {key: (MASK if is_secret_query_key(key) else value) for key, value in url.query.items()}
    safe = URL.create(
        url.drivername,
        username=url.username,
        password=MASK if url.password is not None else None,
        host=url.host,
        port=url.port,
        database=url.database,
        query=query,
    )
    # Render with hide_password=False: the password is already the mask, and the
    # default hiding would leave query secrets alone anyway.
    return safe.render_as_string(hide_password=False).replace("%2A%2A%2A", MASK)


def is_memory_sqlite(url: URL) -> bool:
    """True for an in-memory SQLite database (`sqlite://`, `:memory:`, `?mode=memory`)."""
    if url.get_backend_name() != "sqlite":
        return False
    database = url.database or ""
    return database in ("", ":memory:") or url.query.get("mode") == "memory"
