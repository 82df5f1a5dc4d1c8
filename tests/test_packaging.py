"""The wheel as a user installs it: the toolkit only, beside a host app named ``app``.

Builds the wheel, installs it with a host project (its own ``app`` package and a namespace
``core/config.py``) into a fresh venv outside the repository, runs the host's plain
``pytest`` there (the plugin comes from the wheel) and uninstalls the toolkit again.
Run by ``nox -s packaging`` (``-m packaging``): it takes a few minutes.
"""

from __future__ import annotations

import os
import subprocess
import sys
import zipfile
from collections.abc import Iterator
from dataclasses import dataclass
from pathlib import Path

import pytest

pytestmark = pytest.mark.packaging

REPO = Path(__file__).resolve().parents[1]

HOST_PYPROJECT = """
[build-system]
requires = ["hatchling>=1.25"]
build-backend = "hatchling.build"

[project]
name = "host-app"
version = "1.0"

[tool.hatch.build.targets.wheel]
# `core` is a namespace package here too: the host's core/config.py beside core.database.
packages = ["app", "core"]

[tool.pytest.ini_options]
core_database_metadata = "app.models:Base.metadata"
"""

HOST_MODELS = """
from sqlalchemy.orm import Mapped

from core.database import Base, IntIdMixin, TimestampMixin


class Author(IntIdMixin, TimestampMixin, Base):
    __tablename__ = "authors"
    name: Mapped[str]
"""

HOST_CONFIG = """
APP_NAME = "host"
"""

HOST_TESTS = """
import os

import core.database
from sqlalchemy import select

from app.models import Author
from core.config import APP_NAME


def test_imports_come_from_where_they_should():
    assert APP_NAME == "host"
    assert core.database.__file__.startswith(os.environ["HOST_SITE"])
    import app.models
    assert app.models.__file__.startswith(os.environ["HOST_SITE"])


async def test_the_plugin_from_the_wheel_serves_the_hosts_models(db_session):
    db_session.add(Author(name="Ursula"))
    await db_session.commit()
    author = await db_session.scalar(select(Author))
    assert author.name == "Ursula"
    assert author.created_at.tzinfo is not None
"""


@dataclass
class Installed:
    wheel: Path
    python: Path
    site: Path
    host: Path


def _run(*args: str | Path, cwd: Path, env: dict[str, str] | None = None) -> str:
    done = subprocess.run(
        [str(a) for a in args],
        cwd=cwd,
        env=env,
        stdin=subprocess.DEVNULL,
        capture_output=True,
        text=True,
        timeout=900,
        check=False,
    )
    assert done.returncode == 0, f"{args} failed:\n{done.stdout}\n{done.stderr}"
    return done.stdout


@pytest.fixture(scope="module")
def installed(tmp_path_factory: pytest.TempPathFactory) -> Iterator[Installed]:
    """The toolkit's wheel and the host project, installed into a fresh venv outside the repo."""
    root = tmp_path_factory.mktemp("packaging")
    assert not root.is_relative_to(REPO)
    dist = root / "dist"
    _run(sys.executable, "-m", "pip", "wheel", "--no-deps", "-w", dist, REPO, cwd=root)
    (wheel,) = dist.glob("core_database-*.whl")
    host = root / "host"
    for path, text in {
        "pyproject.toml": HOST_PYPROJECT,
        "app/__init__.py": "",
        "app/models.py": HOST_MODELS,
        "core/config.py": HOST_CONFIG,  # namespace: no core/__init__.py
        "tests/test_host.py": HOST_TESTS,
    }.items():
        (host / path).parent.mkdir(parents=True, exist_ok=True)
        (host / path).write_text(text)
    venv = root / "venv"
    _run(sys.executable, "-m", "venv", venv, cwd=root)
    python = venv / "bin" / "python"
    # Non-editable, as a user installs: the wheel with its test extra, then the host app.
    _run(python, "-m", "pip", "install", "--quiet", f"{wheel}[test]", cwd=root)
    _run(python, "-m", "pip", "install", "--quiet", "--no-deps", host, cwd=root)
    site = Path(
        _run(
            python, "-c", "import sysconfig; print(sysconfig.get_paths()['purelib'])", cwd=root
        ).strip()
    )
    yield Installed(wheel=wheel, python=python, site=site, host=host)


