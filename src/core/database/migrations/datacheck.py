"""The data round trip: every revision, up and down, on tables full of rows.

For each revision, oldest first: fill every table with generated rows, upgrade
one revision, and check that every row and value is still there (a renamed or
moved column counts as kept when its values turn up in a new column); fill
again, downgrade, check again, upgrade again. A revision that loses rows or
values, or fails on filled tables, is reported with the table, the column and
the number of rows. The same on SQLite and Postgres.

A revision that drops data on purpose says so in its file::

    upgrade_loses = ("users.legacy_flag",)  # or a whole table: ("old_table",)
    downgrade_loses = ("users.nickname",)
"""

from __future__ import annotations

import re
from collections import Counter
from collections.abc import Callable, Iterator
from dataclasses import dataclass
from pathlib import Path
from typing import Any

from alembic.script import Script, ScriptDirectory
from sqlalchemy.engine import URL, Connection

from core.database.engine import create_engine
from core.database.migrations.commands import alembic_config, downgrade, upgrade
from core.database.migrations.environment import run_blocking
from core.database.migrations.errors import MultipleHeadsError
from core.database.migrations.rows import Snapshot, fill, new_sequence, schema_of, snapshot
from core.database.migrations.typeinfo import integer_range, string_length

__all__ = ["Finding", "data_round_trip"]

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


def data_round_trip(
    url: str | URL,
    *,
    config_path: str | Path | None = None,
    per_table: int = 3,
    say: Callable[[str], None] = print,
) -> list[Finding]:
    """Walk the history on `url` (emptied first) with data; the losses of the first bad step."""
    scripts = ScriptDirectory.from_config(alembic_config(config_path=config_path))
    heads = scripts.get_heads()
    if len(heads) > 1:
        raise MultipleHeadsError(sorted(heads))
    revisions = list(reversed(list(scripts.walk_revisions("base", "heads"))))
    downgrade(url, "base", config_path=config_path)
    schemas: dict[str, Schema] = {}
    for revision in revisions:  # the schema of every revision, for diagnosing failures
        try:
            upgrade(url, revision.revision, config_path=config_path)
        except Exception:
            break
        schemas[revision.revision] = _read(url, _schema)
    downgrade(url, "base", config_path=config_path)
    sequence = new_sequence()
    for revision in revisions:
        say(f"== data round trip: {revision.revision} ({revision.doc})")
        findings = _one_revision(url, config_path, revision, schemas, per_table, sequence)
        if findings:
            return findings
    return []


def _one_revision(
    url: str | URL,
    config_path: str | Path | None,
    revision: Script,
    schemas: dict[str, Schema],
    per_table: int,
    sequence: Iterator[int],
) -> list[Finding]:
    target = revision.revision
    previous = str(revision.down_revision or "base")
    up_declared = set(getattr(revision.module, "upgrade_loses", ()))
    down_declared = set(getattr(revision.module, "downgrade_loses", ()))

    before = _read(url, lambda c: _fill_and_read(c, per_table, sequence))
    step = f"upgrade {previous} -> {target}"
    failed = _step(upgrade, url, target, config_path, step, before, schemas.get(target))
    if failed:
        return failed
    after = _read(url, snapshot)
    findings = _compare(step, before, after, up_declared) + _misfits(step, after, None)

    filled = _read(url, lambda c: _fill_and_read(c, per_table, sequence))
    step = f"downgrade {target} -> {previous}"
    old_schema = {table: dict(rows.columns) for table, rows in before.items()}
    failed = _step(downgrade, url, previous, config_path, step, filled, old_schema)
    if failed:
        return findings + failed
    restored = _read(url, snapshot)
    kept = _restrict(filled, old_schema)
    findings += _compare(step, kept, restored, down_declared) + _misfits(step, restored, None)

    step = f"upgrade again {previous} -> {target}"
    failed = _step(upgrade, url, target, config_path, step, restored, schemas.get(target))
    if failed:
        return findings + failed
    return findings + _compare(step, restored, _read(url, snapshot), up_declared)


def _fill_and_read(connection: Connection, per_table: int, sequence: Iterator[int]) -> Snapshot:
    fill(connection, per_table, sequence)
    return snapshot(connection)


def _step(
    run: Callable[..., None],
    url: str | URL,
    revision: str,
    config_path: str | Path | None,
    step: str,
    data: Snapshot,
    schema: Schema | None,
) -> list[Finding]:
    try:
        run(url, revision, config_path=config_path)
    except Exception as exc:
        reason = str(getattr(exc, "orig", None) or exc).strip().splitlines()[0]
        diagnosed = _from_error(step, data, exc)
        if schema is not None:
            diagnosed = _misfits(step, data, schema) + _unfillable(step, data, schema) or diagnosed
        failure = f"in the tables when it failed: {reason}"
        return diagnosed or [Finding(step, "all tables", None, _total(data), failure)]
    return []


def _from_error(step: str, data: Snapshot, exc: Exception) -> list[Finding]:
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


def _compare(step: str, before: Snapshot, after: Snapshot, declared: set[str]) -> list[Finding]:
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


def _misfits(step: str, data: Snapshot, schema: Schema | None) -> list[Finding]:
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


def _unfillable(step: str, data: Snapshot, schema: Schema) -> list[Finding]:
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


def _restrict(data: Snapshot, schema: Schema) -> Snapshot:
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


def _total(data: Snapshot) -> int:
    return sum(len(rows.rows) for rows in data.values())


def _schema(connection: Connection) -> Schema:
    metadata = schema_of(connection)
    return {t.name: {c.name: c for c in t.columns} for t in metadata.tables.values()}


def _read(url: str | URL, work: Callable[[Connection], Any]) -> Any:
    async def go() -> Any:
        engine = create_engine(url)
        try:
            async with engine.begin() as connection:
                return await connection.run_sync(work)
        finally:
            await engine.dispose()

    return run_blocking(go())
