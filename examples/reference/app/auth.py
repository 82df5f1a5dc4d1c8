"""Who is calling: an API token's secret as a bearer token, and the user it acts for.

Every route that acts on a user takes `Authorization: Bearer <secret>` of a token
of that user: unknown, revoked and expired secrets are a 401 (one answer for all
three), a valid token of another user is a 403. The event stream alone also
takes the secret as `?access_token=`, because a browser's EventSource cannot
send headers.
"""

from __future__ import annotations

from typing import Annotated
from urllib.parse import parse_qsl, urlencode

from fastapi import Depends, HTTPException, Request
from fastapi.security import APIKeyQuery, HTTPAuthorizationCredentials, HTTPBearer
from starlette.requests import HTTPConnection

from app.deps import RowId
from app.models import Token
from app.repositories import TokenRepository
from core.database import SessionDep

__all__ = ["CallerToken", "OwnUserId", "StreamUserId", "redact_access_token"]

bearer = HTTPBearer(
    auto_error=False,
    scheme_name="APIToken",
    description="The secret of an API token (`POST /users` returns the first one).",
)
query_token = APIKeyQuery(
    name="access_token",
    auto_error=False,
    scheme_name="StreamAccessToken",
    description="The same secret as a query parameter: `GET /users/{user_id}/events/stream` only.",
)


async def _verified(secret: str | None, session: SessionDep) -> Token:
    # RFC 6750: a 401 names the scheme it wants, and says when the token sent was bad.
    if not secret:
        raise HTTPException(401, "a bearer token is required", {"WWW-Authenticate": "Bearer"})
    token = await TokenRepository(session).verify(secret)
    if token is None:
        challenge = {"WWW-Authenticate": 'Bearer error="invalid_token"'}
        raise HTTPException(401, "invalid, expired or revoked token", challenge)
    return token


async def caller_token(
    credentials: Annotated[HTTPAuthorizationCredentials | None, Depends(bearer)],
    session: SessionDep,
) -> Token:
    """The valid token the request carries in `Authorization: Bearer`, else a 401."""
    return await _verified(credentials.credentials if credentials else None, session)


CallerToken = Annotated[Token, Depends(caller_token)]


def _own(user_id: int, token: Token) -> int:
    if token.user_id != user_id:
        # Also for a user that does not exist: a token is no way to probe for ids.
        raise HTTPException(status_code=403, detail="this token does not act for that user")
    return user_id


async def own_user_id(user_id: RowId, token: CallerToken) -> int:
    """The path's `user_id`, if the caller's token belongs to that user; else 403."""
    return _own(user_id, token)


def redact_access_token(request: HTTPConnection) -> None:
    """Blank `?access_token=` in the scope (HTTP or WebSocket) before the server logs it."""
    # Servers log the request line from the scope once the app has answered
    # (uvicorn's access log does): a secret left in the query string would be logged.
    pairs = parse_qsl(request.scope["query_string"].decode("latin-1"), keep_blank_values=True)
    redacted = [(key, "redacted" if key == query_token.model.name else v) for key, v in pairs]
    request.scope["query_string"] = urlencode(redacted).encode("latin-1")


async def stream_user_id(
    user_id: RowId,
    request: Request,
    credentials: Annotated[HTTPAuthorizationCredentials | None, Depends(bearer)],
    access_token: Annotated[str | None, Depends(query_token)],
    session: SessionDep,
) -> int:
    """`own_user_id` for the event stream: the header, else `?access_token=`."""
    if access_token is not None:
        redact_access_token(request)
    secret = credentials.credentials if credentials else access_token
    return _own(user_id, await _verified(secret, session))


OwnUserId = Annotated[int, Depends(own_user_id)]
StreamUserId = Annotated[int, Depends(stream_user_id)]
