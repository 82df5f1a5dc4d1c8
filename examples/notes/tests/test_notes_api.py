"""The HTTP API through the plugin's `db_client`: same transaction as `db_session`."""

from __future__ import annotations

from httpx import AsyncClient
from sqlalchemy import select
from sqlalchemy.ext.asyncio import AsyncSession

from notes.models import Comment, Note


async def test_create_read_comment_delete(db_client: AsyncClient, db_session: AsyncSession) -> None:
    created = await db_client.post("/notes", json={"title": "todo", "body": "write tests"})
    assert created.status_code == 201
    note_id = created.json()["id"]
    comment = await db_client.post(f"/notes/{note_id}/comments", params={"text": "done"})
    assert comment.status_code == 201
    assert (await db_client.get(f"/notes/{note_id}")).json()["comments"] == 1
    # What the app committed is visible to the test's own session.
    assert await db_session.scalar(select(Note.title).where(Note.id == note_id)) == "todo"
    assert (await db_client.delete(f"/notes/{note_id}")).status_code == 204
    assert (await db_session.scalars(select(Comment))).all() == []


async def test_errors_map_to_status_codes(db_client: AsyncClient, db_session: AsyncSession) -> None:
    db_session.add(Note(title="taken"))
    await db_session.commit()
    assert (await db_client.post("/notes", json={"title": "taken"})).status_code == 409
    assert (await db_client.get("/notes/999999")).status_code == 404
    assert (await db_client.post("/notes/999999/comments", params={"text": "x"})).status_code == 404
    assert [note["title"] for note in (await db_client.get("/notes")).json()] == ["taken"]
