"""Post-commit fan-out: publish what committed to live subscribers in every process.

    InMemoryBroadcaster   one process (the default on SQLite)
    PostgresBroadcaster   LISTEN/NOTIFY on the database itself (the default on Postgres)
    RedisBroadcaster      Redis pub/sub (REDIS_URL; the `redis` extra)

`publish_on_commit` announces a change after its commit; `follow` turns the
announcements into a stream read from the database in commit order, exactly once.
"""

from __future__ import annotations

from typing import TYPE_CHECKING, Any

from core.database.broadcast.factory import create_broadcaster, get_broadcaster, set_broadcaster
from core.database.broadcast.follow import follow, position_message
from core.database.broadcast.local import DEFAULT_QUEUE_SIZE
from core.database.broadcast.memory import InMemoryBroadcaster
from core.database.broadcast.postgres import PostgresBroadcaster
from core.database.broadcast.protocol import (
    MAX_CHANNEL_BYTES,
    MAX_MESSAGE_BYTES,
    Broadcaster,
    Gap,
)
from core.database.broadcast.publish import publish_on_commit
from core.database.broadcast.retry import Backoff

if TYPE_CHECKING:
    from core.database.broadcast.redis import RedisBroadcaster

__all__ = [
    "DEFAULT_QUEUE_SIZE",
    "MAX_CHANNEL_BYTES",
    "MAX_MESSAGE_BYTES",
    "Backoff",
    "Broadcaster",
    "Gap",
    "InMemoryBroadcaster",
    "PostgresBroadcaster",
    "RedisBroadcaster",
    "create_broadcaster",
    "follow",
    "get_broadcaster",
    "position_message",
    "publish_on_commit",
    "set_broadcaster",
]


def __getattr__(name: str) -> Any:
    # redis is an optional extra: import its broadcaster only when asked for.
    if name == "RedisBroadcaster":
        try:
            from core.database.broadcast.redis import RedisBroadcaster
        except ImportError as exc:
            raise ImportError(
                "RedisBroadcaster needs the redis client: pip install 'core-database[redis]'"
            ) from exc
        return RedisBroadcaster
    raise AttributeError(f"module 'core.database.broadcast' has no attribute {name!r}")
