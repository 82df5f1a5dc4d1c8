"""Stream positions: each user's events numbered 1, 2, 3, ... in commit order.

Event ids are handed out at insert, and transactions commit in another order: a
reader resuming with `id > last` misses an event whose transaction committed
after a higher id's. So an event also gets a `position`, taken at the end of the
writing transaction (`before_commit`) by incrementing the user's row in
`event_streams`. That row stays locked until the commit, so the next writer for
the same user takes its positions only once these events are visible. Hence:

- a user's positions are 1, 2, 3, ... without holes (a transaction that rolls
  back rolls its increment back too);
- once position p is visible, every position below p is visible too: a reader
  that resumes with `position > last` never skips a committed event, and one
  that receives p while it has seen only up to p - 2 knows p - 1 is committed
  and can read it.

SQLite has one writer at a time, so the same holds there, with the same SQL.
Events are numbered when they are inserted through a session (the ORM); rows
written with raw SQL get no position and are never streamed.
"""

from __future__ import annotations

from sqlalchemy import event, text
from sqlalchemy.orm import Session, SessionTransaction, UOWTransaction
from sqlalchemy.orm.attributes import set_committed_value
from sqlalchemy.orm.util import identity_key

from app.models import Event

__all__ = ["take_positions"]

_UNNUMBERED_USERS = "app.positions.unnumbered_users"

# Only this transaction's own events can be NULL: other writers' are not visible
# until they commit, and they commit numbered.
_UNNUMBERED = text(
    "SELECT id FROM events WHERE user_id = :user_id AND position IS NULL ORDER BY id"
)
# One statement, the same on both backends: the row is created on a user's first
# event, and from then on locked by each writer until it commits.
_TAKE = text(
    "INSERT INTO event_streams (user_id, position) VALUES (:user_id, :count)"
    " ON CONFLICT (user_id) DO UPDATE SET position = event_streams.position + excluded.position"
    " RETURNING position"
)
_NUMBER = text("UPDATE events SET position = :position WHERE id = :id")


def take_positions(session: Session, user_id: int) -> list[int]:
    """Number the user's events inserted in this transaction; return their positions.

    Runs by itself before every commit of a session that inserted events; call it
    directly only to number events earlier (the stream row then stays locked longer).
    """
    ids = list(session.execute(_UNNUMBERED, {"user_id": user_id}).scalars())
    if not ids:
        return []
    last = session.execute(_TAKE, {"user_id": user_id, "count": len(ids)}).scalar_one()
    positions = list(range(last - len(ids) + 1, last + 1))
    session.execute(
        _NUMBER, [{"id": id_, "position": p} for id_, p in zip(ids, positions, strict=True)]
    )
    for id_, position in zip(ids, positions, strict=True):
        # Objects of this session see their position after the commit, without a reload.
        loaded = session.identity_map.get(identity_key(Event, id_))
        if loaded is not None:
            set_committed_value(loaded, "position", position)
    return positions


@event.listens_for(Session, "after_flush")
def _remember_new_events(session: Session, _flush: UOWTransaction) -> None:
    users = {obj.user_id for obj in session.new if isinstance(obj, Event)}
    if users:
        session.info.setdefault(_UNNUMBERED_USERS, set()).update(users)


@event.listens_for(Session, "before_commit")
def _number_before_commit(session: Session) -> None:
    if not session.info.get(_UNNUMBERED_USERS):
        return
    session.flush()  # events still pending get their rows first
    users: set[int] = session.info.pop(_UNNUMBERED_USERS)
    # One order for everyone: two transactions writing for the same users lock their
    # stream rows in the same order and cannot deadlock.
    for user_id in sorted(users):
        take_positions(session, user_id)


@event.listens_for(Session, "after_transaction_end")
def _forget_at_the_end(session: Session, transaction: SessionTransaction) -> None:
    # A transaction rolled back: its events are gone, and so is the need to number them.
    if transaction.parent is None:
        session.info.pop(_UNNUMBERED_USERS, None)
