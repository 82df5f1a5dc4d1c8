"""No route lets one user read or change another's data: every route of the OpenAPI
document, with no token, a bad one, another user's, an expired and a revoked one."""

from __future__ import annotations

import asyncio
from datetime import timedelta
from typing import Any

import httpx
import pytest
from fastapi import FastAPI
from sqlalchemy.ext.asyncio import AsyncSession
from starlette.types import Receive, Scope, Send

from app.repositories import TokenRepository
from core.database import utcnow
from tests.support import Account, bearer, sign_up

# Open by design: sign-up (returns the first token), checking a secret given in the
# body, and the operator endpoints, which show counts and no user's rows.
OPEN = {
    ("post", "/users"),
    ("post", "/tokens/verify"),
    ("get", "/health"),
    ("get", "/stats"),
}
# A valid body for each protected write, so a refusal can only come from authorisation.
BODIES: dict[tuple[str, str], dict[str, Any]] = {
    ("patch", "/users/{user_id}"): {"name": "taken over"},
    ("post", "/users/{user_id}/tokens"): {"name": "stolen", "days": 30},
    ("post", "/users/{user_id}/events"): {"kind": "forged", "payload": {"by": "intruder"}},
}
# Routes about the caller, not a user named in the path: another user's token gets
# that user's own data (and never the victim's).
ABOUT_THE_CALLER = {("get", "/users/me")}
METHODS = {"get", "post", "put", "patch", "delete"}
# A route that wrongly answered 200 to a stream request would never end: fail instead.
DEADLINE = 5


def operations(app: FastAPI) -> list[tuple[str, str, dict[str, Any]]]:
    return [
        (method, path, operation)
        for path, item in app.openapi()["paths"].items()
        for method, operation in item.items()
        if method in METHODS
    ]


def test_only_the_open_routes_lack_a_security_requirement(api_app: FastAPI) -> None:
    unprotected = {(m, p) for m, p, op in operations(api_app) if not op.get("security")}
    assert unprotected == OPEN


def test_the_openapi_document_declares_the_bearer_scheme(api_app: FastAPI) -> None:
    document = api_app.openapi()
    schemes = document["components"]["securitySchemes"]
    assert schemes["APIToken"] == {
        "type": "http",
        "scheme": "bearer",
        "description": schemes["APIToken"]["description"],
    }
    stream = document["paths"]["/users/{user_id}/events/stream"]["get"]
    assert {"StreamAccessToken": []} in stream["security"]
    others = [op for m, p, op in operations(api_app) if "stream" not in p and op.get("security")]
    assert all(op["security"] == [{"APIToken": []}] for op in others)


async def expired_secret(session: AsyncSession, user_id: int) -> str:
    tokens = TokenRepository(session)
    token, secret = await tokens.issue(user_id, name="expired")
    await tokens.update(token.id, expires_at=utcnow() - timedelta(seconds=1))
    await session.commit()
    return secret


async def revoked_secret(client: httpx.AsyncClient, victim: Account) -> str:
    issued = await client.post(f"/users/{victim.id}/tokens", headers=victim.auth)
    token = issued.json()
    revoked = await client.post(f"/tokens/{token['id']}/revoke", headers=victim.auth)
    assert revoked.status_code == 200
    return str(token["secret"])


async def snapshot(client: httpx.AsyncClient, victim: Account) -> dict[str, Any]:
    """The victim's data as the victim sees it."""
    user = await client.get(f"/users/{victim.id}", headers=victim.auth)
    tokens = await client.get(f"/users/{victim.id}/tokens", headers=victim.auth)
    events = await client.get(f"/users/{victim.id}/events", headers=victim.auth)
    assert {user.status_code, tokens.status_code, events.status_code} == {200}
    return {"user": user.json(), "tokens": tokens.json(), "events": events.json()}


