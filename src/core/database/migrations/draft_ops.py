"""Operations autogenerate drafts use beyond Alembic's: review notes and reversible renames."""

from __future__ import annotations

from typing import Any

from alembic.autogenerate import renderers
from alembic.autogenerate.api import AutogenContext
from alembic.operations import ops

__all__ = ["REVIEW_MARKER", "RenameColumnOp", "RenameTableOp", "ReviewNote"]

# A revision line starting so must be read and deleted by a reviewer (review.py).
REVIEW_MARKER = "# REVIEW data loss:"


class ReviewNote(ops.MigrateOperation):
    """A comment in the generated upgrade that a reviewer must read and remove."""

    def __init__(self, message: str) -> None:
        self.message = message

    def reverse(self) -> ReviewNote:
        return self

    def to_diff_tuple(self) -> tuple[Any, ...]:
        return ("review", self.message)


@renderers.dispatch_for(ReviewNote)
def _render_note(autogen_context: AutogenContext, op: ReviewNote) -> list[str]:
    return [
        f"{REVIEW_MARKER} {op.message}",
        "# (delete these lines once reviewed; the migration check refuses them)",
    ]


class RenameColumnOp(ops.AlterColumnOp):
    """``alter_column(..., new_column_name=...)`` whose downgrade renames it back."""

    def reverse(self) -> RenameColumnOp:
        assert self.modify_name is not None
        return RenameColumnOp(
            self.table_name,
            self.modify_name,
            schema=self.schema,
            modify_name=self.column_name,
            existing_type=self.existing_type,
            existing_nullable=self.existing_nullable,
        )


class RenameTableOp(ops.RenameTableOp):
    """``rename_table`` whose downgrade renames it back (Alembic's has no reverse)."""

    def reverse(self) -> RenameTableOp:
        return RenameTableOp(self.new_table_name, self.table_name, schema=self.schema)

    def to_diff_tuple(self) -> tuple[Any, ...]:
        return ("rename_table", self.table_name, self.new_table_name)


@renderers.dispatch_for(RenameTableOp)
def _render_rename_table(autogen_context: AutogenContext, op: RenameTableOp) -> str:
    prefix = autogen_context.opts.get("alembic_module_prefix", "op.")
    schema = f", schema={op.schema!r}" if op.schema else ""
    return f"{prefix}rename_table({op.table_name!r}, {op.new_table_name!r}{schema})"
