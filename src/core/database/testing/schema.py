"""The test schema: created once per test session from MetaData (or by Alembic), dropped after."""

from __future__ import annotations

import importlib
from collections.abc import Sequence
from pathlib import Path
from typing import Any

from sqlalchemy import Connection, MetaData, inspect

from core.database.database import Database

__all__ = [
    "as_metadata_list",
    "create_schema",
    "drop_every_table",
    "drop_schema",
    "load_object",
    "upgrade_schema",
]

VERSION_TABLE = "alembic_version"


def load_object(spec: str) -> Any:
    """The object named by ``"package.module:attr.attr"`` (e.g. ``notes.models:Base.metadata``)."""
    module_name, sep, attribute = spec.strip().partition(":")
    if not sep or not module_name or not attribute:
        raise ValueError(f"{spec!r} is not of the form 'package.module:attribute'")
    found: Any = importlib.import_module(module_name)
    for part in attribute.split("."):
        found = getattr(found, part)
    return found


def as_metadata_list(value: object) -> list[MetaData]:
    """``value`` (one MetaData, a declarative base, or a sequence of them) as a list."""
    items = value if isinstance(value, Sequence) and not isinstance(value, str) else [value]
    result: list[MetaData] = []
    for item in items:
        metadata = getattr(item, "metadata", item)  # a declarative Base names its MetaData
        if not isinstance(metadata, MetaData):
            raise TypeError(f"expected a MetaData or a declarative base, got {item!r}")
        result.append(metadata)
    return result


async def create_schema(database: Database, metadatas: Sequence[MetaData]) -> None:
    """Drop what an earlier, interrupted run may have left, then create every table."""
    async with database.engine.begin() as connection:
        for metadata in reversed(metadatas):
            await connection.run_sync(metadata.drop_all)
        for metadata in metadatas:
            await connection.run_sync(metadata.create_all)


async def drop_schema(database: Database, metadatas: Sequence[MetaData]) -> None:
    """Drop every table of ``metadatas`` (children first)."""
    async with database.engine.begin() as connection:
        for metadata in reversed(metadatas):
            await connection.run_sync(metadata.drop_all)


async def drop_every_table(database: Database) -> None:
    """Drop every table the database holds (Alembic's version table too)."""
    async with database.engine.begin() as connection:
        await connection.run_sync(_drop_reflected)


async def upgrade_schema(database: Database, ini: Path) -> None:
    """Start from an empty database, then ``alembic upgrade head`` on the engine's connection.

    env.py gets the connection (``core.database.migrations.run_migrations`` uses it), so an
    in-memory database survives and no other database is touched.
    """
    from core.database.migrations import upgrade_engine

    await drop_every_table(database)
    await upgrade_engine(database.engine, config_path=ini)
    async with database.engine.connect() as connection:
        migrated = await connection.run_sync(lambda sync: inspect(sync).has_table(VERSION_TABLE))
    if not migrated:
        raise RuntimeError(
            f"`alembic upgrade head` ({ini}) did not migrate the test database: its env.py must"
            " use the connection in config.attributes['connection'], as"
            " core.database.migrations.run_migrations does"
        )


def _drop_reflected(connection: Connection) -> None:
    # Everything, not just the models: migrations may hold tables no model maps any more.
    found = MetaData()
    found.reflect(connection)
    found.drop_all(connection)
