"""The app checks its database at startup: under uvicorn a bad one fails in one line."""

from __future__ import annotations

import os
import socket
import subprocess
import sys
from pathlib import Path

import pytest

from core.database import parse_database_url

APP_ROOT = Path(__file__).resolve().parents[1]
SECRET = "Wr0ng-Pa55word"


def free_port() -> int:
    with socket.socket() as probe:
        probe.bind(("127.0.0.1", 0))
        return int(probe.getsockname()[1])


def serve(database_url: str) -> subprocess.CompletedProcess[str]:
    environment = {key: value for key, value in os.environ.items() if key != "APP_ENV"}
    environment.update(DATABASE_URL=database_url, APP_ENV="local", DATABASE_CONNECT_TIMEOUT="2")
    command = [sys.executable, "-m", "uvicorn", "app.main:app", "--port", str(free_port())]
    return subprocess.run(
        command, cwd=APP_ROOT, env=environment, capture_output=True, text=True, timeout=90
    )


def failure_line(result: subprocess.CompletedProcess[str]) -> str:
    output = result.stdout + result.stderr
    assert result.returncode != 0, output
    assert "Traceback" not in output
    assert SECRET not in output
    (line,) = [line for line in output.splitlines() if "database check failed" in line]
    return line


def test_a_server_that_is_down_stops_startup() -> None:
    port = free_port()
    line = failure_line(serve(f"postgresql://app:{SECRET}@127.0.0.1:{port}/app"))
    assert f"connection refused at 127.0.0.1:{port}" in line


def test_a_typo_in_the_url_stops_startup() -> None:
    line = failure_line(serve(f"postgresql+psycopg2://app:{SECRET}@db/app"))
    assert "driver 'postgresql+psycopg2' is not supported" in line


def test_a_wrong_password_stops_startup(database_url: str) -> None:
    if not database_url.startswith("postgres"):
        pytest.skip("a login needs a Postgres server")
    wrong = parse_database_url(database_url).set(password=SECRET)
    line = failure_line(serve(wrong.render_as_string(hide_password=False)))
    assert "authentication failed for user" in line
