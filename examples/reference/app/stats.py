"""`GET /stats` numbers, read with plain SQL through the toolkit's raw helpers."""

from __future__ import annotations

from sqlalchemy import bindparam, text
from sqlalchemy.ext.asyncio import AsyncSession

from app.schemas import Stats
from core.database import UTCDateTime, fetch_all, fetch_one, utcnow

__all__ = ["read_stats"]

# Typed bind: the same UTC conversion as the column, so the comparison holds on SQLite's text.
_COUNTS = text(
    """
    SELECT
        (SELECT count(*) FROM users) AS users,
        (SELECT count(*) FROM tokens) AS tokens,
        (SELECT count(*) FROM tokens WHERE NOT revoked AND expires_at > :now) AS active_tokens,
        (SELECT count(*) FROM events) AS events
    """
).bindparams(bindparam("now", type_=UTCDateTime()))
_BY_KIND = "SELECT kind, count(*) AS n FROM events GROUP BY kind ORDER BY kind"


async def read_stats(session: AsyncSession) -> Stats:
    """Row counts, in the caller's session (one consistent transaction)."""
    counts = await fetch_one(_COUNTS, {"now": utcnow()}, session=session)
    by_kind = await fetch_all(_BY_KIND, session=session)
    return Stats(
        **(counts or {}),
        events_by_kind={row["kind"]: int(row["n"]) for row in by_kind},
    )
