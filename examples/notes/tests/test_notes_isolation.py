"""Run in file order: what the first test commits (ORM and HTTP) the second never sees."""

from __future__ import annotations

from httpx import AsyncClient
from sqlalchemy.ext.asyncio import AsyncSession

from notes.models import Note

written: list[str] = []


async def test_first_writes_and_commits(db_client: AsyncClient, db_session: AsyncSession) -> None:
    db_session.add(Note(title="from the session"))
    await db_session.commit()
    assert (await db_client.post("/notes", json={"title": "from http"})).status_code == 201
    assert len((await db_client.get("/notes")).json()) == 2
    written.append("done")


async def test_second_sees_none_of_it(db_client: AsyncClient) -> None:
    assert written == ["done"], "run the whole module: this test checks what the first left"
    assert (await db_client.get("/notes")).json() == []
