"""JSON containment: one portable spelling, and the text search refused on both."""

from __future__ import annotations

import warnings
from typing import Any

import pytest
from sqlalchemy import exc as sa_exc
from sqlalchemy import select
from sqlalchemy.ext.asyncio import AsyncSession

from core.database import functions as pf
from tests.models import Item

DOCUMENTS: list[dict[str, Any]] = [
    {"kind": "a", "tags": ["x", "y"], "n": 1, "nested": {"deep": True, "list": [1, 2]}},
    {"kind": "b", "tags": ["y"], "n": 2, "nested": {"deep": False}},
    {"kind": "a", "tags": [], "n": 1.5, "flag": True},
]


async def _documents(session: AsyncSession) -> list[int]:
    items = [Item(payload=document) for document in DOCUMENTS]
    session.add_all(items)
    await session.flush()
    return [item.id for item in items]


@pytest.mark.parity("JSON containment")
@pytest.mark.parametrize(
    ("fragment", "expected"),
    [
        ({"kind": "a"}, [0, 2]),
        ({"tags": ["y"]}, [0, 1]),
        ({"tags": ["y", "x"]}, [0]),
        ({"nested": {"deep": True}}, [0]),
        ({"nested": {"list": [2]}}, [0]),
        ({"n": 1}, [0]),
        ({"flag": True}, [2]),
        ({"flag": 1}, []),
        ({"kind": "c"}, []),
        ({}, [0, 1, 2]),
    ],
)
async def test_json_contains(
    db_session: AsyncSession, fragment: dict[str, Any], expected: list[int]
) -> None:
    ids = await _documents(db_session)
    query = select(Item.id).where(pf.json_contains(Item.payload, fragment)).order_by(Item.id)
    assert (await db_session.scalars(query)).all() == [ids[i] for i in expected]


@pytest.mark.parity("JSON text search refused")
@pytest.mark.parametrize("method", ["contains", "like", "startswith"])
async def test_text_search_on_json_is_refused(db_session: AsyncSession, method: str) -> None:
    with warnings.catch_warnings():
        # SQLAlchemy 2.1 also warns that JSON has no text operators; it still builds a LIKE.
        warnings.simplefilter("ignore", sa_exc.SADeprecationWarning)
        condition = getattr(Item.payload, method)('{"kind": "a"}')
    with pytest.raises(sa_exc.CompileError, match="json_contains"):
        await db_session.scalars(select(Item.id).where(condition))
