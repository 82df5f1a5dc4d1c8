"""The second revision of each test history: lossy drafts and the recipes that fix them.

Each entry: the upgrade body, the downgrade body, extra module lines, and what the
data round trip must report (None: it must pass). The recipes are the ones
docs/migrations.md shows.
"""

from __future__ import annotations

from dataclasses import dataclass


@dataclass(frozen=True)
class Draft:
    upgrade: str
    downgrade: str
    expected: str | None  # a finding's text, or None when the revision keeps every value
    extra: str = ""


LOSSY: dict[str, Draft] = {
    # A rename as autogenerate writes it: a drop plus an add.
    "rename-as-drop-add": Draft(
        upgrade="""
    with op.batch_alter_table("authors") as batch_op:
        batch_op.drop_column("email")
        batch_op.add_column(sa.Column("contact_email", sa.String(200), nullable=True))
""",
        downgrade="""
    with op.batch_alter_table("authors") as batch_op:
        batch_op.drop_column("contact_email")
        batch_op.add_column(
            sa.Column("email", sa.String(200), nullable=False, server_default="")
        )
""",
        expected="authors.email: 3 rows lost their value (column dropped)",
    ),
    # The model says `default="draft"`: Python only, nothing for the rows already there.
    "python-default-not-null": Draft(
        upgrade="""
    with op.batch_alter_table("authors") as batch_op:
        batch_op.add_column(sa.Column("state", sa.String(10), nullable=False))
""",
        downgrade="""
    with op.batch_alter_table("authors") as batch_op:
        batch_op.drop_column("state")
""",
        expected="authors.state: 3 rows cannot get a value",
    ),
    # Widened on the way up, narrowed back on the way down, with wider values stored.
    "narrowing-string": Draft(
        upgrade="""
    with op.batch_alter_table("authors") as batch_op:
        batch_op.alter_column("title", existing_type=sa.String(200), type_=sa.String(300))
""",
        downgrade="""
    with op.batch_alter_table("authors") as batch_op:
        batch_op.alter_column("title", existing_type=sa.String(300), type_=sa.String(200))
""",
        expected="authors.title: 3 rows hold values longer than 200 characters",
    ),
    "narrowing-integer": Draft(
        upgrade="""
    with op.batch_alter_table("authors") as batch_op:
        batch_op.alter_column("counter", existing_type=sa.Integer(), type_=sa.BigInteger())
""",
        downgrade="""
    with op.batch_alter_table("authors") as batch_op:
        batch_op.alter_column("counter", existing_type=sa.BigInteger(), type_=sa.Integer())
""",
        expected="authors.counter: 3 rows hold values outside INTEGER's range",
    ),
    # A split that creates the new table and drops the column without copying.
    "split-without-copy": Draft(
        upgrade="""
    op.create_table(
        "profiles",
        sa.Column("author_id", KEY, sa.ForeignKey("authors.id"), primary_key=True),
        sa.Column("bio", sa.String(100), nullable=True),
    )
    with op.batch_alter_table("authors") as batch_op:
        batch_op.drop_column("bio")
""",
        downgrade="""
    with op.batch_alter_table("authors") as batch_op:
        batch_op.add_column(sa.Column("bio", sa.String(100), nullable=True))
    op.drop_table("profiles")
""",
        expected="authors.bio: 3 rows lost their value (column dropped)",
    ),
    # A table dropped on the way up: its rows are gone, whatever the downgrade recreates.
    "drop-table": Draft(
        upgrade="""
    op.drop_table("books")
""",
        downgrade="""
    op.create_table(
        "books",
        sa.Column("id", KEY, primary_key=True),
        sa.Column("author_id", KEY, sa.ForeignKey("authors.id"), nullable=False),
        sa.Column("name", sa.String(100), nullable=False),
    )
""",
        expected="books: 3 rows lost (table dropped)",
    ),
    # A data step that deletes rows it meant to move.
    "delete-rows": Draft(
        upgrade="""
    op.execute("DELETE FROM books")
""",
        downgrade="""
    pass
""",
        expected="books: 3 rows lost",
    ),
    # A data step that rewrites values in place (a normalisation that cannot be undone).
    "rewrite-values": Draft(
        upgrade="""
    op.execute("UPDATE authors SET title = 'untitled' WHERE title IS NOT NULL")
""",
        downgrade="""
    pass
""",
        expected="authors.title: 3 rows changed value",
    ),
}

