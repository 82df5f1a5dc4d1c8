"""What the data round trip reports: rows and values lost, changed, or that cannot fit.

Snapshots (rows.py) before and after a step are compared by primary key; a value
counts as kept when it is still in its column, or when a column that is new after
the step (a rename, a move to another table) holds all of the column's values.
"""

from __future__ import annotations

import re
from collections import Counter
from dataclasses import dataclass
from typing import Any

from core.database.migrations.rows import Snapshot
from core.database.migrations.typeinfo import integer_range, string_length

__all__ = [
    "Finding",
    "Schema",
    "lost_values",
    "misfits",
    "named_by_error",
    "restrict",
    "total_rows",
    "unfillable",
]

Schema = dict[str, dict[str, Any]]  # table -> column -> reflected Column

# How the backends name a NOT NULL column that existing rows cannot fill.
_ADD_NOT_NULL = re.compile(r'ALTER TABLE "?(\w+)"? ADD (?:COLUMN )?"?(\w+)"?', re.I)
_NULL_FAILED = re.compile(r"NOT NULL constraint failed: (?:_alembic_tmp_)?(\w+)\.(\w+)")
_NULLS_IN_COLUMN = re.compile(r'column "(\w+)" of relation "(\w+)" contains null values')


@dataclass(frozen=True)
class Finding:
    """One loss: where (`step`, `table`, `column`), how many rows, and what happened."""

    step: str
    table: str
    column: str | None
    rows: int
    problem: str

    def __str__(self) -> str:
        where = f"{self.table}.{self.column}" if self.column else self.table
        return f"{self.step}: {where}: {self.rows} row{'s' * (self.rows != 1)} {self.problem}"


def named_by_error(step: str, data: Snapshot, exc: Exception) -> list[Finding]:
    """A NOT NULL column the failing statement or the error names (schema unknown)."""
    statement = str(getattr(exc, "statement", "") or "")
    message = str(getattr(exc, "orig", None) or exc)
    found = _ADD_NOT_NULL.search(statement) if "NOT NULL" in statement.upper() else None
    names = found.groups() if found else None
    if names is None and (found := _NULL_FAILED.search(message)):
        names = found.groups()
    if names is None and (found := _NULLS_IN_COLUMN.search(message)):
        names = (found.group(2), found.group(1))
    if names is None:
        return []
    table, column = names
    rows = data.get(table)
    count = len(rows.rows) if rows is not None else 0
    problem = "cannot get a value: NOT NULL column added without a server default"
    return [Finding(step, table, column, count, problem)]


def lost_values(step: str, before: Snapshot, after: Snapshot, declared: set[str]) -> list[Finding]:
    findings: list[Finding] = []
    new_columns = [
        Counter(v for row in rows.rows.values() if (v := row[column]) is not None)
        for table, rows in after.items()
        for column in rows.columns
        if table not in before or column not in before[table].columns
    ]
    for table, rows in before.items():
        if not rows.rows or table in declared:
            continue
        now = after.get(table) or _renamed_table(rows, before, after)
        if now is None:
            findings.append(Finding(step, table, None, len(rows.rows), "lost (table dropped)"))
            continue
        lost = [key for key in rows.rows if key not in now.rows]
        if lost:
            findings.append(Finding(step, table, None, len(lost), "lost"))
        for column in rows.columns:
            if f"{table}.{column}" in declared:
                continue
            values = Counter(v for row in rows.rows.values() if (v := row[column]) is not None)
            if column not in now.columns:
                if values and not any(values <= moved for moved in new_columns):
                    problem = "lost their value (column dropped)"
                    findings.append(Finding(step, table, column, values.total(), problem))
                continue
            changed = sum(
                1
                for key, row in rows.rows.items()
                if key in now.rows and now.rows[key][column] != row[column]
            )
            if changed:
                findings.append(Finding(step, table, column, changed, "changed value"))
    return findings


def _renamed_table(rows: Any, before: Snapshot, after: Snapshot) -> Any:
    for name, candidate in after.items():
        if name not in before and rows.rows and set(rows.rows) <= set(candidate.rows):
            return candidate
    return None


def misfits(step: str, data: Snapshot, schema: Schema | None) -> list[Finding]:
    """Values that do not fit their column's type (`schema`: the one they are going to)."""
    findings: list[Finding] = []
    for table, rows in data.items():
        types = rows.columns if schema is None else schema.get(table, {})
        for column, type_ in types.items():
            if column not in rows.columns:
                continue
            type_ = getattr(type_, "type", type_)
            values = [row[column] for row in rows.rows.values() if row[column] is not None]
            length, bounds = string_length(type_), integer_range(type_)
            if length is not None:
                too_long = sum(1 for v in values if isinstance(v, str) and len(v) > length)
                if too_long:
                    problem = f"hold values longer than {length} characters"
                    findings.append(Finding(step, table, column, too_long, problem))
            elif bounds is not None:
                out = sum(
                    1 for v in values if isinstance(v, int) and not bounds[0] <= v <= bounds[1]
                )
                if out:
                    problem = f"hold values outside {type_.compile()}'s range"
                    findings.append(Finding(step, table, column, out, problem))
    return findings


def unfillable(step: str, data: Snapshot, schema: Schema) -> list[Finding]:
    """NOT NULL columns without a server default, added to tables that hold rows."""
    findings: list[Finding] = []
    for table, columns in schema.items():
        rows = data.get(table)
        if rows is None or not rows.rows:
            continue
        for name, column in columns.items():
            fresh = name not in rows.columns
            if fresh and not getattr(column, "nullable", True) and column.server_default is None:
                problem = "cannot get a value: NOT NULL column added without a server default"
                findings.append(Finding(step, table, name, len(rows.rows), problem))
    return findings


def restrict(data: Snapshot, schema: Schema) -> Snapshot:
    """The part of `data` that lives in tables and columns of `schema`."""
    kept: Snapshot = {}
    for table, rows in data.items():
        if table not in schema:
            continue
        kept[table] = type(rows)(
            {c: t for c, t in rows.columns.items() if c in schema[table]},
            {
                k: {c: v for c, v in row.items() if c in schema[table]}
                for k, row in rows.rows.items()
            },
        )
    return kept


def total_rows(data: Snapshot) -> int:
    return sum(len(rows.rows) for rows in data.values())
