"""The HTTP API: status codes for good and bad input, on both backends."""

from __future__ import annotations

import logging
from typing import Any

import httpx
import pytest

from app.fields import MAX_JSON_DEPTH
from core.database import Database, set_database
from tests.support import bearer, sign_up

# --- users -------------------------------------------------------------------------------


async def test_create_user_returns_its_first_token(client: httpx.AsyncClient) -> None:
    response = await client.post("/users", json={"email": "  Ann@Example.ORG ", "name": "Ann"})
    assert response.status_code == 201
    created = response.json()
    token = created.pop("token")
    assert created["email"] == "ann@example.org"
    assert created["created_at"].endswith("Z") or created["created_at"].endswith("+00:00")
    assert token["user_id"] == created["id"]
    assert token["revoked"] is False

    mine = await client.get(f"/users/{created['id']}", headers=bearer(token["secret"]))
    assert mine.status_code == 200
    assert mine.json() == created
    me = await client.get("/users/me", headers=bearer(token["secret"]))
    assert me.json() == created


async def test_duplicate_email_is_409(client: httpx.AsyncClient) -> None:
    await sign_up(client)
    response = await client.post("/users", json={"email": "ANN@example.org"})
    assert response.status_code == 409
    assert "unique" in response.json()["detail"]


@pytest.mark.parametrize(
    "body",
    [
        {},
        {"email": "not-an-email"},
        {"email": ""},
        {"email": "a@b.c", "extra": 1},
        {"email": "a\x00b@example.org"},
        {"email": "x" * 400 + "@example.org"},
        # 307 characters, 607 once lowercased: too long for the column on either backend.
        {"email": "\u0130" * 300 + "@ex.org"},
        {"email": "a\tb@example.org"},
        {"email": "a@example.org", "name": ""},
        {"email": 5},
    ],
)
async def test_invalid_user_body_is_422(client: httpx.AsyncClient, body: dict[str, Any]) -> None:
    response = await client.post("/users", json=body)
    assert response.status_code == 422


async def test_malformed_json_is_422(client: httpx.AsyncClient) -> None:
    response = await client.post(
        "/users", content=b'{"email": ', headers={"content-type": "application/json"}
    )
    assert response.status_code == 422


@pytest.mark.parametrize("user_id", ["0", "-1", "abc", str(2**63), str(10**30)])
async def test_bad_ids_are_422(client: httpx.AsyncClient, user_id: str) -> None:
    ann = await sign_up(client)
    assert (await client.get(f"/users/{user_id}", headers=ann.auth)).status_code == 422
    assert (await client.get(f"/users/{user_id}/events", headers=ann.auth)).status_code == 422


async def test_other_and_unknown_ids_are_403_alike(client: httpx.AsyncClient) -> None:
    # A valid token acts for its own user only; for any other id (existing or not) the
    # answer is the same, so a token is no way to probe which users exist.
    ann = await sign_up(client)
    bob = await sign_up(client, "bob@example.org")
    for other in (bob.id, 2**63 - 1):
        calls = [
            client.get(f"/users/{other}", headers=ann.auth),
            client.patch(f"/users/{other}", json={"name": "x"}, headers=ann.auth),
            client.delete(f"/users/{other}", headers=ann.auth),
            client.post(f"/users/{other}/tokens", headers=ann.auth),
            client.get(f"/users/{other}/tokens", headers=ann.auth),
            client.post(f"/users/{other}/events", json={"kind": "k"}, headers=ann.auth),
            client.get(f"/users/{other}/events", headers=ann.auth),
            client.get(f"/users/{other}/events/stream", headers=ann.auth),
        ]
        for call in calls:
            response = await call
            assert response.status_code == 403, (response.request.url, response.text)


async def test_users_cannot_be_listed(client: httpx.AsyncClient) -> None:
    # No route hands out other users' emails: there is only "me".
    ann = await sign_up(client)
    assert (await client.get("/users", headers=ann.auth)).status_code == 405


async def test_update_user(client: httpx.AsyncClient) -> None:
    ann = await sign_up(client)
    await sign_up(client, "bob@example.org")
    url = f"/users/{ann.id}"
    response = await client.patch(url, json={"name": "Annie"}, headers=ann.auth)
    assert response.status_code == 200
    assert response.json()["name"] == "Annie"
    assert response.json()["email"] == "ann@example.org"

    taken = await client.patch(url, json={"email": "Bob@example.org"}, headers=ann.auth)
    assert taken.status_code == 409
    assert (await client.patch(url, json={"email": None}, headers=ann.auth)).status_code == 422
    cleared = await client.patch(url, json={"name": None}, headers=ann.auth)
    assert cleared.json()["name"] is None


