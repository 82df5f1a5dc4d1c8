"""`on_commit` in the app's units of work: after a commit, in order; never after a rollback."""

from __future__ import annotations

import logging

import pytest
from sqlalchemy.ext.asyncio import AsyncSession

from app.models import User
from app.repositories import EventRepository, UserRepository
from core.database import UniqueViolation, fetch_value, on_commit, transaction


async def user_count(session: AsyncSession, email: str) -> int:
    sql = "SELECT count(*) FROM users WHERE email = :email"
    return int(await fetch_value(sql, {"email": email}, session=session))


async def test_callbacks_run_after_commit_in_order(db_session: AsyncSession) -> None:
    calls: list[str] = []

    async def async_callback() -> None:
        calls.append("async")

    async with transaction() as session:
        await UserRepository(session).create(email="cb@example.org")
        on_commit(session, lambda: calls.append("first"))
        on_commit(session, async_callback)
        on_commit(session, lambda: calls.append("last"))
        assert calls == []  # nothing before the commit
    assert calls == ["first", "async", "last"]
    assert await user_count(db_session, "cb@example.org") == 1


async def test_no_callback_after_rollback(db_session: AsyncSession) -> None:
    calls: list[str] = []
    with pytest.raises(RuntimeError):
        async with transaction() as session:
            await UserRepository(session).create(email="gone@example.org")
            on_commit(session, lambda: calls.append("ran"))
            raise RuntimeError("roll back")
    assert calls == []
    assert await user_count(db_session, "gone@example.org") == 0


async def test_no_callback_after_a_failing_commit(db_session: AsyncSession, user: User) -> None:
    calls: list[str] = []
    with pytest.raises(UniqueViolation):
        async with transaction() as session:
            session.add(User(email="ann@example.org"))  # fails at the commit's flush
            on_commit(session, lambda: calls.append("ran"))
    assert calls == []


async def test_failing_callback_is_logged_and_the_commit_stands(
    db_session: AsyncSession, caplog: pytest.LogCaptureFixture
) -> None:
    calls: list[str] = []

    def broken() -> None:
        raise ValueError("callback bug")

    with caplog.at_level(logging.ERROR, logger="core.database"):
        async with transaction() as session:
            user = await UserRepository(session).create(email="kept@example.org")
            await EventRepository(session).create(user.id, kind="login")
            on_commit(session, broken)
            on_commit(session, lambda: calls.append("next"))
    assert calls == ["next"]
    assert await user_count(db_session, "kept@example.org") == 1
    failures = [r for r in caplog.records if r.exc_info and r.exc_info[0] is ValueError]
    assert len(failures) == 1
    assert "commit stands" in failures[0].getMessage()
