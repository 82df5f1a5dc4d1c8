"""Repositories against the real database: CRUD, keyset pages, cascades, duplicates."""

from __future__ import annotations

import hashlib
from datetime import timedelta

import pytest
from sqlalchemy.ext.asyncio import AsyncSession

from app.models import User
from app.repositories import EventRepository, TokenRepository, UserRepository
from core.database import (
    CheckViolation,
    NotFoundError,
    UniqueViolation,
    execute,
    fetch_value,
    utcnow,
)


async def count(session: AsyncSession, table: str, user_id: int) -> int:
    sql = f"SELECT count(*) FROM {table} WHERE user_id = :user_id"
    return int(await fetch_value(sql, {"user_id": user_id}, session=session))


# --- users -------------------------------------------------------------------------------


async def test_user_create_get_update_delete(db_session: AsyncSession) -> None:
    users = UserRepository(db_session)
    created = await users.create(email="  Bob@Example.ORG ", name="Bob")
    await db_session.commit()
    assert created.id is not None
    assert created.email == "bob@example.org"
    assert created.created_at.tzinfo is not None

    assert (await users.get(created.id)).name == "Bob"
    assert (await users.get_by_email("BOB@example.org")).id == created.id

    updated = await users.update(created.id, name="Robert")
    await db_session.commit()
    assert updated.name == "Robert"
    assert updated.updated_at >= updated.created_at

    await users.delete(created.id)
    await db_session.commit()
    with pytest.raises(NotFoundError):
        await users.get(created.id)


async def test_user_missing_raises_not_found(db_session: AsyncSession) -> None:
    users = UserRepository(db_session)
    with pytest.raises(NotFoundError, match="user 424242 not found"):
        await users.get(424242)
    with pytest.raises(NotFoundError):
        await users.update(424242, name="x")
    with pytest.raises(NotFoundError):
        await users.delete(424242)
    with pytest.raises(NotFoundError):
        await users.get_by_email("nobody@example.org")


async def test_duplicate_email_is_unique_violation_in_any_case(
    db_session: AsyncSession, user: User
) -> None:
    user_id = user.id  # a rollback expires every loaded object
    with pytest.raises(UniqueViolation) as caught:
        await UserRepository(db_session).create(email="ANN@example.org")
    await db_session.rollback()
    assert "users" in str(caught.value)
    assert "ann@" not in str(caught.value).lower()  # never the bound value
    assert (await UserRepository(db_session).get(user_id)).email == "ann@example.org"


async def test_update_to_taken_email_is_unique_violation(
    db_session: AsyncSession, user: User
) -> None:
    other = await UserRepository(db_session).create(email="other@example.org")
    await db_session.commit()
    with pytest.raises(UniqueViolation):
        await UserRepository(db_session).update(other.id, email="Ann@Example.org")
    await db_session.rollback()


async def test_update_refuses_unknown_fields(db_session: AsyncSession, user: User) -> None:
    with pytest.raises(TypeError, match="id"):
        await UserRepository(db_session).update(user.id, id=99)


async def test_users_keyset_pages(db_session: AsyncSession) -> None:
    users = UserRepository(db_session)
    ids = [(await users.create(email=f"u{n}@example.org")).id for n in range(5)]
    await db_session.commit()

    seen: list[int] = []
    after_id: int | None = None
    while page := await users.list(after_id=after_id, limit=2):
        assert len(page) <= 2
        seen.extend(row.id for row in page)
        after_id = page[-1].id
    assert seen == sorted(ids)
    assert [u.id for u in await users.list(after_id=ids[2], limit=10)] == ids[3:]


@pytest.mark.parametrize("limit", [0, -1, 501])
async def test_page_limit_is_bounded(db_session: AsyncSession, limit: int) -> None:
    with pytest.raises(ValueError, match="limit"):
        await UserRepository(db_session).list(limit=limit)


# --- tokens ------------------------------------------------------------------------------


async def test_token_issue_stores_only_the_hash(db_session: AsyncSession, user: User) -> None:
    token, secret = await TokenRepository(db_session).issue(user.id, name="cli")
    await db_session.commit()
    assert len(secret) >= 40
    assert token.secret_hash == hashlib.sha256(secret.encode()).hexdigest()
    stored = await fetch_value(
        "SELECT count(*) FROM tokens WHERE secret_hash = :s", {"s": secret}, session=db_session
    )
    assert stored == 0
    assert token.expires_at > utcnow() + timedelta(days=29)
    assert token.revoked is False