async def test_delete_user_takes_tokens_and_events(client: httpx.AsyncClient) -> None:
    ann = await sign_up(client)
    await client.post(f"/users/{ann.id}/tokens", headers=ann.auth)
    await client.post(f"/users/{ann.id}/events", json={"kind": "login"}, headers=ann.auth)

    assert (await client.delete(f"/users/{ann.id}", headers=ann.auth)).status_code == 204
    # Its tokens went with it: the same secret now opens nothing.
    assert (await client.get(f"/users/{ann.id}", headers=ann.auth)).status_code == 401
    stats = (await client.get("/stats")).json()
    assert (stats["users"], stats["tokens"], stats["events"]) == (0, 0, 0)


# --- tokens ------------------------------------------------------------------------------


async def test_issue_verify_revoke_token(client: httpx.AsyncClient) -> None:
    ann = await sign_up(client)
    issued = await client.post(
        f"/users/{ann.id}/tokens", json={"name": "cli", "days": 7}, headers=ann.auth
    )
    assert issued.status_code == 201
    token = issued.json()
    secret = token.pop("secret")

    listed = (await client.get(f"/users/{ann.id}/tokens", headers=ann.auth)).json()
    assert [t["id"] for t in listed["items"]] == [ann.token_id, token["id"]]
    assert listed["items"][1] == token  # never the secret again
    assert all("secret" not in t for t in listed["items"])

    verified = await client.post("/tokens/verify", json={"secret": secret})
    assert verified.status_code == 200
    assert verified.json()["id"] == token["id"]
    wrong = await client.post("/tokens/verify", json={"secret": "nope"})
    assert wrong.status_code == 401
    assert "nope" not in wrong.text

    revoked = await client.post(f"/tokens/{token['id']}/revoke", headers=ann.auth)
    assert revoked.status_code == 200
    assert revoked.json()["revoked"] is True
    assert (await client.post("/tokens/verify", json={"secret": secret})).status_code == 401
    assert (await client.get("/users/me", headers=bearer(secret))).status_code == 401
    assert (await client.post("/tokens/424242/revoke", headers=ann.auth)).status_code == 404


async def test_revoking_another_users_token_is_404(client: httpx.AsyncClient) -> None:
    ann = await sign_up(client)
    bob = await sign_up(client, "bob@example.org")
    response = await client.post(f"/tokens/{bob.token_id}/revoke", headers=ann.auth)
    assert response.status_code == 404
    assert (await client.get("/users/me", headers=bob.auth)).status_code == 200


async def test_a_token_can_revoke_itself(client: httpx.AsyncClient) -> None:
    ann = await sign_up(client)
    response = await client.post(f"/tokens/{ann.token_id}/revoke", headers=ann.auth)
    assert response.status_code == 200
    assert (await client.get("/users/me", headers=ann.auth)).status_code == 401


async def test_token_without_body_gets_defaults(client: httpx.AsyncClient) -> None:
    ann = await sign_up(client)
    response = await client.post(f"/users/{ann.id}/tokens", headers=ann.auth)
    assert response.status_code == 201
    assert response.json()["name"] is None


@pytest.mark.parametrize("body", [{"days": 0}, {"days": 366}, {"days": "x"}, {"other": 1}])
async def test_invalid_token_body_is_422(client: httpx.AsyncClient, body: dict[str, Any]) -> None:
    ann = await sign_up(client)
    response = await client.post(f"/users/{ann.id}/tokens", json=body, headers=ann.auth)
    assert response.status_code == 422


async def test_validation_errors_do_not_echo_the_input(client: httpx.AsyncClient) -> None:
    response = await client.post("/tokens/verify", json={"secret": "s3cr3t", "extra": "s3cr3t"})
    assert response.status_code == 422
    assert "s3cr3t" not in response.text


# --- events ------------------------------------------------------------------------------


async def test_record_and_list_events(client: httpx.AsyncClient) -> None:
    ann = await sign_up(client)
    url = f"/users/{ann.id}/events"
    first = await client.post(
        url, json={"kind": "login", "payload": {"ip": "10.0.0.1"}}, headers=ann.auth
    )
    assert first.status_code == 201
    assert first.json()["payload"] == {"ip": "10.0.0.1"}
    assert first.json()["position"] == 1
    second = await client.post(url, json={"kind": "logout"}, headers=ann.auth)
    assert second.json()["payload"] == {}
    assert second.json()["position"] == 2

    page = (await client.get(url, params={"limit": 1}, headers=ann.auth)).json()
    assert [e["kind"] for e in page["items"]] == ["login"]
    after = {"after_id": page["next_after_id"]}
    rest = (await client.get(url, params=after, headers=ann.auth)).json()
    assert [e["kind"] for e in rest["items"]] == ["logout"]
    assert (await client.get(url, params={"limit": 0}, headers=ann.auth)).status_code == 422
    assert (await client.get(url, params={"limit": 501}, headers=ann.auth)).status_code == 422


