"""The HTTP API: status codes for good and bad input, on both backends."""

from __future__ import annotations

import logging
from typing import Any

import httpx
import pytest

from app.fields import MAX_JSON_DEPTH
from core.database import Database, set_database


async def make_user(client: httpx.AsyncClient, email: str = "ann@example.org") -> dict[str, Any]:
    response = await client.post("/users", json={"email": email, "name": "Ann"})
    assert response.status_code == 201, response.text
    return dict(response.json())


# --- users -------------------------------------------------------------------------------


async def test_create_and_read_user(client: httpx.AsyncClient) -> None:
    created = await make_user(client, "  Ann@Example.ORG ")
    assert created["email"] == "ann@example.org"
    assert created["created_at"].endswith("Z") or created["created_at"].endswith("+00:00")

    response = await client.get(f"/users/{created['id']}")
    assert response.status_code == 200
    assert response.json() == created


async def test_duplicate_email_is_409(client: httpx.AsyncClient) -> None:
    await make_user(client)
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
    assert (await client.get(f"/users/{user_id}")).status_code == 422
    assert (await client.get(f"/users/{user_id}/events")).status_code == 422


async def test_unknown_user_is_404(client: httpx.AsyncClient) -> None:
    unknown = 2**63 - 1
    assert (await client.get(f"/users/{unknown}")).status_code == 404
    assert (await client.patch(f"/users/{unknown}", json={"name": "x"})).status_code == 404
    assert (await client.delete(f"/users/{unknown}")).status_code == 404
    assert (await client.post(f"/users/{unknown}/tokens")).status_code == 404
    assert (await client.get(f"/users/{unknown}/tokens")).status_code == 404
    assert (await client.post(f"/users/{unknown}/events", json={"kind": "k"})).status_code == 404
    assert (await client.get(f"/users/{unknown}/events")).status_code == 404
    assert (await client.get(f"/users/{unknown}/events/stream")).status_code == 404


async def test_list_users_in_pages(client: httpx.AsyncClient) -> None:
    ids = [(await make_user(client, f"u{n}@example.org"))["id"] for n in range(3)]
    first = (await client.get("/users", params={"limit": 2})).json()
    assert [u["id"] for u in first["items"]] == ids[:2]
    assert first["next_after_id"] == ids[1]
    second = (await client.get("/users", params={"limit": 2, "after_id": ids[1]})).json()
    assert [u["id"] for u in second["items"]] == ids[2:]
    assert second["next_after_id"] is None
    assert (await client.get("/users", params={"limit": 0})).status_code == 422
    assert (await client.get("/users", params={"limit": 501})).status_code == 422


async def test_update_user(client: httpx.AsyncClient) -> None:
    ann = await make_user(client)
    await make_user(client, "bob@example.org")
    response = await client.patch(f"/users/{ann['id']}", json={"name": "Annie"})
    assert response.status_code == 200
    assert response.json()["name"] == "Annie"
    assert response.json()["email"] == "ann@example.org"

    taken = await client.patch(f"/users/{ann['id']}", json={"email": "Bob@example.org"})
    assert taken.status_code == 409
    assert (await client.patch(f"/users/{ann['id']}", json={"email": None})).status_code == 422
    cleared = await client.patch(f"/users/{ann['id']}", json={"name": None})
    assert cleared.json()["name"] is None


async def test_delete_user_takes_tokens_and_events(client: httpx.AsyncClient) -> None:
    ann = await make_user(client)
    await client.post(f"/users/{ann['id']}/tokens")
    await client.post(f"/users/{ann['id']}/events", json={"kind": "login"})

    assert (await client.delete(f"/users/{ann['id']}")).status_code == 204
    assert (await client.get(f"/users/{ann['id']}")).status_code == 404
    assert (await client.delete(f"/users/{ann['id']}")).status_code == 404
    stats = (await client.get("/stats")).json()
    assert (stats["users"], stats["tokens"], stats["events"]) == (0, 0, 0)


# --- tokens ------------------------------------------------------------------------------


