"""DATABASE_URL parsing, normalisation and masking (core.database.url); no database needed."""

from __future__ import annotations

import asyncio
import copy
import pickle
from typing import Any

import pytest
from sqlalchemy import text
from sqlalchemy.engine import URL

from core.database import (
    ConfigurationError,
    Database,
    DatabaseUnavailableError,
    mask_url,
    parse_database_url,
)
from core.database.testing._cluster import free_port
from core.database.url import is_memory_sqlite

SECRET = "S3cretPw"


@pytest.mark.parametrize(
    ("raw", "expected"),
    [
        ("postgres://app:pw@db/app", "postgresql+asyncpg://app:pw@db/app"),
        ("postgres://app:pw@db:6543/app", "postgresql+asyncpg://app:pw@db:6543/app"),
        ("postgresql://app:pw@db:5432/app", "postgresql+asyncpg://app:pw@db:5432/app"),
        ("postgresql+asyncpg://app:pw@db/app", "postgresql+asyncpg://app:pw@db/app"),
        ("sqlite://", "sqlite+aiosqlite://"),
        ("sqlite:///app.db", "sqlite+aiosqlite:///app.db"),
        ("sqlite:///./data/app.db", "sqlite+aiosqlite:///./data/app.db"),
        ("sqlite:////srv/app.db", "sqlite+aiosqlite:////srv/app.db"),
        ("sqlite+aiosqlite:///app.db", "sqlite+aiosqlite:///app.db"),
        ("  SQLITE:///app.db  ", "sqlite+aiosqlite:///app.db"),
    ],
)
def test_urls_are_normalised_to_the_async_drivers(raw: str, expected: str) -> None:
    assert parse_database_url(raw).render_as_string(hide_password=False) == expected


def test_memory_sqlite_forms_are_recognised() -> None:
    memory = parse_database_url("sqlite:///:memory:")
    assert memory.drivername == "sqlite+aiosqlite"
    assert memory.database == ":memory:"
    assert is_memory_sqlite(memory)
    assert is_memory_sqlite(parse_database_url("sqlite://"))
    assert not is_memory_sqlite(parse_database_url("sqlite:///app.db"))


def test_postgres_port_is_optional() -> None:
    assert parse_database_url("postgres://app:pw@db/app").port is None
    assert parse_database_url("postgres://app:pw@db:6543/app").port == 6543


def test_a_url_object_is_accepted() -> None:
    url = URL.create("postgresql", username="app", password="p@ss", host="db", database="app")
    parsed = parse_database_url(url)
    assert parsed.drivername == "postgresql+asyncpg"
    assert parsed.password == "p@ss"


@pytest.mark.parametrize(
    "raw",
    [
        f"postgresql+psycopg2://app:{SECRET}@db/app",
        f"postgresql+psycopg://app:{SECRET}@db/app",
        "sqlite+pysqlite:///app.db",
        f"mysql://app:{SECRET}@db/app",
        f"mysql+aiomysql://app:{SECRET}@db/app",
        "not a url",
        "",
        "   ",
        "sqlite:app.db",
        f"postgresql://app:{SECRET}@db:notaport/app",
    ],
)
def test_unsupported_urls_raise_one_configuration_error_without_the_password(raw: str) -> None:
    with pytest.raises(ConfigurationError) as caught:
        parse_database_url(raw)
    message = str(caught.value)
    assert "sqlite+aiosqlite:///./app.db" in message
    assert "postgresql+asyncpg://user:password@host:5432/dbname" in message
    assert SECRET not in message
    assert SECRET not in repr(caught.value)
    # One error, not a chain whose cause might carry the URL.
    assert caught.value.__cause__ is None
    assert caught.value.__context__ is None
    assert isinstance(caught.value, ValueError)


@pytest.mark.parametrize(
    ("raw", "password"),
    [
        ("postgres://app:p@ss@db:5432/app", "p@ss"),
        ("postgres://app:p@ss:w/rd%#x@db:5432/app", "p@ss:w/rd%#x"),
        ("postgres://app:p%40ss%3Aw%2Frd%25%23x@db:5432/app", "p@ss:w/rd%#x"),
        ("postgres://app:100%@db/app", "100%"),
        ("postgres://app:a#b@db/app", "a#b"),
        ("postgres://app:@db/app", ""),
        ("postgres://app@db/app", None),
    ],
)
def test_passwords_with_special_characters(raw: str, password: str | None) -> None:
    url = parse_database_url(raw)
    assert url.password == password
    assert (url.username, url.host, url.database) == ("app", "db", "app")
    if password:
        assert password not in mask_url(url)


def test_secret_query_values_are_masked() -> None:
    url = parse_database_url(
        f"postgres://app:{SECRET}@db/app?sslmode=require&sslpassword=KeyPass1&application_name=web"
    )
    assert url.query["sslpassword"] == "KeyPass1"
    masked = mask_url(url)
    assert SECRET not in masked
    assert "KeyPass1" not in masked
    assert "sslpassword=***" in masked
    assert "application_name=web" in masked
    assert masked.startswith("postgresql+asyncpg://app:***@db/app?")


