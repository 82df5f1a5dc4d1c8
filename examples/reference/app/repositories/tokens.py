"""`TokenRepository`: API tokens whose secret is shown once and stored only as a hash."""

from __future__ import annotations

import hashlib
import hmac
import secrets
from collections.abc import Sequence
from datetime import timedelta

from sqlalchemy import select

from app.models import Token
from app.repositories.base import DEFAULT_PAGE_SIZE, Repository, require_user
from core.database import NotFoundError, utcnow

__all__ = ["DEFAULT_TOKEN_LIFETIME", "TokenRepository", "hash_secret"]

DEFAULT_TOKEN_LIFETIME = timedelta(days=30)
# 32 random bytes: 43 URL-safe characters, far beyond guessing.
SECRET_BYTES = 32


def hash_secret(secret: str) -> str:
    """The sha256 hex digest under which a token's secret is stored."""
    return hashlib.sha256(secret.encode()).hexdigest()


class TokenRepository(Repository[Token]):
    """Issue, verify, revoke, page through, update and delete tokens."""

    model = Token
    noun = "token"
    updatable = frozenset({"name", "expires_at"})

    async def issue(
        self,
        user_id: int,
        *,
        lifetime: timedelta = DEFAULT_TOKEN_LIFETIME,
        name: str | None = None,
    ) -> tuple[Token, str]:
        """A new token of the user and its plaintext secret: the only time it is available."""
        await require_user(self.session, user_id)
        secret = secrets.token_urlsafe(SECRET_BYTES)
        token = Token(
            user_id=user_id,
            name=name,
            secret_hash=hash_secret(secret),
            expires_at=utcnow() + lifetime,
        )
        return await self._add(token), secret

    async def verify(self, secret: str) -> Token | None:
        """The token this secret belongs to if it is neither revoked nor expired, else None.

        Looked up by the secret's hash, which reveals nothing about the secret;
        the stored hash is then compared in constant time.
        """
        digest = hash_secret(secret)
        token = await self.session.scalar(select(Token).where(Token.secret_hash == digest))
        if token is None or not hmac.compare_digest(token.secret_hash, digest):
            return None
        if token.revoked or token.expires_at <= utcnow():
            return None
        return token

    async def revoke(self, token_id: int, *, user_id: int | None = None) -> Token:
        """Mark the token revoked (idempotent); NotFoundError if there is none (of `user_id`)."""
        token = await self.get(token_id)
        if user_id is not None and token.user_id != user_id:
            # The same answer as for no token at all: ids of others' tokens stay unknown.
            raise NotFoundError(f"token {token_id} not found")
        if not token.revoked:
            token.revoked = True
            await self.session.flush()
        return token

    async def list(
        self,
        *,
        user_id: int | None = None,
        after_id: int | None = None,
        limit: int = DEFAULT_PAGE_SIZE,
    ) -> Sequence[Token]:
        """Up to `limit` tokens (of one user, if given) with an id above `after_id`."""
        statement = select(Token)
        if user_id is not None:
            statement = statement.where(Token.user_id == user_id)
        return await self._page(statement, after_id, limit)