def test_the_wheel_holds_the_namespace_core_and_nothing_else(installed: Installed) -> None:
    with zipfile.ZipFile(installed.wheel) as wheel:
        names = wheel.namelist()
    top = {name.split("/")[0] for name in names if ".dist-info/" not in name}
    assert top == {"core"}
    assert "core/__init__.py" not in names
    assert "core/database/__init__.py" in names
    assert "core/database/testing/plugin.py" in names


def test_plain_pytest_in_the_host_imports_its_own_app_and_both_cores(
    installed: Installed, tmp_path: Path
) -> None:
    env = {
        key: value
        for key, value in os.environ.items()
        if not key.startswith(("PYTEST_", "TEST_", "DATABASE_", "COV_", "COVERAGE_"))
    }
    env.update(
        APP_ENV="test",
        HOST_SITE=str(installed.site),
        # A file, so that the two workers below each get one of their own.
        TEST_DATABASE_URL=f"sqlite+aiosqlite:///{tmp_path / 'host_test.db'}",
    )
    pytest_script = installed.python.parent / "pytest"
    # Plain `pytest` (not `python -m pytest`): the host's folder is not on sys.path, so
    # `app` and `core.config` come from site-packages, next to the toolkit.
    out = _run(pytest_script, "-p", "no:cacheprovider", "-n", "2", cwd=installed.host, env=env)
    assert "2 passed" in out
    assert list(tmp_path.glob("host_test*")) == []  # the workers' files are gone


def test_uninstalling_the_toolkit_leaves_the_hosts_files(installed: Installed) -> None:
    host_files = [installed.site / "app" / "models.py", installed.site / "core" / "config.py"]
    assert all(path.is_file() for path in host_files)
    _run(installed.python, "-m", "pip", "uninstall", "--yes", "core-database", cwd=installed.host)
    assert all(path.is_file() for path in host_files)
    assert not (installed.site / "core" / "database").exists()


BARE_TESTS = """
import os


def test_a_plain_test_runs():
    assert 1 + 1 == 2


def test_a_failure_shows_no_password():
    assert os.environ["DATABASE_URL"] == "something else"


def test_a_database_fixture_says_what_to_install(db_session):
    pass
"""


def test_without_the_test_extra_pytest_starts_and_the_fixtures_say_what_to_install(
    installed: Installed, tmp_path: Path
) -> None:
    """The wheel alone (no extras) plus pytest: the plugin must not break other suites."""
    venv = tmp_path / "bare-venv"
    _run(sys.executable, "-m", "venv", venv, cwd=tmp_path)
    python = venv / "bin" / "python"
    _run(python, "-m", "pip", "install", "--quiet", installed.wheel, "pytest", cwd=tmp_path)
    project = tmp_path / "project"
    project.mkdir()
    (project / "test_bare.py").write_text(BARE_TESTS)
    env = {key: value for key, value in os.environ.items() if not key.startswith("PYTEST_")}
    env["DATABASE_URL"] = "postgresql://app:Bare-Secret-9@db/app"
    done = subprocess.run(
        [str(python), "-m", "pytest", "-p", "no:cacheprovider", "-rA"],
        cwd=project,
        env=env,
        capture_output=True,
        text=True,
        timeout=300,
        check=False,
    )
    out = done.stdout + done.stderr
    assert "1 failed, 1 passed, 1 error" in out, out
    assert "need pytest-asyncio: pip install 'core-database[test]'" in out, out
    assert "Error while loading plugin" not in out, out
    # The report still masks the run's passwords.
    assert "Bare-Secret-9" not in out, out
    assert "postgresql://app:***@db/app" in out, out
