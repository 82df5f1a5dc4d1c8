"""Size limits: request bodies and event payloads over the limit are a 413 with a JSON body."""

from __future__ import annotations

import asyncio
import json
from collections.abc import AsyncIterator

import httpx
import pytest
from fastapi import FastAPI
from pydantic import ValidationError
from sqlalchemy import func, select
from sqlalchemy.ext.asyncio import AsyncSession
from starlette.types import Message, Receive, Scope, Send

from app.api import create_app
from app.limits import BodySizeLimit
from app.models import User
from app.settings import AppSettings
from core.database.broadcast import InMemoryBroadcaster
from tests.support import serve, sign_up

BODY_LIMIT = 2000
PAYLOAD_LIMIT = 500


@pytest.fixture
def api_app(broadcaster: InMemoryBroadcaster) -> FastAPI:
    limits = AppSettings(max_body_bytes=BODY_LIMIT, max_event_payload_bytes=PAYLOAD_LIMIT)
    return create_app(broadcaster, settings=limits)


def sign_up_body(size: int) -> bytes:
    """A valid `POST /users` body of exactly `size` bytes (JSON allows the padding)."""
    body = b'{"email": "pad@example.org"}'
    return body[:-1] + b" " * (size - len(body)) + b"}"


async def users(session: AsyncSession) -> int:
    return int(await session.scalar(select(func.count()).select_from(User)) or 0)


def assert_too_large(response: httpx.Response, what: str) -> None:
    assert response.status_code == 413, response.text
    assert response.headers["content-type"] == "application/json"
    assert what in response.json()["detail"]


@pytest.mark.parametrize(("size", "status"), [(BODY_LIMIT - 1, 201), (BODY_LIMIT, 201)])
async def test_a_body_up_to_the_limit_is_taken(
    client: httpx.AsyncClient, size: int, status: int
) -> None:
    headers = {"content-type": "application/json"}
    response = await client.post("/users", content=sign_up_body(size), headers=headers)
    assert response.status_code == status


@pytest.mark.parametrize("size", [BODY_LIMIT + 1, 10 * 1024 * 1024])
async def test_a_longer_body_is_refused_before_the_app_runs(
    client: httpx.AsyncClient, db_session: AsyncSession, size: int
) -> None:
    headers = {"content-type": "application/json"}
    response = await client.post("/users", content=sign_up_body(size), headers=headers)
    assert_too_large(response, f"larger than {BODY_LIMIT} bytes")
    assert await users(db_session) == 0


async def chunks(body: bytes, size: int = 256) -> AsyncIterator[bytes]:
    for start in range(0, len(body), size):
        yield body[start : start + size]


@pytest.mark.parametrize(("size", "status"), [(BODY_LIMIT, 201), (BODY_LIMIT + 1, 413)])
async def test_a_chunked_body_without_content_length_is_counted(
    client: httpx.AsyncClient, db_session: AsyncSession, size: int, status: int
) -> None:
    request = client.build_request(
        "POST",
        "/users",
        content=chunks(sign_up_body(size)),
        headers={"content-type": "application/json"},
    )
    assert "content-length" not in request.headers
    assert request.headers["transfer-encoding"] == "chunked"
    response = await client.send(request)
    assert response.status_code == status
    if status == 413:
        assert_too_large(response, f"larger than {BODY_LIMIT} bytes")
    assert await users(db_session) == (1 if status == 201 else 0)


async def test_a_chunked_body_is_not_read_past_the_limit(client: httpx.AsyncClient) -> None:
    # The app stops at the chunk that crosses the limit, not at the end of the body.
    sent = 0

    async def endless() -> AsyncIterator[bytes]:
        nonlocal sent
        while sent < 100 * BODY_LIMIT:
            sent += 100
            yield b" " * 100

    headers = {"content-type": "application/json"}
    response = await client.post("/users", content=endless(), headers=headers)
    assert response.status_code == 413
    assert sent <= BODY_LIMIT + 100


async def test_a_body_on_a_route_that_takes_none_is_still_bounded(
    client: httpx.AsyncClient,
) -> None:
    response = await client.request("GET", "/health", content=b"x" * (BODY_LIMIT + 1))
    assert_too_large(response, "request body")


