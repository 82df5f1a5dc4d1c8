"""Adopting an existing Postgres database (migrations.constraint_names): names that differ."""

from __future__ import annotations

import textwrap
from typing import Any

import pytest
import sqlalchemy as sa
from alembic.autogenerate import compare_metadata, produce_migrations, render_python_code
from alembic.operations import Operations
from alembic.runtime.migration import MigrationContext
from sqlalchemy.engine import URL, Connection

from core.database import POSTGRES_NAMING_CONVENTION, create_engine, new_metadata
from core.database.migrations.environment import context_options

pytestmark = pytest.mark.postgres_only(reason="adopted names are Postgres' default names")

# The database as another tool made it: Postgres chose every name.
EXISTING = """
CREATE TABLE auth_user (
    id SERIAL PRIMARY KEY,
    email VARCHAR(200) NOT NULL UNIQUE,
    name VARCHAR(100) NOT NULL
);
CREATE INDEX ON auth_user (name);
CREATE TABLE orders (
    id SERIAL PRIMARY KEY,
    user_id INTEGER NOT NULL REFERENCES auth_user (id)
);
"""
RENAMES = {
    ("auth_user", "primary key", "auth_user_pkey", "pk_auth_user"),
    ("auth_user", "unique", "auth_user_email_key", "uq_auth_user_email"),
    ("auth_user", "index", "auth_user_name_idx", "ix_auth_user_name"),
    ("orders", "primary key", "orders_pkey", "pk_orders"),
    ("orders", "foreign key", "orders_user_id_fkey", "fk_orders_user_id_auth_user"),
}


def models(naming_convention: dict[str, str] | None = None) -> sa.MetaData:
    """The host's models of those tables, on the given naming convention."""
    metadata = new_metadata(naming_convention)
    sa.Table(
        "auth_user",
        metadata,
        sa.Column("id", sa.Integer, primary_key=True),
        sa.Column("email", sa.String(200), nullable=False, unique=True),
        sa.Column("name", sa.String(100), nullable=False, index=True),
    )
    sa.Table(
        "orders",
        metadata,
        sa.Column("id", sa.Integer, primary_key=True),
        sa.Column("user_id", sa.ForeignKey("auth_user.id"), nullable=False),
    )
    return metadata


def diffs(connection: Connection, metadata: sa.MetaData) -> list[Any]:
    context = MigrationContext.configure(connection, opts=context_options(metadata))
    return list(compare_metadata(context, metadata))


def renames(found: list[Any]) -> set[tuple[str, ...]]:
    return {tuple(diff[1:]) for diff in found if diff[0] == "rename_constraint"}


async def adopted(scratch: URL, check: Any) -> Any:
    engine = create_engine(scratch)
    try:
        async with engine.begin() as connection:
            for statement in EXISTING.split(";"):
                if statement.strip():
                    await connection.exec_driver_sql(statement)
            return await connection.run_sync(check)
    finally:
        await engine.dispose()


async def test_check_reports_every_name_the_models_give_differently(scratch: URL) -> None:
    found = await adopted(scratch, lambda sync: diffs(sync, models()))
    assert renames(found) == RENAMES
    # Only renames: the tables, columns and constraints themselves match.
    assert all(diff[0] == "rename_constraint" for diff in found), found


async def test_the_generated_migration_renames_them(scratch: URL) -> None:
    def migrate(connection: Connection) -> tuple[str, list[Any]]:
        metadata = models()
        context = MigrationContext.configure(connection, opts=context_options(metadata))
        script = produce_migrations(context, metadata)
        code = render_python_code(script.upgrade_ops)
        with Operations.context(context) as op:
            # The generated upgrade() body (its first line comes unindented).
            exec(textwrap.dedent("    " + code), {"op": op, "sa": sa})
        return code, diffs(connection, metadata)

    code, after = await adopted(scratch, migrate)
    assert 'if op.get_bind().dialect.name == "postgresql":' in code
    assert 'RENAME CONSTRAINT \\"auth_user_pkey\\" TO \\"pk_auth_user\\"' in code
    assert after == []


async def test_the_postgres_convention_keeps_the_existing_names(scratch: URL) -> None:
    found = await adopted(scratch, lambda sync: diffs(sync, models(POSTGRES_NAMING_CONVENTION)))
    assert found == []