RECIPES: dict[str, Draft] = {
    "rename": Draft(
        upgrade="""
    with op.batch_alter_table("authors") as batch_op:
        batch_op.alter_column(
            "email", new_column_name="contact_email", existing_type=sa.String(200)
        )
""",
        downgrade="""
    with op.batch_alter_table("authors") as batch_op:
        batch_op.alter_column(
            "contact_email", new_column_name="email", existing_type=sa.String(200)
        )
""",
        expected=None,
    ),
    # A table renamed: its rows are found under the new name.
    "rename-table": Draft(
        upgrade="""
    op.rename_table("books", "volumes")
""",
        downgrade="""
    op.rename_table("volumes", "books")
""",
        expected=None,
    ),
    "not-null-with-default": Draft(
        upgrade="""
    with op.batch_alter_table("authors") as batch_op:
        batch_op.add_column(
            sa.Column("state", sa.String(10), nullable=False, server_default=sa.text("'draft'"))
        )
    with op.batch_alter_table("authors") as batch_op:
        batch_op.alter_column("state", existing_type=sa.String(10), server_default=None)
""",
        downgrade="""
    with op.batch_alter_table("authors") as batch_op:
        batch_op.drop_column("state")
""",
        expected=None,
    ),
    "split": Draft(
        upgrade="""
    op.create_table(
        "profiles",
        sa.Column("author_id", KEY, sa.ForeignKey("authors.id"), primary_key=True),
        sa.Column("bio", sa.String(100), nullable=True),
    )
    op.execute("INSERT INTO profiles (author_id, bio) SELECT id, bio FROM authors")
    with op.batch_alter_table("authors") as batch_op:
        batch_op.drop_column("bio")
""",
        downgrade="""
    with op.batch_alter_table("authors") as batch_op:
        batch_op.add_column(sa.Column("bio", sa.String(100), nullable=True))
    op.execute(
        "UPDATE authors SET bio = (SELECT bio FROM profiles WHERE profiles.author_id = authors.id)"
    )
    op.drop_table("profiles")
""",
        expected=None,
    ),
    "enum-value": Draft(
        upgrade="""
    with op.batch_alter_table("authors") as batch_op:
        batch_op.drop_constraint(op.f("ck_authors_status"), type_="check")
        batch_op.alter_column("status", existing_type=sa.String(6), type_=sa.String(8))
        batch_op.create_check_constraint(
            op.f("ck_authors_status"), "status IN ('active', 'banned', 'retired')"
        )
""",
        downgrade="""
    op.execute("UPDATE authors SET status = 'banned' WHERE status = 'retired'")
    with op.batch_alter_table("authors") as batch_op:
        batch_op.drop_constraint(op.f("ck_authors_status"), type_="check")
        batch_op.alter_column("status", existing_type=sa.String(8), type_=sa.String(6))
        batch_op.create_check_constraint(
            op.f("ck_authors_status"), "status IN ('active', 'banned')"
        )
""",
        expected=None,
        extra='downgrade_loses = ("authors.status",)  # retired authors become banned\n',
    ),
    "narrowing-downgrade": Draft(
        upgrade="""
    with op.batch_alter_table("authors") as batch_op:
        batch_op.alter_column("title", existing_type=sa.String(200), type_=sa.String(300))
""",
        downgrade="""
    op.execute("UPDATE authors SET title = substr(title, 1, 200) WHERE length(title) > 200")
    with op.batch_alter_table("authors") as batch_op:
        batch_op.alter_column("title", existing_type=sa.String(300), type_=sa.String(200))
""",
        expected=None,
        extra='downgrade_loses = ("authors.title",)  # cut to 200 characters\n',
    ),
}

TEMPLATE = '''"""second revision: {name}"""

import sqlalchemy as sa
from alembic import op

revision = "b0000000next"
down_revision = "a0000000base"
branch_labels = None
depends_on = None
{extra}
KEY = sa.BigInteger().with_variant(sa.Integer(), "sqlite")


def upgrade() -> None:{upgrade}

def downgrade() -> None:{downgrade}'''


def render(name: str, draft: Draft) -> str:
    """The revision file's text."""
    return TEMPLATE.format(
        name=name, extra=draft.extra, upgrade=draft.upgrade, downgrade=draft.downgrade
    )
