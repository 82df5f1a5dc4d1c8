"""The data round trip (core.database.migrations.datacheck) on real histories, both backends.

The repository's own history keeps every row; each lossy draft of a small test
history fails naming the table, the column and the number of rows; each recipe of
docs/migrations.md passes.
"""

from __future__ import annotations

import os
import shutil
import subprocess
import sys
from pathlib import Path

import pytest
from sqlalchemy.engine import URL

from core.database.migrations import data_round_trip
from core.database.migrations.datacheck import Finding
from tests.histories.second import LOSSY, RECIPES, Draft, render

ROOT = Path(__file__).resolve().parents[1]
HISTORIES = Path(__file__).resolve().parent / "histories"

INI = """\
[alembic]
script_location = %(here)s/alembic
path_separator = os
"""
ENV = """\
from sqlalchemy import MetaData

from core.database.migrations import run_migrations

run_migrations(MetaData())
"""


def history(root: Path, name: str, draft: Draft) -> Path:
    """An Alembic project: the base revision and `draft` on top; returns alembic.ini."""
    versions = root / "alembic" / "versions"
    versions.mkdir(parents=True)
    (root / "alembic" / "env.py").write_text(ENV)
    (root / "alembic" / "script.py.mako").write_text("")
    shutil.copy(HISTORIES / "base.py", versions / "a_base.py")
    (versions / "b_next.py").write_text(render(name, draft))
    (root / "alembic.ini").write_text(INI)
    return root / "alembic.ini"


def walk(url: URL, ini: Path) -> list[str]:
    return [str(finding) for finding in data_round_trip(url, config_path=ini, say=lambda _: None)]


def test_the_repository_history_keeps_every_row(scratch: URL) -> None:
    assert walk(scratch, ROOT / "alembic.ini") == []


@pytest.mark.parametrize("name", sorted(LOSSY))
def test_each_lossy_draft_fails_with_table_column_and_count(
    name: str, scratch: URL, tmp_path: Path
) -> None:
    draft = LOSSY[name]
    findings = walk(scratch, history(tmp_path, name, draft))
    assert draft.expected is not None
    assert any(draft.expected in finding for finding in findings), findings


@pytest.mark.parametrize("name", sorted(RECIPES))
def test_each_recipe_keeps_every_value(name: str, scratch: URL, tmp_path: Path) -> None:
    assert walk(scratch, history(tmp_path, name, RECIPES[name])) == []


def test_declared_loss_is_accepted(scratch: URL, tmp_path: Path) -> None:
    lossy = LOSSY["rename-as-drop-add"]
    declared = Draft(lossy.upgrade, lossy.downgrade, None, 'upgrade_loses = ("authors.email",)\n')
    assert walk(scratch, history(tmp_path, "declared", declared)) == []


def test_finding_names_step_table_column_and_rows() -> None:
    finding = Finding("upgrade a -> b", "users", "email", 3, "lost their value")
    assert str(finding) == "upgrade a -> b: users.email: 3 rows lost their value"
    assert str(Finding("s", "users", None, 1, "lost")) == "s: users: 1 row lost"


def test_command_fails_on_a_lossy_history(scratch: URL, tmp_path: Path) -> None:
    url = scratch.render_as_string(hide_password=False)
    ini = history(tmp_path, "rename", LOSSY["rename-as-drop-add"])
    command = [sys.executable, "-m", "core.database.migrations.roundtrip", "--data-only"]
    result = subprocess.run(
        [*command, "--url", url, "-c", str(ini)],
        capture_output=True,
        text=True,
        check=False,
        cwd=tmp_path,
        env={**os.environ, "APP_ENV": "test"},
    )
    assert result.returncode == 1, result.stdout + result.stderr
    assert "authors.email: 3 rows lost their value (column dropped)" in result.stderr
    if scratch.password:
        assert str(scratch.password) not in result.stdout + result.stderr