def payload_of(size: int) -> dict[str, str]:
    """A payload whose compact JSON is exactly `size` bytes."""
    overhead = len(json.dumps({"s": ""}, separators=(",", ":")))
    return {"s": "é" * ((size - overhead) // 2) + "x" * ((size - overhead) % 2)}


@pytest.mark.parametrize(
    ("size", "status"), [(PAYLOAD_LIMIT - 1, 201), (PAYLOAD_LIMIT, 201), (PAYLOAD_LIMIT + 1, 413)]
)
async def test_event_payload_limit_counts_utf8_bytes(
    client: httpx.AsyncClient, size: int, status: int
) -> None:
    ann = await sign_up(client)
    payload = payload_of(size)
    assert len(json.dumps(payload, separators=(",", ":"), ensure_ascii=False).encode()) == size
    url = f"/users/{ann.id}/events"
    response = await client.post(url, json={"kind": "k", "payload": payload}, headers=ann.auth)
    assert response.status_code == status, response.text
    if status == 413:
        assert_too_large(response, f"event payload larger than {PAYLOAD_LIMIT} bytes")
        listed = await client.get(url, headers=ann.auth)
        assert listed.json()["items"] == []


async def test_defaults_are_one_mebibyte_bodies_and_64_kibibyte_payloads(
    db_session: AsyncSession,
) -> None:
    defaults = AppSettings()
    assert (defaults.max_body_bytes, defaults.max_event_payload_bytes) == (1024**2, 64 * 1024)
    app = create_app(InMemoryBroadcaster(), settings=defaults)
    transport = httpx.ASGITransport(app=app)
    async with httpx.AsyncClient(transport=transport, base_url="http://test") as http:
        ann = await sign_up(http)
        url = f"/users/{ann.id}/events"
        big = {"kind": "k", "payload": payload_of(64 * 1024 + 1)}
        assert_too_large(await http.post(url, json=big, headers=ann.auth), "event payload")
        huge = {"kind": "k", "payload": {"s": "x" * (1024**2)}}
        assert_too_large(await http.post(url, json=huge, headers=ann.auth), "request body")


def test_limits_come_from_the_environment(monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.setenv("APP_MAX_BODY_BYTES", "4096")
    monkeypatch.setenv("APP_MAX_EVENT_PAYLOAD_BYTES", "1024")
    assert AppSettings().max_body_bytes == 4096
    assert AppSettings().max_event_payload_bytes == 1024


def test_a_payload_limit_above_the_body_limit_is_refused() -> None:
    with pytest.raises(ValidationError, match="cannot exceed"):
        AppSettings(max_body_bytes=1000, max_event_payload_bytes=1001)


async def test_a_real_server_answers_413_to_an_oversized_upload(
    api_app: FastAPI, db_session: AsyncSession
) -> None:
    async with (
        asyncio.timeout(10),
        serve(api_app) as base_url,
        httpx.AsyncClient(base_url=base_url) as http,
    ):
        headers = {"content-type": "application/json"}
        declared = await http.post("/users", content=sign_up_body(10 * 1024**2), headers=headers)
        assert_too_large(declared, "request body")
        chunked = await http.post(
            "/users", content=chunks(sign_up_body(BODY_LIMIT * 4)), headers=headers
        )
        assert_too_large(chunked, "request body")
        # The server is still there for the next request.
        assert (await http.get("/health")).status_code == 200


async def test_a_declared_length_over_the_limit_reads_nothing() -> None:
    # The middleware alone: the app is never called and not one byte is received.
    calls: list[str] = []

    async def app(scope: Scope, receive: Receive, send: Send) -> None:
        calls.append("app")

    async def receive() -> Message:
        calls.append("receive")
        return {"type": "http.request", "body": b"", "more_body": True}

    sent: list[Message] = []

    async def send(message: Message) -> None:
        sent.append(message)

    scope = {
        "type": "http",
        "method": "POST",
        "path": "/users",
        "headers": [(b"content-length", str(BODY_LIMIT + 1).encode())],
    }
    await BodySizeLimit(app, max_bytes=BODY_LIMIT)(scope, receive, send)
    assert calls == []
    assert sent[0]["status"] == 413
    assert json.loads(sent[1]["body"]) == {"detail": f"request body larger than {BODY_LIMIT} bytes"}
