"""Tokens: issue more for yourself (each secret is shown once), list, verify, revoke."""

from __future__ import annotations

from typing import Annotated

from fastapi import APIRouter, Body, HTTPException

from app.auth import CallerToken, OwnUserId
from app.deps import AfterId, Limit, RowId
from app.repositories import DEFAULT_PAGE_SIZE, TokenRepository
from app.schemas import IssuedToken, Page, TokenCheck, TokenCreate, TokenRead
from core.database import SessionDep

__all__ = ["router"]

router = APIRouter(tags=["tokens"])


@router.post("/users/{user_id}/tokens", status_code=201)
async def issue_token(
    user_id: OwnUserId,
    session: SessionDep,
    body: Annotated[TokenCreate | None, Body()] = None,
) -> IssuedToken:
    """Issue another token; the response carries its secret, which is never shown again."""
    request = body or TokenCreate()
    token, secret = await TokenRepository(session).issue(
        user_id, lifetime=request.lifetime, name=request.name
    )
    return IssuedToken(**TokenRead.model_validate(token).model_dump(), secret=secret)


@router.get("/users/{user_id}/tokens")
async def list_tokens(
    user_id: OwnUserId,
    session: SessionDep,
    after_id: AfterId = None,
    limit: Limit = DEFAULT_PAGE_SIZE,
) -> Page[TokenRead]:
    """The user's tokens (without secrets), by id."""
    tokens = await TokenRepository(session).list(user_id=user_id, after_id=after_id, limit=limit)
    return Page.of(tokens, limit, TokenRead)


@router.post("/tokens/verify")
async def verify_token(body: TokenCheck, session: SessionDep) -> TokenRead:
    """The token a secret belongs to; 401 if unknown, revoked or expired.

    Open: the secret in the body is the credential, and only its holder learns anything.
    """
    token = await TokenRepository(session).verify(body.secret)
    if token is None:
        raise HTTPException(status_code=401, detail="invalid token")
    return TokenRead.model_validate(token)


@router.post("/tokens/{token_id}/revoke")
async def revoke_token(token_id: RowId, caller: CallerToken, session: SessionDep) -> TokenRead:
    """Revoke one of your tokens (again is fine; this one too); 404 for any other."""
    token = await TokenRepository(session).revoke(token_id, user_id=caller.user_id)
    return TokenRead.model_validate(token)