async def test_issue_verify_revoke_token(client: httpx.AsyncClient) -> None:
    ann = await make_user(client)
    issued = await client.post(f"/users/{ann['id']}/tokens", json={"name": "cli", "days": 7})
    assert issued.status_code == 201
    token = issued.json()
    secret = token.pop("secret")

    listed = (await client.get(f"/users/{ann['id']}/tokens")).json()
    assert listed["items"] == [token]  # never the secret again

    verified = await client.post("/tokens/verify", json={"secret": secret})
    assert verified.status_code == 200
    assert verified.json()["id"] == token["id"]
    wrong = await client.post("/tokens/verify", json={"secret": "nope"})
    assert wrong.status_code == 401
    assert "nope" not in wrong.text

    revoked = await client.post(f"/tokens/{token['id']}/revoke")
    assert revoked.status_code == 200
    assert revoked.json()["revoked"] is True
    assert (await client.post("/tokens/verify", json={"secret": secret})).status_code == 401
    assert (await client.post("/tokens/424242/revoke")).status_code == 404


async def test_token_without_body_gets_defaults(client: httpx.AsyncClient) -> None:
    ann = await make_user(client)
    response = await client.post(f"/users/{ann['id']}/tokens")
    assert response.status_code == 201
    assert response.json()["name"] is None


@pytest.mark.parametrize("body", [{"days": 0}, {"days": 366}, {"days": "x"}, {"other": 1}])
async def test_invalid_token_body_is_422(client: httpx.AsyncClient, body: dict[str, Any]) -> None:
    ann = await make_user(client)
    assert (await client.post(f"/users/{ann['id']}/tokens", json=body)).status_code == 422


async def test_validation_errors_do_not_echo_the_input(client: httpx.AsyncClient) -> None:
    response = await client.post("/tokens/verify", json={"secret": "s3cr3t", "extra": "s3cr3t"})
    assert response.status_code == 422
    assert "s3cr3t" not in response.text


# --- events ------------------------------------------------------------------------------


async def test_record_and_list_events(client: httpx.AsyncClient) -> None:
    ann = await make_user(client)
    url = f"/users/{ann['id']}/events"
    first = await client.post(url, json={"kind": "login", "payload": {"ip": "10.0.0.1"}})
    assert first.status_code == 201
    assert first.json()["payload"] == {"ip": "10.0.0.1"}
    second = await client.post(url, json={"kind": "logout"})
    assert second.json()["payload"] == {}

    page = (await client.get(url, params={"limit": 1})).json()
    assert [e["kind"] for e in page["items"]] == ["login"]
    rest = (await client.get(url, params={"after_id": page["next_after_id"]})).json()
    assert [e["kind"] for e in rest["items"]] == ["logout"]


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
    ann = await make_user(client)
    response = await client.post(
        f"/users/{ann['id']}/events", content=raw, headers={"content-type": "application/json"}
    )
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
    ann = await make_user(client)
    body = {"kind": "deep", "payload": nested(depth)}
    response = await client.post(f"/users/{ann['id']}/events", json=body)
    assert response.status_code == status


# --- stats and health --------------------------------------------------------------------


async def test_stats(client: httpx.AsyncClient) -> None:
    empty = (await client.get("/stats")).json()
    assert empty == {"users": 0, "tokens": 0, "active_tokens": 0, "events": 0, "events_by_kind": {}}

    ann = await make_user(client)
    token = (await client.post(f"/users/{ann['id']}/tokens")).json()
    await client.post(f"/users/{ann['id']}/tokens")
    await client.post(f"/tokens/{token['id']}/revoke")
    for kind in ("login", "login", "logout"):
        await client.post(f"/users/{ann['id']}/events", json={"kind": kind})

    stats = (await client.get("/stats")).json()
    assert stats == {
        "users": 1,
        "tokens": 2,
        "active_tokens": 1,
        "events": 3,
        "events_by_kind": {"login": 2, "logout": 1},
    }


async def test_health_ok(client: httpx.AsyncClient, dialect: str) -> None:
    response = await client.get("/health")
    assert response.status_code == 200
    assert response.json() == {"status": "ok", "database": dialect}


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
    assert response.json() == {"status": "unavailable", "database": "postgresql"}
    assert any("health check failed" in record.getMessage() for record in caplog.records)
    assert "S3cretPw" not in caplog.text
