"""Choose the broadcaster from settings; the process-wide default one."""

from __future__ import annotations

from core.database.broadcast.memory import InMemoryBroadcaster
from core.database.broadcast.protocol import Broadcaster
from core.database.database import Database, get_database
from core.database.errors import ConfigurationError
from core.database.settings import Settings

__all__ = ["create_broadcaster", "get_broadcaster", "set_broadcaster"]


def create_broadcaster(database: Database | None = None) -> Broadcaster:
    """The broadcaster the settings of `database` (default: the app-wide one) ask for.

    `DATABASE_BROADCAST=auto` picks redis when `REDIS_URL` is set, postgres on a
    Postgres database, and memory (one process) on SQLite.
    """
    database = database or get_database()
    settings = database.settings
    kind = _kind(settings, database.dialect)
    if kind == "memory":
        return InMemoryBroadcaster()
    if kind == "postgres":
        if database.dialect != "postgresql":
            raise ConfigurationError("DATABASE_BROADCAST=postgres needs a Postgres DATABASE_URL")
        from core.database.broadcast.postgres import PostgresBroadcaster

        return PostgresBroadcaster(database)
    if settings.redis_url is None:
        raise ConfigurationError("DATABASE_BROADCAST=redis needs REDIS_URL")
    try:
        from core.database.broadcast.redis import RedisBroadcaster
    except ImportError as exc:
        raise ConfigurationError(
            "the Redis broadcaster needs the redis client: pip install 'core-database[redis]'"
        ) from exc
    return RedisBroadcaster(settings.redis_url.get_secret_value())


def _kind(settings: Settings, dialect: str) -> str:
    if settings.database_broadcast != "auto":
        return settings.database_broadcast
    if settings.redis_url is not None:
        return "redis"
    return "postgres" if dialect == "postgresql" else "memory"


_default: Broadcaster | None = None


def get_broadcaster() -> Broadcaster:
    """The app-wide broadcaster, built from settings on first use."""
    global _default
    if _default is None:
        _default = create_broadcaster()
    return _default


def set_broadcaster(broadcaster: Broadcaster | None) -> Broadcaster | None:
    """Replace the app-wide broadcaster (None: rebuild from settings); return the old one."""
    global _default
    previous, _default = _default, broadcaster
    return previous
