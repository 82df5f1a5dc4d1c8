"""Constraint names of an adopted Postgres database against the models' naming convention.

A database created outside the toolkit carries Postgres' default names
(``auth_user_pkey``, ``auth_user_email_key``, ``orders_user_id_fkey``) where the
toolkit's convention says ``pk_auth_user``, ``uq_auth_user_email``... Alembic
compares neither primary-key names nor most other names, so ``alembic check`` is
clean, and a later migration that names a constraint passes CI (built by the
convention) and fails in production. This comparator reports each differing
name on Postgres: ``alembic check`` fails on it, and ``alembic revision
--autogenerate`` writes the renames (guarded to run on Postgres only; a SQLite
database built by the migrations has the convention's names already).

To keep the existing names instead, give the models' MetaData the Postgres
naming convention: ``new_metadata(naming_convention=POSTGRES_NAMING_CONVENTION)``.
"""

from __future__ import annotations

from collections.abc import Iterator
from typing import Any

from alembic.autogenerate import comparators, renderers
from alembic.autogenerate.api import AutogenContext
from alembic.operations import ops
from alembic.util.langhelpers import DispatchPriority, PriorityDispatchResult
from sqlalchemy import ForeignKeyConstraint, Index, Table, UniqueConstraint

__all__ = ["RenameConstraintOp"]


class RenameConstraintOp(ops.MigrateOperation):
    """Rename a constraint (or an index) whose database name differs from the models' name."""

    def __init__(self, table_name: str, kind: str, old_name: str, new_name: str) -> None:
        self.table_name = table_name
        self.kind = kind  # "primary key", "unique", "foreign key", "index"
        self.old_name = old_name
        self.new_name = new_name

    def reverse(self) -> RenameConstraintOp:
        """The rename back, for the downgrade."""
        return RenameConstraintOp(self.table_name, self.kind, self.new_name, self.old_name)

    def to_diff_tuple(self) -> tuple[Any, ...]:
        """What ``alembic check`` lists."""
        return ("rename_constraint", self.table_name, self.kind, self.old_name, self.new_name)

    def statement(self, quote: Any) -> str:
        """The Postgres statement; `quote` quotes an identifier."""
        if self.kind == "index":
            return f"ALTER INDEX {quote(self.old_name)} RENAME TO {quote(self.new_name)}"
        return (
            f"ALTER TABLE {quote(self.table_name)} RENAME CONSTRAINT "
            f"{quote(self.old_name)} TO {quote(self.new_name)}"
        )


# Last: Alembic's own comparators have run, and a renamed index they saw as a drop
# plus a create is replaced by the rename.
@comparators.dispatch_for("table", qualifier="postgresql", priority=DispatchPriority.LAST)
def _compare_constraint_names(
    autogen_context: AutogenContext,
    modify_table_ops: ops.ModifyTableOps,
    schema: str | None,
    table_name: str,
    conn_table: Table | None,
    metadata_table: Table | None,
) -> PriorityDispatchResult:
    if conn_table is None or metadata_table is None or autogen_context.inspector is None:
        return PriorityDispatchResult.CONTINUE
    for kind, old, new in _differences(autogen_context.inspector, metadata_table, schema):
        _drop_replaced(modify_table_ops, old, new)
        modify_table_ops.ops.append(RenameConstraintOp(table_name, kind, old, new))
    return PriorityDispatchResult.CONTINUE


def _drop_replaced(modify_table_ops: ops.ModifyTableOps, old: str, new: str) -> None:
    # The same index (or unique constraint) under its old and its new name.
    replaced = (
        (ops.DropIndexOp, old),
        (ops.CreateIndexOp, new),
        (ops.DropConstraintOp, old),
        (ops.CreateUniqueConstraintOp, new),
    )
    modify_table_ops.ops = [
        op
        for op in modify_table_ops.ops
        if not any(isinstance(op, kind) and _op_name(op) == name for kind, name in replaced)
    ]


def _op_name(op: ops.MigrateOperation) -> str | None:
    name = getattr(op, "index_name", None) or getattr(op, "constraint_name", None)
    return str(name) if name else None


@renderers.dispatch_for(RenameConstraintOp)
def _render_rename(_autogen_context: AutogenContext, op: RenameConstraintOp) -> list[str]:
    statement = op.statement(lambda name: '\\"' + name.replace('"', '\\"\\"') + '\\"')
    # A SQLite database built by the migrations has the models' names already. The
    # empty line ends the `if` block (Alembic's printer indents by block).
    return [
        f"# {op.kind} {op.old_name} is named {op.new_name} by the models",
        'if op.get_bind().dialect.name == "postgresql":',
        f'op.execute("{statement}")',
        "",
    ]


Difference = tuple[str, str, str]  # kind, name in the database, name by the models


def _differences(inspector: Any, table: Table, schema: str | None) -> Iterator[Difference]:
    name = table.name
    pk = inspector.get_pk_constraint(name, schema=schema)
    wanted = _name(table.primary_key)
    if pk.get("name") and wanted and pk["name"] != wanted:
        yield "primary key", pk["name"], wanted
    by_columns: dict[tuple[str, ...], str] = {}
    for unique in inspector.get_unique_constraints(name, schema=schema):
        by_columns[tuple(unique["column_names"])] = unique["name"]
    for constraint in table.constraints:
        if isinstance(constraint, UniqueConstraint):
            columns = tuple(column.name for column in constraint.columns)
            yield from _differ("unique", by_columns.get(columns), _name(constraint))
    foreign = {
        (tuple(fk["constrained_columns"]), fk["referred_table"], tuple(fk["referred_columns"])): fk[
            "name"
        ]
        for fk in inspector.get_foreign_keys(name, schema=schema)
    }
    for constraint in table.constraints:
        if isinstance(constraint, ForeignKeyConstraint):
            key = (
                tuple(constraint.column_keys),
                constraint.referred_table.name,
                tuple(element.column.name for element in constraint.elements),
            )
            yield from _differ("foreign key", foreign.get(key), _name(constraint))
    indexes = {
        (tuple(index["column_names"]), bool(index["unique"])): index["name"]
        for index in inspector.get_indexes(name, schema=schema)
        if not index.get("duplicates_constraint") and None not in index["column_names"]
    }
    for index in table.indexes:
        if isinstance(index, Index) and all(hasattr(c, "name") for c in index.expressions):
            index_key = (tuple(column.name for column in index.columns), bool(index.unique))
            yield from _differ("index", indexes.get(index_key), _name(index))


def _differ(kind: str, existing: str | None, wanted: str | None) -> Iterator[Difference]:
    if existing and wanted and existing != wanted:
        yield kind, existing, wanted


def _name(item: Any) -> str | None:
    # The naming convention has filled the name in once the item is on its table.
    name = item.name
    return str(name) if isinstance(name, str) and name else None
