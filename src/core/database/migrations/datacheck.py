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

from collections.abc import Callable, Iterator
from pathlib import Path
from typing import Any

from alembic.script import Script, ScriptDirectory
from sqlalchemy.engine import URL, Connection

from core.database.engine import create_engine
from core.database.migrations.commands import alembic_config, downgrade, upgrade
from core.database.migrations.environment import run_blocking
from core.database.migrations.errors import MultipleHeadsError
from core.database.migrations.losses import (
    Finding,
    Schema,
    lost_values,
    misfits,
    named_by_error,
    restrict,
    total_rows,
    unfillable,
)
from core.database.migrations.rows import Snapshot, fill, new_sequence, schema_of, snapshot

__all__ = ["Finding", "data_round_trip"]


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
    findings = lost_values(step, before, after, up_declared) + misfits(step, after, None)

    filled = _read(url, lambda c: _fill_and_read(c, per_table, sequence))
    step = f"downgrade {target} -> {previous}"
    old_schema = {table: dict(rows.columns) for table, rows in before.items()}
    failed = _step(downgrade, url, previous, config_path, step, filled, old_schema)
    if failed:
        return findings + failed
    restored = _read(url, snapshot)
    kept = restrict(filled, old_schema)
    findings += lost_values(step, kept, restored, down_declared) + misfits(step, restored, None)

    step = f"upgrade again {previous} -> {target}"
    failed = _step(upgrade, url, target, config_path, step, restored, schemas.get(target))
    if failed:
        return findings + failed
    return findings + lost_values(step, restored, _read(url, snapshot), up_declared)


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
        diagnosed = named_by_error(step, data, exc)
        if schema is not None:
            diagnosed = misfits(step, data, schema) + unfillable(step, data, schema) or diagnosed
        failure = f"in the tables when it failed: {reason}"
        return diagnosed or [Finding(step, "all tables", None, total_rows(data), failure)]
    return []


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