async def test_token_verify_and_revoke(db_session: AsyncSession, user: User) -> None:
    tokens = TokenRepository(db_session)
    token, secret = await tokens.issue(user.id)
    await db_session.commit()
    assert (found := await tokens.verify(secret)) is not None
    assert found.id == token.id
    assert await tokens.verify(secret + "x") is None

    assert (await tokens.revoke(token.id)).revoked is True
    assert (await tokens.revoke(token.id)).revoked is True  # idempotent
    await db_session.commit()
    assert await tokens.verify(secret) is None
    with pytest.raises(NotFoundError):
        await tokens.revoke(424242)


async def test_expired_token_does_not_verify(db_session: AsyncSession, user: User) -> None:
    tokens = TokenRepository(db_session)
    token, secret = await tokens.issue(user.id)
    await tokens.update(token.id, expires_at=utcnow() - timedelta(seconds=1))
    await db_session.commit()
    assert await tokens.verify(secret) is None


async def test_token_for_missing_user_is_not_found(db_session: AsyncSession) -> None:
    with pytest.raises(NotFoundError, match="user"):
        await TokenRepository(db_session).issue(424242)


async def test_tokens_list_per_user_and_delete(db_session: AsyncSession, user: User) -> None:
    other = await UserRepository(db_session).create(email="other@example.org")
    tokens = TokenRepository(db_session)
    mine = [(await tokens.issue(user.id))[0].id for _ in range(3)]
    await tokens.issue(other.id)
    await db_session.commit()

    assert [t.id for t in await tokens.list(user_id=user.id)] == mine
    assert [t.id for t in await tokens.list(user_id=user.id, after_id=mine[0], limit=1)] == [
        mine[1]
    ]
    assert len(await tokens.list()) == 4
    await tokens.delete(mine[0])
    await db_session.commit()
    assert await count(db_session, "tokens", user.id) == 2


# --- events ------------------------------------------------------------------------------


async def test_event_crud_and_json_round_trip(db_session: AsyncSession, user: User) -> None:
    events = EventRepository(db_session)
    payload = {"ip": "10.0.0.1", "tags": ["a", "ü"], "nested": {"n": 1, "ok": True, "x": None}}
    event = await events.create(user.id, kind="login", payload=payload)
    await db_session.commit()
    db_session.expunge_all()  # read back from the database, not the identity map

    stored = await events.get(event.id)
    assert stored.payload == payload
    assert stored.kind == "login"

    await events.update(event.id, payload={"ip": "10.0.0.2"})
    await db_session.commit()
    db_session.expunge_all()
    assert (await events.get(event.id)).payload == {"ip": "10.0.0.2"}

    await events.delete(event.id)
    await db_session.commit()
    with pytest.raises(NotFoundError, match="event"):
        await events.get(event.id)


async def test_event_payload_defaults_to_empty_object(db_session: AsyncSession, user: User) -> None:
    event = await EventRepository(db_session).create(user.id, kind="ping")
    await db_session.commit()
    assert event.payload == {}


async def test_empty_kind_is_check_violation(db_session: AsyncSession, user: User) -> None:
    with pytest.raises(CheckViolation):
        await EventRepository(db_session).create(user.id, kind="")
    await db_session.rollback()


async def test_event_for_missing_user_is_not_found(db_session: AsyncSession) -> None:
    with pytest.raises(NotFoundError):
        await EventRepository(db_session).create(424242, kind="login")


async def test_events_keyset_pages_per_user(db_session: AsyncSession, user: User) -> None:
    other = await UserRepository(db_session).create(email="other@example.org")
    events = EventRepository(db_session)
    mine = []
    for n in range(5):
        mine.append((await events.create(user.id, kind="k", payload={"n": n})).id)
        await events.create(other.id, kind="k")
    await db_session.commit()

    first = await events.list(user_id=user.id, limit=3)
    rest = await events.list(user_id=user.id, after_id=first[-1].id, limit=3)
    assert [e.id for e in first + rest] == mine
    assert [e.payload["n"] for e in rest] == [3, 4]


# --- cascades ----------------------------------------------------------------------------


async def test_deleting_a_user_cascades_to_tokens_and_events(
    db_session: AsyncSession, user: User
) -> None:
    await TokenRepository(db_session).issue(user.id)
    await EventRepository(db_session).create(user.id, kind="login")
    await db_session.commit()
    db_session.expunge_all()  # nothing loaded: the database must do the cascade

    await UserRepository(db_session).delete(user.id)
    await db_session.commit()
    assert await count(db_session, "tokens", user.id) == 0
    assert await count(db_session, "events", user.id) == 0


async def test_database_cascades_a_plain_sql_delete(db_session: AsyncSession, user: User) -> None:
    await TokenRepository(db_session).issue(user.id)
    await EventRepository(db_session).create(user.id, kind="login")
    await db_session.commit()

    deleted = await execute("DELETE FROM users WHERE id = :id", {"id": user.id}, session=db_session)
    assert deleted == 1
    assert await count(db_session, "tokens", user.id) == 0
    assert await count(db_session, "events", user.id) == 0
