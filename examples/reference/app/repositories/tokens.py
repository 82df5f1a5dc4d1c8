"""`TokenRepository`: API tokens whose secret is shown once and stored only as a hash."""

from __future__ import annotations

import hashlib
import secrets
from collections.abc import Sequence
from datetime import timedelta

from sqlalchemy import select

from app.models import Token
from app.repositories.base import DEFAULT_PAGE_SIZE, Repository, require_user
from core.database import utcnow

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
        """The token this secret belongs to if it is neither revoked nor expired, else None."""
        token = await self.session.scalar(
            select(Token).where(Token.secret_hash == hash_secret(secret))
        )
        if token is None or token.revoked or token.expires_at <= utcnow():
            return None
        return token

    async def revoke(self, token_id: int) -> Token:
        """Mark the token revoked (idempotent); NotFoundError if there is none."""
        token = await self.get(token_id)
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
