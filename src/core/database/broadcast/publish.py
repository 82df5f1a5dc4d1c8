"""`publish_on_commit`: announce a change once, and only if, its transaction commits."""

from __future__ import annotations

from collections.abc import Callable

from sqlalchemy.ext.asyncio import AsyncSession
from sqlalchemy.orm import Session

from core.database.broadcast.factory import get_broadcaster
from core.database.broadcast.protocol import Broadcaster, check_channel, check_message
from core.database.session import on_commit

__all__ = ["publish_on_commit"]


def publish_on_commit(
    session: AsyncSession | Session,
    channel: str,
    message: str | Callable[[], str],
    *,
    broadcaster: Broadcaster | None = None,
) -> None:
    """Publish `message` on `channel` after `session` commits; never after a rollback.

    A string is checked now, so one that no backend can carry fails the request
    (BroadcastMessageError) instead of vanishing after the commit. A callable is
    called after the commit, for what only the commit settles (a position taken
    in `before_commit`, say). A publish that fails after the commit is logged: the
    data stands, and subscribers that follow positions catch up on the next
    message, `Gap` or idle re-read.
    """
    check_channel(channel)
    if isinstance(message, str):
        check_message(channel, message)
    target = broadcaster or get_broadcaster()

    async def publish() -> None:
        await target.publish(channel, message if isinstance(message, str) else message())

    on_commit(session, publish)
