"""Settings read from the environment and `.env`: the database is chosen by DATABASE_URL alone.

Without DATABASE_URL, the libpq variables (PGHOST, PGPORT, PGUSER, PGPASSWORD,
PGDATABASE, PGSSLMODE) make a Postgres URL, so docker-compose and the app share
one password; without either, local and test runs get the SQLite file ./app.db,
and APP_ENV=production refuses to start.

The `.env` read is ``$CORE_DATABASE_ENV_FILE``, else `.env` in the working
directory; `use_env_file()` says it from code.
"""

from __future__ import annotations

import os
from enum import StrEnum
from functools import lru_cache
from pathlib import Path
from typing import Any, Literal

from pydantic import Field, SecretStr, ValidationError, model_validator
from pydantic_settings import BaseSettings, SettingsConfigDict
from sqlalchemy.engine import URL

from core.database.errors import ConfigurationError

__all__ = ["ENV_FILE_VARIABLE", "AppEnv", "Settings", "get_settings", "use_env_file"]

DEFAULT_DATABASE_URL = "sqlite+aiosqlite:///./app.db"
# Names the `.env` file the toolkit reads (default: `.env` in the working directory).
ENV_FILE_VARIABLE = "CORE_DATABASE_ENV_FILE"
_LIBPQ_FIELDS = ("pghost", "pgport", "pguser", "pgpassword", "pgdatabase", "pgsslmode")


class AppEnv(StrEnum):
    """Where the app runs; `production` makes destructive tools refuse to act."""

    LOCAL = "local"
    TEST = "test"
    PRODUCTION = "production"


class Settings(BaseSettings):
    """Every knob of the toolkit; `.env.example` documents each one.

    Bad values raise ConfigurationError (never pydantic's ValidationError, whose
    text would quote the input). A host app's own settings class may subclass
    this one to read the same `.env` with ``extra="forbid"``.
    """

    model_config = SettingsConfigDict(
        env_file=".env", env_file_encoding="utf-8", extra="ignore", frozen=True
    )

    app_env: AppEnv = AppEnv.LOCAL
    # A secret: SecretStr keeps it out of reprs, logs and validation errors. Required
    # only in production: elsewhere the libpq variables or ./app.db fill it in.
    database_url: SecretStr
    database_echo: bool = False
    database_pool_size: int = Field(default=5, ge=1)
    database_max_overflow: int = Field(default=10, ge=0)
    # A request should not queue long for a connection: past this it gets a 503 to retry.
    database_pool_timeout: float = Field(default=5.0, gt=0)
    database_pool_recycle: int = Field(default=1800, ge=-1)
    database_connect_timeout: float = Field(default=10.0, gt=0)
    # An API statement that runs this long is stuck (on a lock, say): a 504, not a hung request.
    database_statement_timeout_ms: int = Field(default=15_000, ge=0)
    database_application_name: str = "core-database"
    database_sqlite_busy_timeout_ms: int = Field(default=5_000, ge=0)
    # "immediate" takes SQLite's write lock at BEGIN, so concurrent writers queue
    # instead of failing with "database is locked" when a read turns into a write.
    database_sqlite_begin: Literal["deferred", "immediate", "exclusive"] = "immediate"
    # PgBouncer in transaction mode cannot keep named prepared statements.
    database_pgbouncer: bool = False
    # Read replicas for read-only units of work: comma-separated URLs (secrets, like
    # DATABASE_URL). A replica further behind than the lag bound, or down, is skipped
    # (retried after replica_retry_s) and the primary serves.
    database_replica_urls: SecretStr = SecretStr("")
    database_replica_max_lag_s: float = Field(default=5.0, gt=0)
    database_replica_retry_s: float = Field(default=5.0, gt=0)
    # Post-commit fan-out (core.database.broadcast); "auto": redis when REDIS_URL is set,
    # else postgres (LISTEN/NOTIFY) on Postgres, else memory (one process).
    database_broadcast: Literal["auto", "memory", "postgres", "redis"] = "auto"
    redis_url: SecretStr | None = None
    # libpq's variables, used only when DATABASE_URL is unset.
    pghost: str | None = None
    pgport: int | None = Field(default=None, ge=1, le=65535)
    pguser: str | None = None
    pgpassword: SecretStr | None = None
    pgdatabase: str | None = None
    pgsslmode: str | None = None

    def __init__(self, **values: Any) -> None:
        try:
            super().__init__(**values)
            return
        except ValidationError as exc:
            message = _describe(exc)
        # Raised outside the handler, so not chained: the ValidationError quotes the input.
        raise ConfigurationError(message)

    @model_validator(mode="before")
    @classmethod
    def _choose_database_url(cls, data: Any) -> Any:
        if not isinstance(data, dict) or data.get("database_url") is not None:
            return data
        libpq = {name: data[name] for name in _LIBPQ_FIELDS if data.get(name) not in (None, "")}
        if libpq.keys() - {"pgpassword", "pgsslmode", "pgport"}:
            if not str(libpq.get("pgport", "0")).isdigit():
                return data  # the field's own validation names the bad PGPORT
            return {**data, "database_url": _libpq_url(libpq)}
        if str(data.get("app_env") or AppEnv.LOCAL).lower() != AppEnv.PRODUCTION:
            return {**data, "database_url": DEFAULT_DATABASE_URL}
        return data  # left missing: __init__ reports it


def _libpq_url(values: dict[str, Any]) -> str:
    password = values.get("pgpassword")
    if isinstance(password, SecretStr):
        password = password.get_secret_value()
    sslmode = values.get("pgsslmode")
    url = URL.create(
        "postgresql+asyncpg",
        username=values.get("pguser"),
        password=password,
        host=values.get("pghost") or "localhost",
        port=int(values["pgport"]) if values.get("pgport") else None,
        database=values.get("pgdatabase"),
        query={"sslmode": sslmode} if sslmode else {},
    )
    return url.render_as_string(hide_password=False)


def _describe(error: ValidationError) -> str:
    problems = []
    url_missing = False
    for item in error.errors(include_input=False, include_url=False):
        name = str(item["loc"][0]).upper() if item["loc"] else "settings"
        if name == "DATABASE_URL" and item["type"] == "missing":
            url_missing = True
        else:
            problems.append(f"{name}: {item['msg']}")
    if url_missing and not problems:
        return (
            "DATABASE_URL is not set and APP_ENV=production: set DATABASE_URL (or PGHOST, "
            "PGUSER, PGPASSWORD and PGDATABASE); the SQLite default ./app.db is only for "
            "APP_ENV=local and test"
        )
    return "invalid settings: " + "; ".join(problems)


_env_file: Path | None = None


def use_env_file(path: str | Path | None) -> None:
    """Read the toolkit's settings from `path` (None: the default); call it before first use."""
    global _env_file
    _env_file = Path(path) if path is not None else None
    get_settings.cache_clear()


def env_file() -> Path:
    """The `.env` the toolkit reads: `use_env_file()`, else $CORE_DATABASE_ENV_FILE, else .env."""
    return _env_file or Path(os.environ.get(ENV_FILE_VARIABLE) or ".env")


@lru_cache(maxsize=1)
def get_settings() -> Settings:
    """The process-wide settings, read once on first use (never at import)."""
    return Settings(_env_file=env_file())
