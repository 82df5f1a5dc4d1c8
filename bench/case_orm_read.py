"""Case 5: an ORM read of 1,000 parents with their 5 children each (selectinload).

Each stack reads with its own models, as its users write them: the toolkit's
(UTCDateTime: aware datetimes on both backends) in a read-only unit of work; bare
SQLAlchemy's plain declarative models (DateTime(timezone=True): naive on SQLite);
advanced-alchemy's repository `list` over the toolkit's models; SQLModel's classes.
"""

from __future__ import annotations

from datetime import datetime
from typing import Any

from advanced_alchemy.repository import SQLAlchemyAsyncRepository
from sqlalchemy import DateTime, ForeignKey, MetaData, String, select
from sqlalchemy.ext.asyncio import async_sessionmaker
from sqlalchemy.orm import DeclarativeBase, Mapped, mapped_column, relationship, selectinload
from sqlmodel import select as sqlmodel_select

from bench.drivers import Drivers
from bench.harness import Measured, Variant, interleave
from bench.peers import peers
from bench.schema import CHILDREN, PARENTS, ReadParent
from bench.sqlmodel_models import SQLModelParent
from core.database import get_database

__all__ = ["run"]


class _Bare(DeclarativeBase):
    metadata = MetaData()


class BareParent(_Bare):
    __tablename__ = "bench_parents"

    id: Mapped[int] = mapped_column(primary_key=True)
    name: Mapped[str] = mapped_column(String(50))
    created_at: Mapped[datetime] = mapped_column(DateTime(timezone=True))
    updated_at: Mapped[datetime] = mapped_column(DateTime(timezone=True))
    children: Mapped[list[BareChild]] = relationship(back_populates="parent")


class BareChild(_Bare):
    __tablename__ = "bench_children"

    id: Mapped[int] = mapped_column(primary_key=True)
    parent_id: Mapped[int] = mapped_column(ForeignKey("bench_parents.id"))
    name: Mapped[str] = mapped_column(String(50))
    created_at: Mapped[datetime] = mapped_column(DateTime(timezone=True))
    updated_at: Mapped[datetime] = mapped_column(DateTime(timezone=True))
    parent: Mapped[BareParent] = relationship(back_populates="children")


class ParentRepository(SQLAlchemyAsyncRepository[ReadParent]):
    model_type = ReadParent


def _check(parents: Any) -> None:
    assert len(parents) == PARENTS
    assert sum(len(parent.children) for parent in parents) == PARENTS * CHILDREN


async def run(d: Drivers, *, rounds: int, batch: int) -> list[Measured]:
    """The toolkit's read-only unit vs bare SQLAlchemy, advanced-alchemy and SQLModel."""
    others = await peers(d.backend)
    bare = async_sessionmaker(d.bare, expire_on_commit=False)
    aa_sessions = others.aa.create_session_maker()
    db = get_database()

    async def toolkit() -> None:
        async with db.read_transaction() as session:
            query = select(ReadParent).options(selectinload(ReadParent.children))
            _check((await session.scalars(query)).all())

    async def by_hand() -> None:
        async with bare() as session, session.begin():
            query = select(BareParent).options(selectinload(BareParent.children))
            _check((await session.scalars(query)).all())

    async def advanced_alchemy() -> None:
        async with aa_sessions() as session:
            repository = ParentRepository(session=session)
            _check(await repository.list(load=[selectinload(ReadParent.children)]))

    async def sqlmodel() -> None:
        async with others.sqlmodel_session() as session:
            query = sqlmodel_select(SQLModelParent).options(
                selectinload(SQLModelParent.children)  # type: ignore[arg-type]
            )
            _check((await session.exec(query)).all())

    variants = [
        Variant("toolkit `read_transaction()`", toolkit),
        Variant("bare `async_sessionmaker`, plain models (baseline)", by_hand, baseline=True),
        Variant("advanced-alchemy repository `list`", advanced_alchemy),
        Variant("SQLModel `AsyncSession.exec`", sqlmodel),
    ]
    try:
        return await interleave(variants, rounds=rounds, batch=batch, warmup=2)
    finally:
        await others.dispose()
