"""The live event stream over a WebSocket: same events, order, resume and tokens as SSE."""

from __future__ import annotations

import asyncio
import json
from typing import Any

import httpx
import pytest
from fastapi import FastAPI
from sqlalchemy.ext.asyncio import AsyncSession
from websockets.asyncio.client import ClientConnection, connect
from websockets.exceptions import ConnectionClosed, InvalidStatus

from app.models import User
from app.repositories import EventRepository, TokenRepository, UserRepository
from app.websocket import FORBIDDEN_CLOSE_CODE, UNAUTHORIZED_CLOSE_CODE
from core.database.broadcast import InMemoryBroadcaster
from tests.support import bearer, serve
from tests.test_sse import STREAM_DEADLINE, api_app, subscribers_gone

__all__ = ["api_app"]  # the fixture with the test routes, shared with the SSE tests


async def receive(socket: ClientConnection) -> dict[str, Any]:
    return dict(json.loads(await socket.recv()))


def ws_url(base_url: str, path: str) -> str:
    return base_url.replace("http://", "ws://") + path


async def test_websocket_delivers_committed_events_in_order(
    api_app: FastAPI,
    broadcaster: InMemoryBroadcaster,
    db_session: AsyncSession,
    user: User,
    user_secret: str,
) -> None:
    user_id = user.id
    async with (
        asyncio.timeout(STREAM_DEADLINE),
        serve(api_app) as base_url,
        httpx.AsyncClient(base_url=base_url, headers=bearer(user_secret)) as http,
    ):
        url = ws_url(base_url, f"/users/{user_id}/events/ws")
        async with connect(url, additional_headers=bearer(user_secret)) as socket:
            assert await receive(socket) == {"type": "subscribed"}
            failed = await http.post(
                f"/test/users/{user_id}/events/rolled-back", json={"kind": "rolled-back"}
            )
            assert failed.status_code == 418
            sent, received = [], []
            for n in range(3):
                # One at a time: the test's sessions share one connection, so the stream's
                # read must not overlap the next request's transaction.
                created = await http.post(
                    f"/users/{user_id}/events", json={"kind": "k", "payload": {"n": n}}
                )
                assert created.status_code == 201
                sent.append(created.json())
                received.append(await receive(socket))
        assert received == [{"type": "event", "id": e["position"], "event": e} for e in sent]
        assert [e["position"] for e in sent] == [1, 2, 3]  # the rolled-back one took none
        await subscribers_gone(broadcaster)  # the client left: its subscription is gone


async def test_websocket_resumes_after_the_last_position_with_a_query_token(
    api_app: FastAPI,
    broadcaster: InMemoryBroadcaster,
    db_session: AsyncSession,
    user: User,
    user_secret: str,
) -> None:
    user_id = user.id
    events = EventRepository(db_session)
    await events.create(user_id, kind="seen")
    await events.create(user_id, kind="missed")
    await db_session.commit()
    async with (
        asyncio.timeout(STREAM_DEADLINE),
        serve(api_app) as base_url,
        httpx.AsyncClient(base_url=base_url, headers=bearer(user_secret)) as http,
    ):
        # A browser's WebSocket cannot send headers: the token may come as access_token.
        path = f"/users/{user_id}/events/ws?after=1&access_token={user_secret}"
        async with connect(ws_url(base_url, path)) as socket:
            assert await receive(socket) == {"type": "subscribed"}
            missed = await receive(socket)
            assert (missed["id"], missed["event"]["kind"]) == (2, "missed")
            live = await http.post(f"/users/{user_id}/events", json={"kind": "live"})
            assert (await receive(socket))["id"] == live.json()["position"] == 3
        await subscribers_gone(broadcaster)


@pytest.mark.parametrize("after", ["-1", "x", str(2**63)])
async def test_websocket_refuses_a_bad_position_at_the_handshake(
    api_app: FastAPI, db_session: AsyncSession, user: User, user_secret: str, after: str
) -> None:
    async with asyncio.timeout(STREAM_DEADLINE), serve(api_app) as base_url:
        path = f"/users/{user.id}/events/ws?after={after}"
        with pytest.raises(InvalidStatus) as refused:
            async with connect(ws_url(base_url, path), additional_headers=bearer(user_secret)):
                pass
        assert refused.value.response.status_code == 403


async def close_code(base_url: str, path: str, headers: dict[str, str]) -> int:
    async with connect(ws_url(base_url, path), additional_headers=headers) as socket:
        with pytest.raises(ConnectionClosed) as closed:
            await socket.recv()
    assert closed.value.rcvd is not None
    return closed.value.rcvd.code


async def test_websocket_wants_the_users_own_valid_token(
    api_app: FastAPI,
    broadcaster: InMemoryBroadcaster,
    db_session: AsyncSession,
    user: User,
    user_secret: str,
) -> None:
    other = await UserRepository(db_session).create(email="bob@example.org")
    _token, other_secret = await TokenRepository(db_session).issue(other.id)
    revoked, revoked_secret = await TokenRepository(db_session).issue(user.id)
    await TokenRepository(db_session).revoke(revoked.id)
    await db_session.commit()
    path = f"/users/{user.id}/events/ws"
    async with asyncio.timeout(STREAM_DEADLINE), serve(api_app) as base_url:
        assert await close_code(base_url, path, {}) == UNAUTHORIZED_CLOSE_CODE
        assert await close_code(base_url, path, bearer("not-a-token")) == UNAUTHORIZED_CLOSE_CODE
        assert await close_code(base_url, path, bearer(revoked_secret)) == UNAUTHORIZED_CLOSE_CODE
        assert await close_code(base_url, path, bearer(other_secret)) == FORBIDDEN_CLOSE_CODE
        unknown = "/users/999999/events/ws"
        assert await close_code(base_url, unknown, bearer(user_secret)) == FORBIDDEN_CLOSE_CODE
    assert broadcaster.subscriber_count() == 0  # none of them was subscribed
