"""FastAPI `def` routes: `Depends(get_sync_session)`, committed before the response is sent."""

from __future__ import annotations

from collections.abc import Iterator
from typing import Annotated

from fastapi import Depends
from sqlalchemy.orm import Session

from core.database.sync.database import get_sync_database

__all__ = ["SyncSessionDep", "get_sync_session"]


def _request_session() -> Iterator[Session]:
    # FastAPI runs a sync generator's setup and teardown in its thread pool.
    with get_sync_database().transaction() as session:
        yield session


async def get_sync_session(
    # As get_session: scope="function" commits when the endpoint returns, before the
    # response is sent, so a failing commit is a 5xx and never a lost write behind a 2xx.
    session: Annotated[Session, Depends(_request_session, scope="function")],
) -> Session:
    """One sync Session per request: committed before the response, rolled back on error.

    Itself async only to hand the session over without another trip to the thread pool.
    """
    return session


SyncSessionDep = Annotated[Session, Depends(get_sync_session)]
