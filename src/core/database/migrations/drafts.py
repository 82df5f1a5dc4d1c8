"""Autogenerate drafts that lose no data silently.

Alembic writes a renamed column as a drop plus an add (its values are lost), a
table split likewise, and a NOT NULL column with a Python-side default without
the server default existing rows need. Here, before the file is written:

- a drop next to a compatible add becomes a rename when told so
  (``-x renames=users.email:contact_email``, ``MIGRATION_RENAMES``, or the answer
  to a y/N question when ``alembic revision`` runs in a terminal); otherwise it
  stays, with a warning and a review marker in the file;
- every other drop of a column or table gets a warning and a marker too;
- a column added with a scalar Python default gets it as a server default for
  the existing rows, dropped again afterwards; a computed one stops the generation.

A marker is a comment line starting with ``REVIEW_MARKER``; the migration check
(``roundtrip``) refuses a history that still holds one.
"""

from __future__ import annotations

import logging
import os
import sys
from dataclasses import dataclass
from typing import Any

from alembic import context as alembic_context
from alembic.operations import ops
from alembic.runtime.migration import MigrationContext
from sqlalchemy import Column

from core.database.migrations.backfill import backfill_defaults
from core.database.migrations.draft_ops import RenameColumnOp, RenameTableOp, ReviewNote
from core.database.migrations.typeinfo import type_family

__all__ = ["RENAMES_ARGUMENT", "RENAMES_ENV", "make_safe"]

log = logging.getLogger(__name__)

RENAMES_ARGUMENT = "renames"
RENAMES_ENV = "MIGRATION_RENAMES"


@dataclass
class _Decisions:
    """Renames the user named (`table.old` -> new, `old_table` -> new) and how to ask."""

    renames: dict[str, str]
    interactive: bool

    def rename(self, old: str, new: str, what: str) -> bool:
        if self.renames.get(old) == new:
            return True
        if not self.interactive:
            return False
        print(f"Was {what} {old} renamed to {new}? [y/N] ", end="", flush=True)
        return sys.stdin.readline().strip().lower() in ("y", "yes")


def make_safe(context: MigrationContext, script: ops.MigrationScript) -> None:
    """Rewrite the draft's upgrade in place; the caller rebuilds the downgrade from it."""
    decisions = _Decisions(_requested_renames(context), _interactive(context))
    for upgrade_ops in script.upgrade_ops_list:
        notes: list[ReviewNote] = []
        _tables(upgrade_ops, decisions, notes)
        _columns(upgrade_ops, decisions, notes)
        backfill_defaults(upgrade_ops, notes)
        for note in notes:
            log.warning("REVIEW: %s", note.message)
            print(f"WARNING: {note.message}", file=sys.stderr)
        upgrade_ops.ops[:0] = notes


def _tables(upgrade_ops: ops.UpgradeOps, decisions: _Decisions, notes: list[ReviewNote]) -> None:
    created = {op.table_name: op for op in upgrade_ops.ops if isinstance(op, ops.CreateTableOp)}
    for index, op in enumerate(list(upgrade_ops.ops)):
        if not isinstance(op, ops.DropTableOp):
            continue
        old_columns = {c.name for c in op.to_table().columns}
        for new, create in created.items():
            shared = old_columns & {c.name for c in create.columns if isinstance(c, Column)}
            if len(shared) * 2 < len(old_columns):
                continue
            if decisions.rename(op.table_name, new, "table"):
                upgrade_ops.ops[index] = RenameTableOp(op.table_name, new, schema=op.schema)
                upgrade_ops.ops.remove(create)
                del created[new]
                break
            notes.append(
                ReviewNote(
                    f"table {op.table_name} is dropped and {new} created with its columns: if "
                    f"it was renamed, its rows are lost; regenerate with "
                    f"-x {RENAMES_ARGUMENT}={op.table_name}:{new}"
                )
            )
            break
        else:
            notes.append(ReviewNote(f"table {op.table_name} is dropped with all its rows"))


