"""create_broadcaster(): DATABASE_BROADCAST and REDIS_URL choose; bad choices fail early."""

from __future__ import annotations

import pytest
from pydantic import SecretStr

from core.database import ConfigurationError, Database
from core.database.broadcast import (
    InMemoryBroadcaster,
    PostgresBroadcaster,
    RedisBroadcaster,
    create_broadcaster,
    get_broadcaster,
    set_broadcaster,
)
from core.database.settings import Settings

SQLITE = "sqlite+aiosqlite:///:memory:"
POSTGRES = "postgresql+asyncpg://app:pa55word@db.example:5432/app"
REDIS = "redis://:r3dis-secret@cache.example:6379/0"


def database(url: str, **settings: object) -> Database:
    return Database(url, settings=Settings(**settings))  # type: ignore[arg-type]


@pytest.mark.parametrize(
    ("url", "settings", "expected"),
    [
        (SQLITE, {}, InMemoryBroadcaster),
        (POSTGRES, {}, PostgresBroadcaster),
        (SQLITE, {"redis_url": SecretStr(REDIS)}, RedisBroadcaster),
        (POSTGRES, {"redis_url": SecretStr(REDIS)}, RedisBroadcaster),
        (POSTGRES, {"database_broadcast": "memory"}, InMemoryBroadcaster),
        (POSTGRES, {"database_broadcast": "postgres", "redis_url": SecretStr(REDIS)},
         PostgresBroadcaster),
    ],
)  # fmt: skip
async def test_auto_and_explicit_choices(
    url: str, settings: dict[str, object], expected: type
) -> None:
    broadcaster = create_broadcaster(database(url, **settings))
    try:
        assert isinstance(broadcaster, expected)
        assert "pa55word" not in repr(broadcaster) and "r3dis-secret" not in repr(broadcaster)
    finally:
        await broadcaster.close()  # nothing was connected: closing is instant


@pytest.mark.parametrize(
    ("url", "settings", "message"),
    [
        (SQLITE, {"database_broadcast": "postgres"}, "needs a Postgres DATABASE_URL"),
        (POSTGRES, {"database_broadcast": "redis"}, "needs REDIS_URL"),
    ],
)
def test_a_choice_that_cannot_work_is_a_configuration_error(
    url: str, settings: dict[str, object], message: str
) -> None:
    with pytest.raises(ConfigurationError, match=message):
        create_broadcaster(database(url, **settings))


def test_the_process_wide_broadcaster_can_be_replaced() -> None:
    mine = InMemoryBroadcaster()
    previous = set_broadcaster(mine)
    try:
        assert get_broadcaster() is mine
    finally:
        set_broadcaster(previous)
