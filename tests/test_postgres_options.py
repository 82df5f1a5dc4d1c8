"""Provider URLs translated into asyncpg arguments (core.database.postgres_options); no server."""

from __future__ import annotations

import ssl
from pathlib import Path
from typing import Any

import pytest

from core.database import ConfigurationError, Database, create_engine, parse_database_url
from core.database.postgres_options import postgres_connect_args, psycopg_connect_args
from core.database.settings import Settings

SECRET = "S3cretPw"
# A self-signed CA certificate (no key anywhere): enough for ssl to load it as a root.
TEST_CA = """-----BEGIN CERTIFICATE-----
MIIBiTCCAS+gAwIBAgIUbT2EmBQWtkrnrCfw6OQyhYoqzX4wCgYIKoZIzj0EAwIw
GTEXMBUGA1UEAwwOcGFyaXR5LXRlc3QtY2EwIBcNMjYxMTIyMTU1NzAyWhgPMjEy
NjEwMjkxNTU3MDJaMBkxFzAVBgNVBAMMDnBhcml0eS10ZXN0LWNhMFkwEwYHKoZI
zj0CAQYIKoZIzj0DAQcDQgAEzDSauAQD2S6rghoSqv3V77IYXcFmE/b/47/FovCc
QcJLbxw0+5e7TxxT6YF4e57Z3N4v+7BBSwGq2p9hmNFlw6NTMFEwHQYDVR0OBBYE
FMtS1YfHE5Utm0ZZdUjSHkG25LCBMB8GA1UdIwQYMBaAFMtS1YfHE5Utm0ZZdUjS
HkG25LCBMA8GA1UdEwEB/wQFMAMBAf8wCgYIKoZIzj0EAwIDSAAwRQIhAN3+gi40
X0+1STMt4beuhw5IihA0TCG88CjHPaAd+bGeAiBEr6DbUb31B4GEo2mrLEd+qKbB
KZQKZNC/pLkxExhnuw==
-----END CERTIFICATE-----
"""


def _settings(**overrides: Any) -> Settings:
    values: dict[str, Any] = {
        "database_statement_timeout_ms": 30_000,
        "database_application_name": "core-database",
        "database_connect_timeout": 10.0,
        "database_pgbouncer": False,
    }
    values.update(overrides)
    return Settings(**values)


def _args(raw: str, **overrides: Any) -> tuple[dict[str, Any], dict[str, Any]]:
    url, args = postgres_connect_args(parse_database_url(raw), _settings(**overrides))
    return dict(url.query), args


def test_settings_become_server_settings() -> None:
    query, args = _args("postgres://app:pw@db/app", database_statement_timeout_ms=5000)
    assert query == {}
    assert args["timeout"] == 10.0
    assert args["server_settings"] == {
        "application_name": "core-database",
        "statement_timeout": "5000",
        "timezone": "UTC",
    }


def test_libpq_query_keys_are_translated() -> None:
    query, args = _args(
        "postgres://app:pw@db/app?application_name=worker&connect_timeout=3"
        "&options=-c%20search_path%3Dapp%20-c%20lock_timeout%3D100"
    )
    assert query == {}
    assert args["timeout"] == 3.0
    assert args["server_settings"] == {
        "application_name": "worker",
        "statement_timeout": "30000",
        "search_path": "app",
        "lock_timeout": "100",
        "timezone": "UTC",
    }


def test_connections_run_in_utc_whatever_the_url_says() -> None:
    _query, args = _args("postgres://app:pw@db/app?options=-c%20TimeZone%3DEurope/Berlin")
    assert args["server_settings"]["timezone"] == "UTC"
    assert "TimeZone" not in args["server_settings"]


def test_bad_options_are_refused() -> None:
    with pytest.raises(ConfigurationError, match="-c name=value"):
        _args("postgres://app:pw@db/app?options=search_path")


@pytest.mark.parametrize("mode", ["disable", "prefer", "require", "verify-ca", "verify-full"])
def test_sslmode_alone_is_passed_as_asyncpg_mode(mode: str) -> None:
    query, args = _args(f"postgres://app:pw@db/app?sslmode={mode}")
    assert query == {}
    assert args["ssl"] == mode


def test_unknown_sslmode_is_refused() -> None:
    with pytest.raises(ConfigurationError, match="sslmode must be one of"):
        _args("postgres://app:pw@db/app?sslmode=maybe")


