"""Migration commands under trouble: two heads, offline SQL on SQLite, two deploys at once."""

from __future__ import annotations

import io
import os
import re
import shutil
import subprocess
import sys
import time
from argparse import Namespace
from pathlib import Path
from typing import Any

import pytest
from alembic import command
from alembic.config import Config
from sqlalchemy import text
from sqlalchemy.engine import URL

from core.database import create_engine
from core.database.migrations import (
    MultipleHeadsError,
    OfflineSQLError,
    alembic_config,
    check,
    head_revision,
    upgrade,
)
from core.database.migrations.environment import run_blocking

ROOT = Path(__file__).resolve().parents[1]
ALEMBIC_INI = ROOT / "alembic.ini"

BRANCH = '''\
"""branch {name}"""

revision = "{name}"
down_revision = {down!r}
branch_labels = None
depends_on = None


def upgrade() -> None:
    pass


def downgrade() -> None:
    pass
'''

# A deploy that takes a while: a second `upgrade head` started meanwhile must wait.
SLOW_DEPLOY = '''\
"""a slow deploy step that must run once"""

import time

import sqlalchemy as sa
from alembic import op

revision = "5105de910700"
down_revision = {down!r}
branch_labels = None
depends_on = None


def upgrade() -> None:
    op.create_table("deploys", sa.Column("id", sa.Integer(), primary_key=True))
    op.execute("INSERT INTO deploys (id) VALUES (1)")
    time.sleep(2)


def downgrade() -> None:
    op.drop_table("deploys")
'''

BATCH_REVISION = '''\
"""a batch operation: SQLite recreates the table"""

import sqlalchemy as sa
from alembic import op

revision = "0ff11e5c0b47"
down_revision = {down!r}
branch_labels = None
depends_on = None


def upgrade() -> None:
    with op.batch_alter_table("users") as batch_op:
        batch_op.alter_column("name", existing_type=sa.String(200), nullable=False)


def downgrade() -> None:
    with op.batch_alter_table("users") as batch_op:
        batch_op.alter_column("name", existing_type=sa.String(200), nullable=True)
'''


@pytest.fixture
def project(tmp_path: Path) -> Path:
    """A copy of alembic.ini and alembic/ to add revisions to; returns the ini path."""
    shutil.copytree(
        ROOT / "alembic", tmp_path / "alembic", ignore=shutil.ignore_patterns("__pycache__")
    )
    ini, replaced = re.subn(r"(?m)^hooks = .*$", "hooks =", ALEMBIC_INI.read_text())
    assert replaced == 1
    (tmp_path / "alembic.ini").write_text(ini)
    return tmp_path / "alembic.ini"


def add(ini: Path, filename: str, source: str) -> None:
    (ini.parent / "alembic" / "versions" / filename).write_text(source)


def two_heads(ini: Path) -> list[str]:
    base = head_revision(config_path=ini)
    for name in ("aaaa0000head", "bbbb0000head"):
        add(ini, f"{name}.py", BRANCH.format(name=name, down=base))
    return ["aaaa0000head", "bbbb0000head"]


def cli(ini: Path, url: URL, *arguments: str) -> subprocess.CompletedProcess[str]:
    database = url.render_as_string(hide_password=False)
    return subprocess.run(
        [sys.executable, "-m", "core.database", "--config", str(ini), *arguments],
        capture_output=True,
        text=True,
        check=False,
        cwd=ini.parent,
        # In the environment, not on the command line (visible in `ps`).
        env={**os.environ, "DATABASE_URL": database, "APP_ENV": "test"},
    )


# --- two heads ------------------------------------------------------------------------


def test_two_heads_are_named_by_check_and_autogenerate(project: Path, scratch: URL) -> None:
    upgrade(scratch, config_path=project)
    heads = two_heads(project)
    pattern = r"2 heads \(aaaa0000head, bbbb0000head\).*alembic merge heads"
    with pytest.raises(MultipleHeadsError, match=pattern):
        check(scratch, config_path=project)
    config = alembic_config(scratch, config_path=project, stdout=io.StringIO())
    with pytest.raises(MultipleHeadsError, match=pattern) as raised:
        command.revision(config, "next", autogenerate=True)
    assert raised.value.heads == tuple(heads)
    with pytest.raises(MultipleHeadsError, match=pattern):
        upgrade(scratch, config_path=project)


