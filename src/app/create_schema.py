"""`python -m app.create_schema`: create the app's tables on the default database.

A stop-gap for the demo until `alembic upgrade head` takes its place; it only
creates tables that are missing and never alters or drops anything.
"""

from __future__ import annotations

import asyncio

import app.models  # noqa: F401  (registers the app's tables on Base.metadata)
from core.database import Base, get_database

__all__ = ["create_schema", "main"]


async def create_schema() -> str:
    """Create the missing tables; return the masked URL of the database."""
    database = get_database()
    try:
        async with database.engine.begin() as connection:
            await connection.run_sync(Base.metadata.create_all)
    finally:
        await database.dispose()
    return database.masked_url


def main() -> None:
    """Entry point of `python -m app.create_schema`."""
    print(f"schema ready on {asyncio.run(create_schema())}")


if __name__ == "__main__":
    main()
