"""Helpers the reference app's tests share: accounts with their bearer token."""

from __future__ import annotations

from dataclasses import dataclass

import httpx

from core.database import Database


@dataclass(frozen=True)
class Account:
    """A user created through the API, with the secret of its first token."""

    id: int
    email: str
    token_id: int
    secret: str

    @property
    def auth(self) -> dict[str, str]:
        """The Authorization header that acts as this user."""
        return bearer(self.secret)


def bearer(secret: str) -> dict[str, str]:
    return {"Authorization": f"Bearer {secret}"}


async def sign_up(
    client: httpx.AsyncClient, email: str = "ann@example.org", name: str = "Ann"
) -> Account:
    """`POST /users`: the one open write, which returns the first token."""
    response = await client.post("/users", json={"email": email, "name": name})
    assert response.status_code == 201, response.text
    body = response.json()
    return Account(
        id=body["id"],
        email=body["email"],
        token_id=body["token"]["id"],
        secret=body["token"]["secret"],
    )


@dataclass(frozen=True)
class Committed:
    """The real database, and a mail domain of this test's own users."""

    database: Database
    tag: str

    @property
    def domain(self) -> str:
        return f"{self.tag}.committed.example"

    def email(self, name: str) -> str:
        return f"{name}@{self.domain}"