async def test_no_route_acts_for_a_user_without_that_users_valid_token(
    api_app: FastAPI, client: httpx.AsyncClient, db_session: AsyncSession
) -> None:
    victim = await sign_up(client, "victim@example.org")
    intruder = await sign_up(client, "intruder@example.org")
    await client.post(f"/users/{victim.id}/events", json={"kind": "private"}, headers=victim.auth)
    credentials: dict[str, tuple[dict[str, str], set[int]]] = {
        "no token": ({}, {401}),
        "not bearer": ({"Authorization": f"Basic {victim.secret}"}, {401}),
        "empty bearer": ({"Authorization": "Bearer "}, {401}),
        "unknown token": (bearer("x" * 43), {401}),
        "expired token": (bearer(await expired_secret(db_session, victim.id)), {401}),
        "revoked token": (bearer(await revoked_secret(client, victim)), {401}),
        # Authenticated, but not as the victim: forbidden, or no such token of theirs.
        "another user's token": (intruder.auth, {403, 404}),
    }
    before = await snapshot(client, victim)
    path_values = {"user_id": victim.id, "token_id": victim.token_id}
    checked = 0
    for method, template, _operation in operations(api_app):
        if (method, template) in OPEN:
            continue
        path = template.format(**path_values)
        for name, (headers, refusals) in credentials.items():
            allowed = refusals
            if (method, template) in ABOUT_THE_CALLER and headers == intruder.auth:
                allowed = {200}
            async with asyncio.timeout(DEADLINE):
                response = await client.request(
                    method, path, json=BODIES.get((method, template)), headers=headers
                )
            where = f"{method.upper()} {path} with {name}"
            assert response.status_code in allowed, f"{where}: {response.status_code}"
            assert victim.email not in response.text, where
            if response.status_code == 401:
                assert response.headers["WWW-Authenticate"].startswith("Bearer"), where
            checked += 1
    assert checked >= 9 * len(credentials)  # every protected route was tried
    assert await snapshot(client, victim) == before


async def test_the_stream_refuses_bad_query_tokens_too(
    client: httpx.AsyncClient, db_session: AsyncSession
) -> None:
    victim = await sign_up(client, "victim@example.org")
    intruder = await sign_up(client, "intruder@example.org")
    url = f"/users/{victim.id}/events/stream"
    cases = {
        "x" * 43: 401,
        await expired_secret(db_session, victim.id): 401,
        await revoked_secret(client, victim): 401,
        intruder.secret: 403,
    }
    for secret, status in cases.items():
        async with asyncio.timeout(DEADLINE):
            response = await client.get(url, params={"access_token": secret})
        assert response.status_code == status


@pytest.mark.parametrize(
    ("method", "path"),
    [("get", "/users/{id}"), ("get", "/users/{id}/events"), ("get", "/users/me")],
)
async def test_the_query_token_opens_nothing_but_the_stream(
    client: httpx.AsyncClient, method: str, path: str
) -> None:
    ann = await sign_up(client)
    response = await client.request(
        method, path.format(id=ann.id), params={"access_token": ann.secret}
    )
    assert response.status_code == 401


async def test_the_query_token_is_redacted_before_the_server_logs_the_request(
    api_app: FastAPI, db_session: AsyncSession
) -> None:
    # Servers log the request line from the scope after the app answered: the
    # secret must be gone from it by then, whether or not it was valid.
    seen: list[bytes] = []

    async def recording(scope: Scope, receive: Receive, send: Send) -> None:
        await api_app(scope, receive, send)
        seen.append(scope["query_string"])

    transport = httpx.ASGITransport(app=recording)
    async with httpx.AsyncClient(transport=transport, base_url="http://test") as http:
        ann = await sign_up(http)
        bob = await sign_up(http, "bob@example.org")
        url = f"/users/{ann.id}/events/stream"
        for secret in (bob.secret, "not-a-secret"):
            async with asyncio.timeout(DEADLINE):
                response = await http.get(url, params={"access_token": secret, "x": "1"})
            assert response.status_code in {401, 403}
    logged = seen[-2:]
    assert logged == [b"access_token=redacted&x=1"] * 2