@pytest.mark.parametrize(
    ("raw", "host", "port"),
    [
        ("postgresql://app:pw@[::1]:5432/app", "::1", 5432),
        ("postgresql://app:pw@[2001:db8::1]/app", "2001:db8::1", None),
    ],
)
def test_ipv6_hosts(raw: str, host: str, port: int | None) -> None:
    url = parse_database_url(raw)
    assert (url.host, url.port, url.password) == (host, port, "pw")
    assert f"[{host}]" in mask_url(url)


def test_unix_socket_host_is_kept_in_the_query() -> None:
    url = parse_database_url("postgresql://app:pw@/app?host=/var/run/postgresql")
    assert url.host is None
    assert url.query["host"] == "/var/run/postgresql"
    assert url.database == "app"


def test_database_repr_and_masked_url_hide_secrets() -> None:
    db = Database(f"postgres://app:{SECRET}@db:5432/app?sslpassword=KeyPass1")
    for shown in (repr(db), db.masked_url, str(db)):
        assert SECRET not in shown
        assert "KeyPass1" not in shown
    assert db.masked_url == "postgresql+asyncpg://app:***@db:5432/app?sslpassword=***"
    assert db.dialect == "postgresql"


def test_uri_in_memory_database_is_recognised() -> None:
    # A `mode=memory` URI lives in its connection: it needs the pool of one, like `:memory:`.
    url = parse_database_url("sqlite+aiosqlite:///file:shared?mode=memory&uri=true")
    assert is_memory_sqlite(url)
    assert not is_memory_sqlite(parse_database_url("sqlite+aiosqlite:///./app.db?mode=ro"))


QUERY_SECRETS = {
    "password": "QueryPw1",
    "sslpassword": "KeyPass1",
    "passfile": "/run/secrets/pgpass",
    "sslkey": "/run/secrets/client.key",
    "auth_token": "Tok3n",
    "client_secret": "Cl1entSecret",
}
QUERY_SECRET_URL = "postgresql://app@db/app?sslmode=require&application_name=web&" + "&".join(
    f"{key}={value}" for key, value in QUERY_SECRETS.items()
)


@pytest.mark.parametrize(
    "show",
    [
        str,
        repr,
        lambda url: url.render_as_string(),
        lambda url: f"{url}",
        lambda url: "%s" % (url,),  # noqa: UP031 - logging formats this way
        lambda url: repr(Database(url)),
        lambda url: str(Database(url).url),
        lambda url: repr(Database(url).url),
        lambda url: str(Database(url).engine.url),
        lambda url: repr([url]),
    ],
)
def test_query_secrets_are_masked_wherever_the_url_is_printed(show: Any) -> None:
    url = parse_database_url(QUERY_SECRET_URL)
    shown = show(url)
    for key, value in QUERY_SECRETS.items():
        assert value not in shown, key
    assert "app@db" in shown


def test_masking_keeps_what_helps_diagnosis() -> None:
    shown = str(parse_database_url(QUERY_SECRET_URL))
    assert "sslmode=require" in shown
    assert "application_name=web" in shown
    assert "password=***" in shown
    assert "sslpassword=***" in shown


def test_the_password_is_still_there_for_the_driver() -> None:
    url = parse_database_url(f"postgresql://app:{SECRET}@db/app?password=QueryPw1")
    assert url.password == SECRET
    assert url.query["password"] == "QueryPw1"
    assert "QueryPw1" in url.render_as_string(hide_password=False)
    # Edited copies (set, update_query_dict) keep masking.
    edited = url.set(database="other").update_query_dict({"sslpassword": "KeyPass1"})
    assert "KeyPass1" not in str(edited)
    assert "QueryPw1" not in repr(edited)


def test_masked_urls_survive_copy_and_pickle() -> None:
    url = parse_database_url(QUERY_SECRET_URL)
    for clone in (copy.copy(url), copy.deepcopy(url), pickle.loads(pickle.dumps(url))):
        assert clone == url
        assert "QueryPw1" not in str(clone)


def test_unavailable_errors_mask_query_secrets() -> None:
    # A port nothing listens on: the error names the URL, masked.
    db = Database(f"postgresql://app@127.0.0.1:{free_port()}/app?password=QueryPw1")

    async def connect() -> None:
        try:
            async with db.session() as session:
                await session.execute(text("SELECT 1"))
        finally:
            await db.dispose()

    with pytest.raises(DatabaseUnavailableError) as caught:
        asyncio.run(connect())
    assert "QueryPw1" not in str(caught.value)
    assert "QueryPw1" not in repr(caught.value)
    assert "password=***" in caught.value.url