async def test_positions_count_per_user(client: httpx.AsyncClient) -> None:
    ann = await sign_up(client)
    bob = await sign_up(client, "bob@example.org")
    positions = []
    for account in (ann, bob, ann, bob, ann):
        response = await client.post(
            f"/users/{account.id}/events", json={"kind": "k"}, headers=account.auth
        )
        positions.append((account.id, response.json()["position"]))
    assert positions == [(ann.id, 1), (bob.id, 1), (ann.id, 2), (bob.id, 2), (ann.id, 3)]


@pytest.mark.parametrize(
    "raw",
    [
        b'{"kind": ""}',
        b'{"kind": "   "}',
        b'{"kind": "' + b"k" * 65 + b'"}',
        b'{"kind": "a\\u0000b"}',
        b'{"kind": "k", "payload": [1, 2]}',
        b'{"kind": "k", "payload": {"v": NaN}}',
        b'{"kind": "k", "payload": {"v": [Infinity]}}',
        b'{"kind": "k", "payload": {"v": "a\\u0000"}}',
        b'{"kind": "k", "payload": {"a\\u0000": 1}}',
        b'{"kind": "k", "payload": "text"}',
        b'{"kind": "k", "payload": {"s": "\\ud800"}}',
        b'{"kind": "k", "payload": {"\\udfff": 1}}',
    ],
)
async def test_invalid_event_body_is_422_on_both_backends(
    client: httpx.AsyncClient, raw: bytes
) -> None:
    # Never a 500; and NUL or NaN, which SQLite would store and Postgres refuse, get
    # the same 422 on both.
    ann = await sign_up(client)
    headers = {"content-type": "application/json", **ann.auth}
    response = await client.post(f"/users/{ann.id}/events", content=raw, headers=headers)
    assert response.status_code == 422, response.text


def nested(depth: int) -> dict[str, Any]:
    payload: dict[str, Any] = {"leaf": 1}
    for _ in range(depth - 1):
        payload = {"a": payload}
    return payload


@pytest.mark.parametrize(
    ("depth", "status"), [(MAX_JSON_DEPTH, 201), (MAX_JSON_DEPTH + 1, 422), (500, 422)]
)
async def test_payload_nesting_is_bounded(
    client: httpx.AsyncClient, depth: int, status: int
) -> None:
    ann = await sign_up(client)
    body = {"kind": "deep", "payload": nested(depth)}
    response = await client.post(f"/users/{ann.id}/events", json=body, headers=ann.auth)
    assert response.status_code == status


# --- stats and health --------------------------------------------------------------------


async def test_stats(client: httpx.AsyncClient) -> None:
    empty = (await client.get("/stats")).json()
    assert empty == {"users": 0, "tokens": 0, "active_tokens": 0, "events": 0, "events_by_kind": {}}

    ann = await sign_up(client)  # with its first token
    token = (await client.post(f"/users/{ann.id}/tokens", headers=ann.auth)).json()
    await client.post(f"/users/{ann.id}/tokens", headers=ann.auth)
    await client.post(f"/tokens/{token['id']}/revoke", headers=ann.auth)
    for kind in ("login", "login", "logout"):
        await client.post(f"/users/{ann.id}/events", json={"kind": kind}, headers=ann.auth)

    stats = (await client.get("/stats")).json()
    assert stats == {
        "users": 1,
        "tokens": 3,
        "active_tokens": 2,
        "events": 3,
        "events_by_kind": {"login": 2, "logout": 1},
    }


async def test_health_ok(client: httpx.AsyncClient, dialect: str) -> None:
    response = await client.get("/health")
    assert response.status_code == 200
    body = response.json()
    if dialect == "sqlite":
        # The test's transaction holds the in-memory database's one connection.
        assert body == {
            "status": "saturated",
            "database": "sqlite",
            "pool_in_use": 1,
            "pool_limit": 1,
        }
    else:
        assert (body["status"], body["database"]) == ("ok", dialect)
        assert 0 <= body["pool_in_use"] < body["pool_limit"]


async def test_health_503_when_database_is_unreachable(
    client: httpx.AsyncClient, caplog: pytest.LogCaptureFixture
) -> None:
    # Nothing listens on port 1: the connection is refused at once.
    unreachable = Database("postgresql+asyncpg://probe:S3cretPw@127.0.0.1:1/app_test")
    previous = set_database(unreachable)
    try:
        with caplog.at_level(logging.DEBUG):
            response = await client.get("/health")
    finally:
        set_database(previous)
        await unreachable.dispose()
    assert response.status_code == 503
    body = response.json()
    assert (body["status"], body["database"]) == ("unavailable", "postgresql")
    assert any("health check failed" in record.getMessage() for record in caplog.records)
    assert "S3cretPw" not in caplog.text
