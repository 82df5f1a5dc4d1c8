"""``python -m core.database check-migrations``: is this Alembic history portable to SQLite?

A history written for Postgres alone often upgrades on SQLite and fails at the
first insert. The check reads every revision (run offline on the Postgres
dialect, each table, column, default and index looked at as SQLite would see
it), replays the history on a scratch SQLite file (upgrade head, probes, downgrade
base), and on a scratch database of a Postgres server when one is given. Each
finding names the construct and its portable fix; see docs/migrations.md.
"""

from __future__ import annotations

import io
import sqlite3
import tempfile
from collections.abc import Callable, Iterator
from dataclasses import dataclass
from pathlib import Path
from typing import Any, Literal

from sqlalchemy.engine import URL

from core.database.errors import ConfigurationError
from core.database.migrations.portability_rules import (
    column_findings,
    default_findings,
    index_findings,
    raw_sql_findings,
    table_findings,
)
from core.database.migrations.portability_types import Finding
from core.database.url import parse_database_url

__all__ = ["Finding", "Report", "check_portability"]


@dataclass
class Report:
    """What the check found, and which replays ran."""

    findings: list[Finding]
    replays: list[str]

    @property
    def errors(self) -> list[Finding]:
        """Findings that break on a backend (as opposed to notes on a behaviour difference)."""
        return [finding for finding in self.findings if finding.severity == "error"]


def check_portability(
    config_path: str | Path = "alembic.ini", *, postgres_url: str | URL | None = None
) -> Report:
    """Check every revision of the history at `config_path`; replay it on SQLite (and Postgres)."""
    if postgres_url is not None:
        postgres_url = parse_database_url(postgres_url)
        if postgres_url.get_backend_name() != "postgresql":
            raise ConfigurationError(f"--postgres wants a Postgres URL, not {postgres_url}")
    findings = _Findings()
    replays: list[str] = []
    _read_offline(Path(config_path), findings)
    replays.append(_replay_on_sqlite(Path(config_path), findings))
    if postgres_url is not None:
        from core.database.migrations.portability_postgres import replay_on_postgres

        replays.append(replay_on_postgres(Path(config_path), postgres_url, findings.add))
    return Report(findings.items, replays)


class _Findings:
    """Findings in order, each reported once, tagged with the revision being read."""

    def __init__(self) -> None:
        self.items: list[Finding] = []
        self._seen: set[tuple[str, str]] = set()
        self.revision: str | None = None

    def add(self, finding: Finding) -> None:
        key = (finding.where, finding.problem)
        if key in self._seen:
            return
        self._seen.add(key)
        if finding.revision is None and self.revision is not None:
            finding = finding.at(self.revision)
        self.items.append(finding)

    def extend(self, findings: Iterator[Finding] | list[Finding]) -> None:
        for finding in findings:
            self.add(finding)


def _read_offline(config_path: Path, findings: _Findings) -> None:
    from alembic.operations import Operations
    from alembic.runtime.migration import MigrationContext
    from alembic.script import ScriptDirectory

    from core.database.migrations.commands import alembic_config

    script = ScriptDirectory.from_config(alembic_config(config_path=config_path))
    # Offline, on the Postgres dialect: each operation reaches the recording impl
    # below with its Table, Column or Index, and nothing touches a database.
    context = MigrationContext.configure(
        dialect_name="postgresql", opts={"as_sql": True, "output_buffer": io.StringIO()}
    )
    _record_operations(context, findings)
    oldest_first = reversed(list(script.walk_revisions("base", "heads")))
    with Operations.context(context):
        for revision in oldest_first:
            findings.revision = revision.revision
            try:
                revision.module.upgrade()
            except Exception as exc:
                findings.add(
                    Finding(
                        "note",
                        "offline read",
                        f"stopped ({type(exc).__name__}: {_first_line(exc)}); a revision that "
                        "reads data (op.get_bind()) cannot be read offline",
                        "nothing to fix if the replays pass: they run every revision",
                    )
                )
    findings.revision = None


