"""Settings read from the environment and `.env`: the database is chosen by DATABASE_URL alone."""

from __future__ import annotations

from enum import StrEnum
from functools import lru_cache
from typing import Literal

from pydantic import Field, SecretStr
from pydantic_settings import BaseSettings, SettingsConfigDict

__all__ = ["AppEnv", "Settings", "get_settings"]

DEFAULT_DATABASE_URL = "sqlite+aiosqlite:///./app.db"


class AppEnv(StrEnum):
    """Where the app runs; `production` makes destructive tools refuse to act."""

    LOCAL = "local"
    TEST = "test"
    PRODUCTION = "production"


class Settings(BaseSettings):
    """Every knob of the toolkit; `.env.example` documents each one."""

    model_config = SettingsConfigDict(
        env_file=".env", env_file_encoding="utf-8", extra="ignore", frozen=True
    )

    app_env: AppEnv = AppEnv.LOCAL
    # A secret: SecretStr keeps it out of reprs, logs and validation errors.
    database_url: SecretStr = SecretStr(DEFAULT_DATABASE_URL)
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


@lru_cache(maxsize=1)
def get_settings() -> Settings:
    """The process-wide settings, read once on first use (never at import)."""
    return Settings()