@pytest.mark.parametrize("arguments", [("check",), ("upgrade",)])
def test_the_cli_names_two_heads_without_a_traceback(
    project: Path, scratch: URL, arguments: tuple[str, ...]
) -> None:
    upgrade(scratch, config_path=project)
    two_heads(project)
    result = cli(project, scratch, *arguments)
    assert result.returncode == 1, result.stdout + result.stderr
    assert "2 heads (aaaa0000head, bbbb0000head)" in result.stderr
    assert "Traceback" not in result.stderr


# --- offline SQL --------------------------------------------------------------------------


@pytest.mark.sqlite_only(reason="only SQLite needs a live database to render a batch rebuild")
def test_offline_sqlite_sql_fails_before_writing_anything(project: Path) -> None:
    add(project, "batch.py", BATCH_REVISION.format(down=head_revision(config_path=project)))
    buffer = io.StringIO()
    config = Config(str(project), output_buffer=buffer, stdout=buffer, cmd_opts=Namespace(x=[]))
    config.attributes.update(url="sqlite+aiosqlite:///./offline_test.db", configure_logger=False)
    with pytest.raises(OfflineSQLError, match=r"no SQL was written.*live database"):
        command.upgrade(config, "head", sql=True)
    assert buffer.getvalue() == ""  # not even the first revision's CREATE TABLEs


def test_offline_sql_is_written_whole_when_it_can_be(project: Path, database_url: str) -> None:
    buffer = io.StringIO()
    config = Config(str(project), output_buffer=buffer, stdout=buffer, cmd_opts=Namespace(x=[]))
    config.attributes.update(url=database_url, configure_logger=False)
    command.upgrade(config, "head", sql=True)
    assert "CREATE TABLE users" in buffer.getvalue()
    assert buffer.getvalue().rstrip().endswith(("COMMIT;", "PRAGMA foreign_keys=ON;"))


# --- two deploys at once ------------------------------------------------------------------


def test_two_concurrent_upgrades_migrate_once(project: Path, scratch: URL) -> None:
    upgrade(scratch, config_path=project)
    add(project, "slow.py", SLOW_DEPLOY.format(down=head_revision(config_path=project)))
    database = scratch.render_as_string(hide_password=False)
    command_line = [sys.executable, "-m", "core.database", "--config", str(project), "upgrade"]
    env = {**os.environ, "DATABASE_URL": database, "APP_ENV": "test"}
    started = time.monotonic()
    deploys = [
        subprocess.Popen(
            command_line,
            cwd=project.parent,
            env=env,
            stdout=subprocess.PIPE,
            stderr=subprocess.PIPE,
            text=True,
        )
        for _ in range(2)
    ]
    finished: dict[int, float] = {}
    while len(finished) < len(deploys) and time.monotonic() - started < 120:
        for index, deploy in enumerate(deploys):
            if index not in finished and deploy.poll() is not None:
                finished[index] = time.monotonic() - started
        time.sleep(0.05)
    outputs = [deploy.communicate(timeout=10) for deploy in deploys]
    # Both succeed: without the lock the second would run the revision too and fail
    # on the table the first created.
    assert [deploy.returncode for deploy in deploys] == [0, 0], outputs
    # The one that did not migrate waited for the one that did (its 2 s step).
    assert min(finished.values()) >= 2, finished
    rows, version = run_blocking(read_deploys(scratch))
    assert rows == [(1,)]
    assert version == [("5105de910700",)]


async def read_deploys(url: URL) -> tuple[list[Any], list[Any]]:
    engine = create_engine(url)
    try:
        async with engine.connect() as connection:
            rows = (await connection.execute(text("SELECT id FROM deploys"))).all()
            version = (await connection.execute(text("SELECT * FROM alembic_version"))).all()
            return list(rows), list(version)
    finally:
        await engine.dispose()
