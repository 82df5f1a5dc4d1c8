"""Case 3: one route under load on every stack (bench.http_apps), each its own server."""

from __future__ import annotations

import json
import os
import socket
import statistics
import subprocess
import sys
import time
import urllib.request
from collections.abc import Iterator
from contextlib import contextmanager
from dataclasses import dataclass, field
from pathlib import Path

from bench.drivers import asyncpg_dsn
from bench.schema import USERS, Backend

__all__ = ["SERVERS", "HttpMeasured", "run"]

ROOT = Path(__file__).resolve().parent.parent
CONCURRENCY = 50


@dataclass
class HttpMeasured:
    """One server's rounds: requests/s, p50 and p99 (seconds) and errors."""

    name: str
    target: str
    baseline: bool = False
    rps: list[float] = field(default_factory=list)
    p50: list[float] = field(default_factory=list)
    p99: list[float] = field(default_factory=list)
    errors: int = 0
    # This server's requests/s divided by the baseline's, round by round.
    ratios: list[float] = field(default_factory=list)
    # Postgres connections the server opened during each round's load.
    connections_opened: list[int] = field(default_factory=list)

    @property
    def ratio(self) -> float:
        return statistics.median(self.ratios) if self.ratios else float("nan")


SERVERS = [
    ("toolkit: `Depends(get_session)`", "toolkit_app"),
    ("toolkit: `ReadSessionDep` (read-only unit)", "toolkit_read_app"),
    ("toolkit: raw helper `fetch_one`", "toolkit_raw_app"),
    ("bare SQLAlchemy, defaults (baseline)", "bare_app"),
    ("advanced-alchemy repository", "advanced_alchemy_app"),
    ("SQLModel session", "sqlmodel_app"),
    ("raw driver (asyncpg pool / one aiosqlite connection)", "raw_driver_app"),
    ("no database (framework ceiling)", "nodb_app"),
]
BASELINE = "bare_app"


def run(backend: Backend, *, requests: int, rounds: int, warmup: int) -> list[HttpMeasured]:
    """Start every server, warm them up, then load them in turn for `rounds` rounds."""
    servers = [
        HttpMeasured(name, f"bench.http_apps:{app}", app == BASELINE) for name, app in SERVERS
    ]
    with _serving(backend, [s.target for s in servers]) as ports:
        for port in ports:
            _load(port, warmup)
        for round_no in range(rounds):
            order = list(zip(servers, ports, strict=True))
            for server, port in order if round_no % 2 == 0 else reversed(order):
                opened = _sessions_opened(backend)
                result = _load(port, requests)
                server.rps.append(result["rps"])
                server.p50.append(result["p50"])
                server.p99.append(result["p99"])
                server.errors += int(result["errors"])
                after = _sessions_opened(backend)
                if opened is not None and after is not None:
                    # Less the one session the first reading opened itself.
                    server.connections_opened.append(after - opened - 1)
    base = next(server for server in servers if server.baseline)
    for server in servers:
        server.ratios = [a / b for a, b in zip(server.rps, base.rps, strict=True)]
    return servers


def _sessions_opened(backend: Backend) -> int | None:
    """Postgres sessions ever opened on the bench's database (None on SQLite).

    The statistics are flushed about once a second: wait for that before reading.
    """
    if backend.dialect != "postgresql":
        return None
    import psycopg

    time.sleep(1.2)
    dsn = asyncpg_dsn(backend.url)
    with psycopg.connect(dsn, autocommit=True) as connection:
        found = connection.execute(
            "SELECT sessions FROM pg_stat_database WHERE datname = current_database()"
        ).fetchone()
    return int(found[0]) if found else 0


def _load(port: int, requests: int) -> dict[str, float]:
    command = [sys.executable, "-m", "bench.loadgen", "--port", str(port), "--ids", str(USERS)]
    command += ["--requests", str(requests), "--concurrency", str(CONCURRENCY)]
    done = subprocess.run(command, cwd=ROOT, capture_output=True, text=True, check=True)
    return dict(json.loads(done.stdout.strip().splitlines()[-1]))


@contextmanager
def _serving(backend: Backend, targets: list[str]) -> Iterator[list[int]]:
    env = {
        **os.environ,
        "DATABASE_URL": backend.url,
        "BENCH_DATABASE_URL": backend.url,
        "PYTHONPATH": os.pathsep.join(filter(None, [str(ROOT), os.environ.get("PYTHONPATH")])),
    }
    processes: list[subprocess.Popen[bytes]] = []
    ports: list[int] = []
    try:
        for target in targets:
            port = _free_port()
            command = [sys.executable, "-m", "uvicorn", target, "--host", "127.0.0.1"]
            command += ["--port", str(port), "--log-level", "warning", "--no-access-log"]
            processes.append(subprocess.Popen(command, cwd=ROOT, env=env))
            ports.append(port)
        for port, process in zip(ports, processes, strict=True):
            _wait_ready(port, process)
        yield ports
    finally:
        for process in processes:
            process.terminate()
        for process in processes:
            try:
                process.wait(timeout=15)
            except subprocess.TimeoutExpired:
                process.kill()
                process.wait()


def _wait_ready(port: int, process: subprocess.Popen[bytes]) -> None:
    deadline = time.monotonic() + 60
    while time.monotonic() < deadline:
        if process.poll() is not None:
            raise RuntimeError(f"server on port {port} exited with {process.returncode}")
        try:
            with urllib.request.urlopen(f"http://127.0.0.1:{port}/users/1", timeout=2) as reply:
                if reply.status == 200:
                    return
        except OSError:
            time.sleep(0.2)
    raise RuntimeError(f"server on port {port} did not answer GET /users/1 within 60 s")


def _free_port() -> int:
    with socket.socket(socket.AF_INET, socket.SOCK_STREAM) as sock:
        sock.bind(("127.0.0.1", 0))
        port: int = sock.getsockname()[1]
        return port
