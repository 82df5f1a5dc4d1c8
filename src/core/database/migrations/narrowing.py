"""Narrowing a column behaves the same on both backends: rows that do not fit stop it.

``String(200) -> String(50)`` or ``BigInteger -> Integer`` fails on Postgres once a
value does not fit, while SQLite (which enforces neither) keeps a 60-character
value in a VARCHAR(50). A guard CHECK added just before the change and dropped
after it makes both refuse such rows with the same constraint name.
"""

from __future__ import annotations

from alembic.operations import ops
from sqlalchemy import text
from sqlalchemy.sql.elements import conv

from core.database.migrations.typeinfo import integer_range, string_length, type_family

__all__ = ["guard_name", "guard_narrowing"]

# Postgres truncates identifiers longer than this.
_MAX_NAME = 63


def guard_name(table: str, column: str) -> str:
    """The guard constraint's name: an error that names it names the table and column."""
    return f"ck_{table}_{column}_fits"[:_MAX_NAME]


def guard_narrowing(operations: ops.OpContainer) -> None:
    """Wrap each narrowing ``alter_column`` in ``operations`` in a guard CHECK."""
    for table_ops in [op for op in operations.ops if isinstance(op, ops.ModifyTableOps)]:
        drops: list[ops.MigrateOperation] = []
        for alter in [op for op in table_ops.ops if isinstance(op, ops.AlterColumnOp)]:
            condition = _fits(alter)
            if condition is None:
                continue
            name = conv(guard_name(table_ops.table_name, alter.column_name))
            guard = ops.CreateCheckConstraintOp(name, table_ops.table_name, text(condition))
            table_ops.ops.insert(table_ops.ops.index(alter), guard)
            drops.append(ops.DropConstraintOp(name, table_ops.table_name, type_="check"))
        if drops:
            # A batch of its own: on SQLite the rows are copied under the guard first.
            after = ops.ModifyTableOps(table_ops.table_name, drops, schema=table_ops.schema)
            operations.ops.insert(operations.ops.index(table_ops) + 1, after)


def _fits(alter: ops.AlterColumnOp) -> str | None:
    old, new = alter.existing_type, alter.modify_type
    if old is None or new is None or type_family(old) != type_family(new):
        return None
    column = alter.column_name
    new_length = string_length(new)
    old_length = string_length(old)
    if new_length is not None and (old_length is None or new_length < old_length):
        return f"length({column}) <= {new_length}"
    old_range, new_range = integer_range(old), integer_range(new)
    if old_range and new_range and new_range[1] < old_range[1]:
        return f"{column} BETWEEN {new_range[0]} AND {new_range[1]}"
    return None
