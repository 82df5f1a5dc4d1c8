"""Case 3: one route under load: toolkit vs hand-written vs no database, each its own server."""

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

from bench.schema import USERS, Backend

__all__ = ["HttpMeasured", "run", "toolkit_target"]

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

    @property
    def ratio(self) -> float:
        return statistics.median(self.ratios) if self.ratios else float("nan")


def toolkit_target() -> str:
    """The toolkit's side: the reference app's `GET /users/{id}` without its bearer token.

    The reference app itself checks a token on that route, work the hand-written
    baseline does not do; the stand-in measures the session alone.
    """
    return "bench.http_apps:toolkit_app"


def run(backend: Backend, *, requests: int, rounds: int, warmup: int) -> list[HttpMeasured]:
    """Start the three servers, warm them up, then load them in turn for `rounds` rounds."""
    servers = [
        HttpMeasured("toolkit: `Depends(get_session)`", toolkit_target()),
        HttpMeasured("hand-written bare SQLAlchemy (baseline)", "bench.http_apps:bare_app", True),
        HttpMeasured("no database (framework ceiling)", "bench.http_apps:nodb_app"),
    ]
    with _serving(backend, [s.target for s in servers]) as ports:
        for port in ports:
            _load(port, warmup)
        for round_no in range(rounds):
            order = list(zip(servers, ports, strict=True))
            for server, port in order if round_no % 2 == 0 else reversed(order):
                result = _load(port, requests)
                server.rps.append(result["rps"])
                server.p50.append(result["p50"])
                server.p99.append(result["p99"])
                server.errors += int(result["errors"])
    base = servers[1]
    for server in servers:
        server.ratios = [a / b for a, b in zip(server.rps, base.rps, strict=True)]
    return servers


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
