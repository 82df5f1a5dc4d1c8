"""`/users`: create, list, read, update and delete users."""

from __future__ import annotations

from fastapi import APIRouter, Response

from app.deps import AfterId, Limit, RowId
from app.repositories import DEFAULT_PAGE_SIZE, UserRepository
from app.schemas import Page, UserCreate, UserRead, UserUpdate
from core.database import SessionDep

__all__ = ["router"]

router = APIRouter(prefix="/users", tags=["users"])


@router.post("", status_code=201)
async def create_user(body: UserCreate, session: SessionDep) -> UserRead:
    """Create a user; 409 if the email is taken (in any case)."""
    user = await UserRepository(session).create(email=body.email, name=body.name)
    return UserRead.model_validate(user)


@router.get("")
async def list_users(
    session: SessionDep, after_id: AfterId = None, limit: Limit = DEFAULT_PAGE_SIZE
) -> Page[UserRead]:
    """Users by id; pass `next_after_id` as `after_id` for the next page."""
    users = await UserRepository(session).list(after_id=after_id, limit=limit)
    return Page.of(users, limit, UserRead)


@router.get("/{user_id}")
async def read_user(user_id: RowId, session: SessionDep) -> UserRead:
    """One user; 404 if there is none."""
    return UserRead.model_validate(await UserRepository(session).get(user_id))


@router.patch("/{user_id}")
async def update_user(user_id: RowId, body: UserUpdate, session: SessionDep) -> UserRead:
    """Change the fields given; 409 if the new email is taken."""
    changes = body.model_dump(exclude_unset=True)
    user = await UserRepository(session).update(user_id, **changes)
    return UserRead.model_validate(user)


@router.delete("/{user_id}", status_code=204)
async def delete_user(user_id: RowId, session: SessionDep) -> Response:
    """Delete a user with their tokens and events."""
    await UserRepository(session).delete(user_id)
    return Response(status_code=204)