def test_verify_full_with_root_certificate_builds_a_verifying_context(tmp_path: Path) -> None:
    root = tmp_path / "root.crt"
    root.write_text(TEST_CA)
    query, args = _args(f"postgres://app:pw@db/app?sslmode=verify-full&sslrootcert={root}")
    context = args["ssl"]
    assert query == {}
    assert isinstance(context, ssl.SSLContext)
    assert context.check_hostname is True
    assert context.verify_mode == ssl.CERT_REQUIRED
    assert len(context.get_ca_certs()) == 1


def test_require_with_root_certificate_checks_the_chain_not_the_host(tmp_path: Path) -> None:
    root = tmp_path / "root.crt"
    root.write_text(TEST_CA)
    _query, args = _args(f"postgres://app:pw@db/app?sslmode=require&sslrootcert={root}")
    context = args["ssl"]
    assert isinstance(context, ssl.SSLContext)
    assert context.check_hostname is False
    assert context.verify_mode == ssl.CERT_REQUIRED


def test_certificates_need_a_verifying_mode(tmp_path: Path) -> None:
    root = tmp_path / "root.crt"
    root.write_text(TEST_CA)
    with pytest.raises(ConfigurationError, match="certificate files need"):
        _args(f"postgres://app:pw@db/app?sslmode=prefer&sslrootcert={root}")


def test_secret_query_values_leave_the_url() -> None:
    query, args = _args(f"postgres://app@db/app?password={SECRET}&passfile=/run/pgpass")
    assert query == {}
    assert args["password"] == SECRET
    assert args["passfile"] == "/run/pgpass"


def test_pgbouncer_disables_statement_caches() -> None:
    _query, args = _args("postgres://app:pw@db/app", database_pgbouncer=True)
    assert args["statement_cache_size"] == 0
    assert args["prepared_statement_cache_size"] == 0
    names = {args["prepared_statement_name_func"]() for _ in range(3)}
    assert len(names) == 3
    assert "statement_timeout" not in args["server_settings"]


def test_unix_socket_host_reaches_asyncpg() -> None:
    engine = create_engine("postgresql://app:pw@/app?host=/var/run/postgresql")
    _cargs, cparams = engine.dialect.create_connect_args(engine.url)
    assert cparams["host"] == "/var/run/postgresql"
    assert cparams["database"] == "app"


def test_ipv6_host_reaches_asyncpg() -> None:
    engine = create_engine("postgresql://app:pw@[::1]:5433/app")
    _cargs, cparams = engine.dialect.create_connect_args(engine.url)
    assert (cparams["host"], cparams["port"]) == ("::1", 5433)


@pytest.mark.parametrize(
    "raw",
    [
        f"postgres://app:{SECRET}@db:5432/app?sslmode=require&sslpassword=KeyPass1",
        f"postgres://app@db:5432/app?password={SECRET}",
    ],
)
def test_engine_repr_hides_secrets(raw: str) -> None:
    db = Database(raw)
    shown = [repr(db.engine), repr(db.engine.sync_engine), str(db.engine.url), repr(db.engine.url)]
    for text in shown:
        assert SECRET not in text
        assert "KeyPass1" not in text


def test_own_connect_args_join_the_computed_ones() -> None:
    given = {"timeout": 2, "server_settings": {"jit": "off", "TimeZone": "Asia/Seoul"}}
    _url, args = postgres_connect_args(
        parse_database_url("postgres://a@db/app"), _settings(), given
    )
    assert args["timeout"] == 2  # their flag wins
    assert args["server_settings"] == {
        "application_name": "core-database",
        "statement_timeout": "30000",
        "jit": "off",
        "timezone": "UTC",  # the session stays in UTC, as with the URL's options=
    }
    assert given["server_settings"] == {"jit": "off", "TimeZone": "Asia/Seoul"}  # not edited


def test_own_libpq_options_join_the_computed_ones() -> None:
    url = parse_database_url("postgres://a@db/app")
    given = {"options": "-c search_path=app -ctimezone=Asia/Seoul", "sslmode": "require"}
    _url, args = psycopg_connect_args(url, _settings(), given)
    assert args["sslmode"] == "require"
    assert args["options"].split() == [
        "-c",
        "statement_timeout=30000",
        "-c",
        "search_path=app",
        "-c",
        "timezone=UTC",
    ]
    with pytest.raises(ConfigurationError, match="connect_args options accepts only"):
        psycopg_connect_args(url, _settings(), {"options": "--search_path=app"})
    # Behind PgBouncer the toolkit sends no options: the caller's go as they are.
    _url, bounced = psycopg_connect_args(url, _settings(database_pgbouncer=True), given)
    assert bounced["options"] == given["options"]
