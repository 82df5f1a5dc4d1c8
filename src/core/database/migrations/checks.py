"""Autogenerate compares CHECK constraints, enum value sets included (Alembic does not).

A `portable_enum` column is VARCHAR plus a named CHECK (``status IN ('a', 'b')``) on
both backends, so a new enum value is a changed CHECK: this comparator sees it.
Postgres hands a constraint back rewritten (``(status)::text = ANY (ARRAY[...])``),
SQLite as written; both sides are normalised before they are compared.
"""

from __future__ import annotations

import logging
import re
from typing import Any

from alembic.autogenerate import comparators
from alembic.autogenerate.api import AutogenContext
from alembic.operations import ops
from sqlalchemy import CheckConstraint, Column, Table, text
from sqlalchemy.engine import Dialect
from sqlalchemy.sql.elements import conv
from sqlalchemy.sql.visitors import iterate

__all__ = ["compare_check_constraints", "normalise_check"]

log = logging.getLogger(__name__)

# The casts Postgres writes into a constraint it deparses.
_PG_CAST = re.compile(
    r"::\s*(?:character varying|varchar|text|integer|bigint|smallint|numeric|boolean|bpchar"
    r"|timestamp with(?:out)? time zone|double precision|real|date|jsonb?|uuid|character)"
    r"(?:\(\d+(?:,\s*\d+)?\))?(?:\[\])?",
    re.IGNORECASE,
)
# `x = ANY (ARRAY['a', 'b'])`: Postgres' spelling of `x IN ('a', 'b')`.
_ANY_ARRAY = re.compile(r"=\s*ANY\s*\(\s*\(?\s*ARRAY\s*\[(.*?)\]\s*\)?\s*\)", re.I | re.S)
_LITERAL = re.compile(r"('(?:[^']|'')*')")


def normalise_check(sql: str) -> str:
    """A CHECK's SQL in a form both backends' spellings of one expression share.

    Casts, parentheses, identifier quotes, case and spaces outside string literals
    go; ``= ANY (ARRAY[...])`` becomes ``IN (...)``. Dropping parentheses may equate
    two expressions that differ only in grouping: a rare miss, never a false drift.
    """
    sql = _ANY_ARRAY.sub(r" IN (\1)", _PG_CAST.sub("", sql))
    parts = _LITERAL.split(sql)
    for index in range(0, len(parts), 2):  # even parts lie outside string literals
        parts[index] = re.sub(r'[\s()"`\[\]]', "", parts[index]).lower()
    return "".join(parts)


def model_check_sql(constraint: CheckConstraint, dialect: Dialect) -> str:
    """The SQL the dialect writes for the constraint's condition (enum ones too)."""
    options = {"include_table": False, "literal_binds": True}
    return str(constraint.sqltext.compile(dialect=dialect, compile_kwargs=options))


def _model_checks(table: Table, existing: Table, dialect: Dialect) -> dict[str, CheckConstraint]:
    checks: dict[str, CheckConstraint] = {}
    for constraint in table.constraints:
        if not isinstance(constraint, CheckConstraint):
            continue
        create_rule = getattr(constraint, "_create_rule", None)
        if create_rule is not None:
            if not create_rule(_CompilerStub(dialect)):
                continue  # a type-bound CHECK this dialect does not create (native enum)
            if any(column.name not in existing.c for column in _columns(constraint)):
                continue  # an enum column being added: add_column creates its CHECK
        name = dialect.identifier_preparer.format_constraint(constraint)
        if isinstance(name, str) and name:
            checks[name.strip('"')] = constraint
    return checks


def _columns(constraint: CheckConstraint) -> list[Column[Any]]:
    return [node for node in iterate(constraint.sqltext) if isinstance(node, Column)]


class _CompilerStub:
    """What a type-bound constraint's create rule reads: the dialect."""

    def __init__(self, dialect: Dialect) -> None:
        self.dialect = dialect


@comparators.dispatch_for("table")
def compare_check_constraints(
    autogen_context: AutogenContext,
    modify_table_ops: ops.ModifyTableOps,
    schema: str | None,
    table_name: str,
    conn_table: Table | None,
    metadata_table: Table | None,
) -> None:
    """Add, drop or replace named CHECK constraints so the database matches the models."""
    if conn_table is None or metadata_table is None or autogen_context.inspector is None:
        return
    dialect = autogen_context.dialect
    assert dialect is not None
    reflected = {
        str(ck["name"]): str(ck["sqltext"])
        for ck in autogen_context.inspector.get_check_constraints(table_name, schema=schema)
        if ck.get("name")
    }
    wanted = _model_checks(metadata_table, conn_table, dialect)
    for name in sorted(set(reflected) - set(wanted)):
        modify_table_ops.ops.append(_drop(name, table_name, schema, reflected[name]))
        log.info("Detected removed check constraint %r on %r", name, table_name)
    for name in sorted(wanted):
        sql = model_check_sql(wanted[name], dialect)
        if name in reflected:
            if normalise_check(reflected[name]) == normalise_check(sql):
                continue
            modify_table_ops.ops.append(_drop(name, table_name, schema, reflected[name]))
            log.info("Detected changed check constraint %r on %r", name, table_name)
        else:
            log.info("Detected added check constraint %r on %r", name, table_name)
        modify_table_ops.ops.append(_create(name, table_name, schema, sql))


def _create(name: str, table: str, schema: str | None, sql: str) -> ops.CreateCheckConstraintOp:
    return ops.CreateCheckConstraintOp(conv(name), table, text(sql), schema=schema)


def _drop(name: str, table: str, schema: str | None, sql: str) -> ops.DropConstraintOp:
    # The reverse (downgrade) recreates the constraint as the database had it.
    reverse = ops.CreateCheckConstraintOp(conv(name), table, text(_PG_CAST.sub("", sql)))
    return ops.DropConstraintOp(conv(name), table, type_="check", schema=schema, _reverse=reverse)
