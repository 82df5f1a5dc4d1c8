"""`/users`: sign up (the one open write), then read, update and delete yourself."""

from __future__ import annotations

from fastapi import APIRouter, Response

from app.auth import CallerToken, OwnUserId
from app.repositories import TokenRepository, UserRepository
from app.schemas import CreatedUser, IssuedToken, TokenRead, UserCreate, UserRead, UserUpdate
from core.database import SessionDep

__all__ = ["router"]

router = APIRouter(prefix="/users", tags=["users"])

FIRST_TOKEN_NAME = "first token"


@router.post("", status_code=201)
async def create_user(body: UserCreate, session: SessionDep) -> CreatedUser:
    """Create a user and its first API token (its secret is in this response only).

    Open to anyone: the token it returns is what every other route of the user
    takes. 409 if the email is taken (in any case).
    """
    user = await UserRepository(session).create(email=body.email, name=body.name)
    token, secret = await TokenRepository(session).issue(user.id, name=FIRST_TOKEN_NAME)
    issued = IssuedToken(**TokenRead.model_validate(token).model_dump(), secret=secret)
    return CreatedUser(**UserRead.model_validate(user).model_dump(), token=issued)


@router.get("/me")
async def read_me(token: CallerToken, session: SessionDep) -> UserRead:
    """The user the bearer token belongs to."""
    return UserRead.model_validate(await UserRepository(session).get(token.user_id))


@router.get("/{user_id}")
async def read_user(user_id: OwnUserId, session: SessionDep) -> UserRead:
    """The token's own user; 403 for any other id."""
    return UserRead.model_validate(await UserRepository(session).get(user_id))


@router.patch("/{user_id}")
async def update_user(user_id: OwnUserId, body: UserUpdate, session: SessionDep) -> UserRead:
    """Change the fields given; 409 if the new email is taken."""
    changes = body.model_dump(exclude_unset=True)
    user = await UserRepository(session).update(user_id, **changes)
    return UserRead.model_validate(user)


@router.delete("/{user_id}", status_code=204)
async def delete_user(user_id: OwnUserId, session: SessionDep) -> Response:
    """Delete the user with their tokens and events."""
    await UserRepository(session).delete(user_id)
    return Response(status_code=204)
