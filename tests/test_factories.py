"""polyfactory factories (docs/testing.md): rows with aware datetimes insert on both backends.

polyfactory's datetimes are naive by default, which UTCDateTime (and so TimestampMixin)
refuses; the recipe is one provider that gives aware UTC datetimes.
"""

from __future__ import annotations

from collections.abc import Callable
from datetime import UTC, datetime
from typing import Any, Generic, TypeVar

import pytest
from polyfactory import Use
from polyfactory.factories.sqlalchemy_factory import SQLAlchemyFactory
from sqlalchemy import select
from sqlalchemy.exc import StatementError
from sqlalchemy.ext.asyncio import AsyncSession

from core.database import Base
from tests.models import Item, Parent

T = TypeVar("T", bound=Base)


class AwareFactory(SQLAlchemyFactory[T], Generic[T]):
    """The recipe: a base factory whose datetimes are aware UTC (naive ones are refused)."""

    __is_base_factory__ = True
    __set_primary_key__ = False  # the database numbers the rows
    __set_relationships__ = False

    @classmethod
    def get_provider_map(cls) -> dict[Any, Callable[[], Any]]:
        providers = super().get_provider_map()
        providers[datetime] = lambda: cls.__faker__.date_time_between(tzinfo=UTC)
        return providers


class ParentFactory(AwareFactory[Parent]):
    pass


class ItemFactory(AwareFactory[Item]):
    quantity = Use(lambda: 3)  # the table checks quantity >= 0
    payload = Use(lambda: {"source": "factory"})
    tags = Use(lambda: ["a", 1])
    amount = None
    price = None


class NaiveParentFactory(SQLAlchemyFactory[Parent]):
    __set_primary_key__ = False
    __set_relationships__ = False


async def test_factory_rows_with_aware_datetimes_insert_and_read_back_aware(
    db_session: AsyncSession,
) -> None:
    parents = ParentFactory.batch(5)
    items = ItemFactory.batch(5)
    db_session.add_all([*parents, *items])
    await db_session.commit()
    db_session.expunge_all()
    for parent in (await db_session.scalars(select(Parent))).all():
        assert parent.created_at.utcoffset() == UTC.utcoffset(None)
        assert parent.updated_at.tzinfo is not None
    stored = (await db_session.scalars(select(Item))).all()
    assert len(stored) == 5
    assert all(item.happened_at is None or item.happened_at.tzinfo for item in stored)
    assert {item.happened_at for item in stored} == {item.happened_at for item in items}


async def test_polyfactorys_default_naive_datetime_is_refused_at_insert(
    db_session: AsyncSession,
) -> None:
    parent = NaiveParentFactory.build()
    assert parent.created_at.tzinfo is None  # why the recipe exists
    db_session.add(parent)
    with pytest.raises(StatementError, match="naive datetime refused"):
        await db_session.flush()
    await db_session.rollback()
