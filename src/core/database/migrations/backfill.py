"""Columns added with a Python-side default: the rows already there get the value too.

A scalar default (``"free"``, ``False``, an enum member) becomes a server default
for the add, dropped again in a batch of its own so the schema still matches the
model (Django fills existing rows the same way). A default computed in Python
cannot reach existing rows: NOT NULL stops the generation, nullable gets a note.
"""

from __future__ import annotations

import enum
from decimal import Decimal
from typing import Any

from alembic.operations import ops
from sqlalchemy import DefaultClause, text

from core.database.migrations.draft_ops import ReviewNote
from core.database.migrations.errors import UnsafeDraftError

__all__ = ["backfill_defaults"]


def backfill_defaults(upgrade_ops: ops.UpgradeOps, notes: list[ReviewNote]) -> None:
    """Give added columns' scalar Python defaults to existing rows; notes for the rest."""
    for table_ops in [op for op in upgrade_ops.ops if isinstance(op, ops.ModifyTableOps)]:
        follow_ups: list[ops.AlterColumnOp] = []
        for index, op in enumerate(table_ops.ops):
            if not isinstance(op, ops.AddColumnOp) or op.column.server_default is not None:
                continue
            column = op.column
            default = column.default
            where = f"{table_ops.table_name}.{column.name}"
            if default is None:
                if not column.nullable:
                    notes.append(
                        ReviewNote(
                            f"{where} is NOT NULL without a default: the upgrade fails on a "
                            "table with rows; give it a server_default"
                        )
                    )
                continue
            literal = _sql_literal(getattr(default, "arg", None)) if default.is_scalar else None
            if literal is None:
                if column.nullable:
                    notes.append(ReviewNote(f"{where}: existing rows stay NULL"))
                    continue
                raise UnsafeDraftError(
                    f"{where} is NOT NULL and its default is computed in Python, so the rows "
                    "already in the table cannot get it: give the column a server_default, or "
                    "add it nullable, fill it in a data step, then make it NOT NULL"
                )
            # Existing rows get the default from the database, as Django fills them;
            # dropped afterwards so the schema still matches the model.
            filled = column._copy()
            filled.server_default = DefaultClause(text(literal))
            table_ops.ops[index] = ops.AddColumnOp(
                table_ops.table_name, filled, schema=table_ops.schema
            )
            follow_ups.append(
                ops.AlterColumnOp(
                    table_ops.table_name,
                    column.name,
                    schema=table_ops.schema,
                    existing_type=column.type,
                    existing_nullable=column.nullable,
                    existing_server_default=text(literal),
                    modify_server_default=None,
                )
            )
        if follow_ups:
            # A batch of its own: on SQLite the column must be added (with its default)
            # before the table is rebuilt without it.
            position = upgrade_ops.ops.index(table_ops) + 1
            follow = ops.ModifyTableOps(table_ops.table_name, follow_ups, schema=table_ops.schema)
            upgrade_ops.ops.insert(position, follow)


def _sql_literal(value: Any) -> str | None:
    """A portable SQL literal for a scalar Python default; None when there is none."""
    if isinstance(value, enum.Enum):
        value = value.value
    if isinstance(value, bool):
        return "true" if value else "false"
    if isinstance(value, int | float | Decimal):
        return str(value)
    if isinstance(value, str):
        return "'" + value.replace("'", "''") + "'"
    return None
