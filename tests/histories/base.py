"""authors and their books"""

import sqlalchemy as sa
from alembic import op

revision = "a0000000base"
down_revision = None
branch_labels = None
depends_on = None

KEY = sa.BigInteger().with_variant(sa.Integer(), "sqlite")


def upgrade() -> None:
    op.create_table(
        "authors",
        sa.Column("id", KEY, primary_key=True),
        sa.Column("email", sa.String(200), nullable=False),
        sa.Column("title", sa.String(200), nullable=True),
        sa.Column("bio", sa.String(100), nullable=True),
        sa.Column("counter", sa.Integer(), nullable=True),
        sa.Column("status", sa.String(6), nullable=False),
        sa.Column("joined_at", sa.DateTime(timezone=True), nullable=True),
        sa.CheckConstraint("status IN ('active', 'banned')", name=op.f("ck_authors_status")),
        sa.UniqueConstraint("email", name=op.f("uq_authors_email")),
    )
    op.create_table(
        "books",
        sa.Column("id", KEY, primary_key=True),
        sa.Column(
            "author_id",
            KEY,
            sa.ForeignKey("authors.id", ondelete="CASCADE", name=op.f("fk_books_author_id")),
            nullable=False,
        ),
        sa.Column("name", sa.String(100), nullable=False),
    )


def downgrade() -> None:
    op.drop_table("books")
    op.drop_table("authors")
