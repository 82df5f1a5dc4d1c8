"""add tasks.slug and fill it from the titles (a data migration with the sync helpers)

Revision ID: 0002
Revises: 0001
"""

import re
from collections.abc import Sequence

import sqlalchemy as sa
from alembic import op

from core.database.sync import execute, fetch_all

revision: str = "0002"
down_revision: str | Sequence[str] | None = "0001"
branch_labels: str | Sequence[str] | None = None
depends_on: str | Sequence[str] | None = None


def _slug(title: str) -> str:
    return re.sub(r"[^a-z0-9]+", "-", title.lower()).strip("-")


def upgrade() -> None:
    with op.batch_alter_table("tasks") as batch:
        batch.add_column(sa.Column("slug", sa.String(length=200), nullable=True))
    # The migration's own connection: the helpers run inside its transaction.
    connection = op.get_bind()
    for row in fetch_all("SELECT id, title FROM tasks ORDER BY id", connection=connection):
        execute(
            "UPDATE tasks SET slug = :slug WHERE id = :id",
            {"slug": _slug(row["title"]), "id": row["id"]},
            connection=connection,
        )


def downgrade() -> None:
    with op.batch_alter_table("tasks") as batch:
        batch.drop_column("slug")
