"""``python -m core.database init-migrations`` (core.database.migrations.scaffold) in a host app."""

from __future__ import annotations

import os
import shutil
import subprocess
import sys
from pathlib import Path

import pytest
from sqlalchemy import inspect
from sqlalchemy.engine import URL

from core.database import create_engine

ROOT = Path(__file__).resolve().parents[1]
HOST_MODELS = """
from sqlalchemy.orm import Mapped, mapped_column

from core.database import Base, TimestampMixin


class Author(TimestampMixin, Base):
    __tablename__ = "scaffold_authors"

    id: Mapped[int] = mapped_column(primary_key=True)
    name: Mapped[str] = mapped_column(unique=True)
"""


def run(folder: Path, *command: str, url: str = "") -> subprocess.CompletedProcess[str]:
    environment = {key: value for key, value in os.environ.items() if key != "ALEMBIC_CONFIG"}
    environment.update(APP_ENV="local", DATABASE_URL=url or "sqlite:///./unused.db")
    result = subprocess.run(
        [sys.executable, "-m", *command],
        cwd=folder,
        env=environment,
        capture_output=True,
        text=True,
        timeout=120,
    )
    assert result.returncode == 0, result.stdout + result.stderr
    return result


def only_revision(folder: Path, slug: str) -> str:
    (path,) = folder.glob(f"migrations/versions/*_{slug}.py")
    return path.read_text()


def assert_imports_op_and_sa(source: str) -> None:
    lines = source.splitlines()
    assert any(line.startswith("from alembic import op") for line in lines), source
    assert any(line.startswith("import sqlalchemy as sa") for line in lines), source


async def test_init_autogenerate_upgrade_and_a_hand_written_revision(
    tmp_path: Path, scratch: URL
) -> None:
    (tmp_path / "hostmodels.py").write_text(HOST_MODELS)
    url = scratch.render_as_string(hide_password=False)
    run(tmp_path, "core.database", "init-migrations", "migrations", "--models", "hostmodels")
    ini = (tmp_path / "alembic.ini").read_text()
    assert "driver://" not in ini
    assert "sqlalchemy.url" not in ini
    assert "script_location = %(here)s/migrations" in ini
    assert "ruff_fix" in ini

    run(tmp_path, "alembic", "revision", "--autogenerate", "-m", "create authors", url=url)
    assert "op.create_table" in only_revision(tmp_path, "create_authors")
    run(tmp_path, "alembic", "upgrade", "head", url=url)
    run(tmp_path, "alembic", "check", url=url)
    engine = create_engine(scratch)
    try:
        async with engine.connect() as connection:
            tables = await connection.run_sync(lambda sync: inspect(sync).get_table_names())
    finally:
        await engine.dispose()
    assert "scaffold_authors" in tables

    run(tmp_path, "alembic", "revision", "-m", "by hand")
    assert_imports_op_and_sa(only_revision(tmp_path, "by_hand"))


def test_the_repository_template_keeps_op_and_sa(tmp_path: Path) -> None:
    # The repository's own alembic.ini and template, with its ruff configuration.
    shutil.copy(ROOT / "alembic.ini", tmp_path)
    shutil.copy(ROOT / "pyproject.toml", tmp_path)
    (tmp_path / "alembic" / "versions").mkdir(parents=True)
    for name in ("env.py", "script.py.mako"):
        shutil.copy(ROOT / "alembic" / name, tmp_path / "alembic" / name)
    run(tmp_path, "alembic", "revision", "-m", "by hand")
    (path,) = (tmp_path / "alembic" / "versions").glob("*_by_hand.py")
    assert_imports_op_and_sa(path.read_text())
    lint = subprocess.run(
        [sys.executable, "-m", "ruff", "check", "--no-cache", str(path)],
        cwd=tmp_path,
        capture_output=True,
        text=True,
    )
    assert lint.returncode == 0, lint.stdout


def test_init_never_overwrites(tmp_path: Path) -> None:
    (tmp_path / "alembic.ini").write_text("[alembic]\n# the host's own\n")
    result = subprocess.run(
        [sys.executable, "-m", "core.database", "init-migrations"],
        cwd=tmp_path,
        capture_output=True,
        text=True,
    )
    assert result.returncode == 1
    assert "not overwriting alembic.ini" in result.stderr
    assert (tmp_path / "alembic.ini").read_text() == "[alembic]\n# the host's own\n"
    assert not (tmp_path / "migrations").exists()


@pytest.mark.parametrize(
    ("option", "value"), [("--metadata", "app.db"), ("--models", "app/models.py")]
)
def test_init_refuses_bad_names(tmp_path: Path, option: str, value: str) -> None:
    result = subprocess.run(
        [sys.executable, "-m", "core.database", "init-migrations", option, value],
        cwd=tmp_path,
        capture_output=True,
        text=True,
    )
    assert result.returncode == 1
    assert option in result.stderr
    assert not (tmp_path / "alembic.ini").exists()


def test_init_with_a_metadata_of_its_own(tmp_path: Path) -> None:
    run(tmp_path, "core.database", "init-migrations", "db/migrations", "--metadata", "hostdb:meta")
    env = (tmp_path / "db" / "migrations" / "env.py").read_text()
    assert "from hostdb import meta" in env
    assert "run_migrations(meta)" in env
    assert "script_location = %(here)s/db/migrations" in (tmp_path / "alembic.ini").read_text()
