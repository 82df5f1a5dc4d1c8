"""The HTTP API: create, list, read and delete notes; comment on them."""

from __future__ import annotations

from typing import Any

from core.database import NotFoundError, SessionDep, install_error_handlers
from fastapi import FastAPI
from pydantic import BaseModel
from sqlalchemy import func, select

from notes.models import Comment, Note

__all__ = ["app"]

app = FastAPI(title="notes")
install_error_handlers(app)  # UniqueViolation -> 409, NotFoundError -> 404, ...


class NoteIn(BaseModel):
    """What a client sends to create a note."""

    title: str
    body: str = ""


def _out(note: Note) -> dict[str, Any]:
    return {"id": note.id, "title": note.title, "body": note.body, "created_at": note.created_at}


async def _get(session: SessionDep, note_id: int) -> Note:
    note = await session.get(Note, note_id)
    if note is None:
        raise NotFoundError(f"note {note_id} not found")
    return note


@app.post("/notes", status_code=201)
async def create_note(data: NoteIn, session: SessionDep) -> dict[str, Any]:
    """Create a note; a duplicate title is a 409."""
    note = Note(title=data.title, body=data.body)
    session.add(note)
    await session.flush()
    return _out(note)


@app.get("/notes")
async def list_notes(session: SessionDep) -> list[dict[str, Any]]:
    """Every note, oldest first."""
    return [_out(note) for note in await session.scalars(select(Note).order_by(Note.id))]


@app.get("/notes/{note_id}")
async def read_note(note_id: int, session: SessionDep) -> dict[str, Any]:
    """One note with its number of comments."""
    note = await _get(session, note_id)
    count = select(func.count()).select_from(Comment).where(Comment.note_id == note_id)
    return {**_out(note), "comments": await session.scalar(count)}


@app.post("/notes/{note_id}/comments", status_code=201)
async def add_comment(note_id: int, text: str, session: SessionDep) -> dict[str, Any]:
    """Comment on a note; an unknown note is a 404."""
    await _get(session, note_id)
    comment = Comment(note_id=note_id, text=text)
    session.add(comment)
    await session.flush()
    return {"id": comment.id, "note_id": note_id, "text": text}


@app.delete("/notes/{note_id}", status_code=204)
async def delete_note(note_id: int, session: SessionDep) -> None:
    """Delete a note and (ON DELETE CASCADE) its comments."""
    await session.delete(await _get(session, note_id))