def _record_operations(context: Any, findings: _Findings) -> None:
    impl = context.impl
    base = type(impl)

    class Recording(base):  # type: ignore[valid-type, misc]
        def create_table(self, table: Any, *args: Any, **kw: Any) -> Any:
            findings.extend(table_findings(table))
            for column in table.columns:
                findings.extend(column_findings(table, column))
            return super().create_table(table, *args, **kw)

        def add_column(self, table_name: str, column: Any, *args: Any, **kw: Any) -> Any:
            findings.extend(column_findings(None, column, table_name=table_name))
            return super().add_column(table_name, column, *args, **kw)

        def alter_column(self, table_name: str, column_name: str, **kw: Any) -> Any:
            where = f"table {table_name}, column {column_name}"
            default = kw.get("server_default")
            if default not in (None, False):
                findings.extend(default_findings(where, getattr(default, "arg", default)))
            if kw.get("type_") is not None:
                from sqlalchemy import Column

                probe = Column(column_name, kw["type_"])
                findings.extend(column_findings(None, probe, table_name=table_name))
            return super().alter_column(table_name, column_name, **kw)

        def create_index(self, index: Any, *args: Any, **kw: Any) -> Any:
            findings.extend(index_findings(index))
            return super().create_index(index, *args, **kw)

    impl.__class__ = Recording


def _replay_on_sqlite(config_path: Path, findings: _Findings) -> str:
    from core.database.migrations.commands import downgrade, upgrade

    with tempfile.TemporaryDirectory(prefix="check-migrations-") as folder:
        path = Path(folder) / "scratch.db"
        url = URL.create("sqlite+aiosqlite", database=str(path))
        step: Literal["upgrade head", "downgrade base"] = "upgrade head"
        try:
            upgrade(url, config_path=config_path)
            findings.extend(_probe_sqlite(path))
            step = "downgrade base"
            downgrade(url, "base", config_path=config_path)
        except Exception as exc:
            findings.add(_replay_failure("SQLite", step, exc))
            return f"sqlite: {step} failed"
    return "sqlite: upgrade head, downgrade base on a scratch file: ok"


def _probe_sqlite(path: Path) -> Iterator[Finding]:
    """What the upgraded SQLite schema holds that the offline read could not see (raw SQL)."""
    connection = sqlite3.connect(path)
    try:
        tables = [
            row[0]
            for row in connection.execute(
                "SELECT name FROM sqlite_master WHERE type = 'table' "
                "AND name NOT LIKE 'sqlite_%' AND name != 'alembic_version'"
            )
        ]
        for table in tables:
            columns = connection.execute(f'PRAGMA table_info("{table}")').fetchall()
            keys = [column for column in columns if column[5]]
            for _cid, name, declared, _notnull, default, _pk in columns:
                where = f"table {table}, column {name}"
                if len(keys) == 1 and keys[0][1] == name:
                    yield from _rowid_finding(where, str(declared))
                if default is not None:
                    yield from default_findings(where, default, raw=True)
    finally:
        connection.close()


def _rowid_finding(where: str, declared: str) -> Iterator[Finding]:
    declared = declared.upper()
    if "INT" in declared and declared != "INTEGER":
        from core.database.migrations.portability_rules import bigint_key_finding

        yield bigint_key_finding(where, declared)


def _replay_failure(backend: str, step: str, exc: BaseException) -> Finding:
    # Raw SQL is judged here, by the replay, rather than read offline: a statement
    # guarded by `if op.get_bind().dialect.name == "postgresql"` is fine.
    statement = " ".join(str(getattr(exc, "statement", "") or "").split())
    error = _first_line(getattr(exc, "orig", None) or exc)
    fix = "see the findings above for the construct; the history must run on both backends"
    if statement:
        raw = list(raw_sql_findings(statement))
        if raw:
            fix = raw[0].fix
        return Finding(
            "error",
            f"{backend} replay",
            f'{step} failed at "{statement[:80]}": {error}',
            fix,
        )
    return Finding(
        "error", f"{backend} replay", f"{step} failed: {type(exc).__name__}: {error}", fix
    )


def _first_line(exc: BaseException) -> str:
    lines = str(exc).strip().splitlines()
    return lines[0] if lines else ""


def format_report(report: Report, write: Callable[[str], None]) -> None:
    """Print `report` one finding per paragraph, then a summary line."""
    for replay in report.replays:
        write(replay)
    for finding in report.findings:
        write(str(finding))
    notes = len(report.findings) - len(report.errors)
    if report.findings:
        write(f"{len(report.errors)} not portable, {notes} note(s)")
    else:
        write("portable: no finding")