def _columns(upgrade_ops: ops.UpgradeOps, decisions: _Decisions, notes: list[ReviewNote]) -> None:
    added_anywhere = _added_columns(upgrade_ops)
    for table_ops in _modify_ops(upgrade_ops):
        adds = [op for op in table_ops.ops if isinstance(op, ops.AddColumnOp)]
        for drop in [op for op in table_ops.ops if isinstance(op, ops.DropColumnOp)]:
            old = drop.to_column()
            table = table_ops.table_name
            for add in adds:
                if type_family(old.type) != type_family(add.column.type):
                    continue
                new = add.column.name
                if decisions.rename(f"{table}.{old.name}", new, "column"):
                    table_ops.ops[table_ops.ops.index(drop)] = _rename(table, old, add.column)
                    table_ops.ops.remove(add)
                    adds.remove(add)
                    break
                notes.append(
                    ReviewNote(
                        f"{table}.{old.name} is dropped and {table}.{new} added (same kind of "
                        f"type): if it was renamed, its values are lost; regenerate with "
                        f"-x {RENAMES_ARGUMENT}={table}.{old.name}:{new}"
                    )
                )
                break
            else:
                elsewhere = sorted(t for t, c in added_anywhere if c == old.name and t != table)
                if elsewhere:
                    notes.append(
                        ReviewNote(
                            f"{table}.{old.name} is dropped while {', '.join(elsewhere)} gets "
                            f"a column {old.name} (a table split?): the values are not "
                            "copied; add an INSERT ... SELECT before the drop"
                        )
                    )
                else:
                    notes.append(ReviewNote(f"{table}.{old.name} is dropped with its values"))


def _rename(table: str, old: Column[Any], new: Column[Any]) -> RenameColumnOp:
    op = RenameColumnOp(
        table,
        old.name,
        modify_name=new.name,
        existing_type=old.type,
        existing_nullable=old.nullable,
    )
    if bool(old.nullable) != bool(new.nullable):
        op.modify_nullable = new.nullable
    return op


def _modify_ops(upgrade_ops: ops.UpgradeOps) -> list[ops.ModifyTableOps]:
    return [op for op in upgrade_ops.ops if isinstance(op, ops.ModifyTableOps)]


def _added_columns(upgrade_ops: ops.UpgradeOps) -> set[tuple[str, str]]:
    added: set[tuple[str, str]] = set()
    for op in upgrade_ops.ops:
        if isinstance(op, ops.CreateTableOp):
            added.update((op.table_name, c.name) for c in op.columns if isinstance(c, Column))
        elif isinstance(op, ops.ModifyTableOps):
            added.update(
                (op.table_name, sub.column.name)
                for sub in op.ops
                if isinstance(sub, ops.AddColumnOp)
            )
    return added


def _requested_renames(context: MigrationContext) -> dict[str, str]:
    sources = [os.environ.get(RENAMES_ENV, "")]
    if context.config is not None:
        sources.append(str(context.config.attributes.get(RENAMES_ARGUMENT, "")))
        x_arguments = alembic_context.get_x_argument(as_dictionary=True)
        sources.append(str(x_arguments.get(RENAMES_ARGUMENT, "")))
    renames: dict[str, str] = {}
    for item in ",".join(sources).split(","):
        old, sep, new = item.strip().partition(":")
        if sep and old and new:
            # `users.email:contact_email` or `users.email:users.contact_email`
            table = old.rpartition(".")[0]
            renames[old] = new.removeprefix(f"{table}.") if table else new
    return renames


def _interactive(context: MigrationContext) -> bool:
    """Ask only in `alembic revision` run from a terminal, never in `check` or from code."""
    config = context.config
    command = getattr(getattr(config, "cmd_opts", None), "cmd", None)
    name = getattr(command[0], "__name__", "") if command else ""
    return name == "revision" and sys.stdin.isatty()
