"""The reference app as a real uvicorn process on 127.0.0.1, with the suite's settings."""

from __future__ import annotations

import os
import signal
import subprocess
import sys
import time
from pathlib import Path

import httpx

__all__ = ["APP_NAME", "POOL_LIMIT", "AppProcess", "migrate"]

APP_NAME = "faults-app"
POOL_SIZE, MAX_OVERFLOW = 5, 5
POOL_LIMIT = POOL_SIZE + MAX_OVERFLOW
ROOT = Path(__file__).resolve().parent.parent
# Short timeouts, so each fault shows within seconds: a production service picks its own.
SETTINGS = {
    "APP_ENV": "test",
    "DATABASE_APPLICATION_NAME": APP_NAME,
    "DATABASE_POOL_SIZE": str(POOL_SIZE),
    "DATABASE_MAX_OVERFLOW": str(MAX_OVERFLOW),
    "DATABASE_POOL_TIMEOUT": "2",
    "DATABASE_CONNECT_TIMEOUT": "2",
    "DATABASE_STATEMENT_TIMEOUT_MS": "1000",
    "DATABASE_SQLITE_BUSY_TIMEOUT_MS": "2000",
}


def _env(url: str, **overrides: str) -> dict[str, str]:
    return {**os.environ, **SETTINGS, "DATABASE_URL": url, **overrides}


def migrate(url: str) -> None:
    """alembic upgrade head: the app's own migrations."""
    subprocess.run(
        [sys.executable, "-m", "alembic", "upgrade", "head"],
        cwd=ROOT,
        env=_env(url),
        check=True,
        capture_output=True,
    )


class AppProcess:
    """`uvicorn app.main:app` on `port`; start, SIGKILL, restart."""

    def __init__(self, url: str, port: int, **overrides: str) -> None:
        self.url, self.port, self.overrides = url, port, overrides
        self.process: subprocess.Popen[bytes] | None = None

    @property
    def base_url(self) -> str:
        return f"http://127.0.0.1:{self.port}"

    def start(self) -> None:
        command = [
            sys.executable,
            "-m",
            "uvicorn",
            "app.main:app",
            "--host",
            "127.0.0.1",
            "--port",
            str(self.port),
            "--log-level",
            "warning",
            "--timeout-graceful-shutdown",
            "2",
        ]
        self.process = subprocess.Popen(
            command,
            cwd=ROOT,
            env=_env(self.url, **self.overrides),
            stdout=subprocess.DEVNULL,
            stderr=subprocess.DEVNULL,
        )
        deadline = time.monotonic() + 60
        while time.monotonic() < deadline:
            if self.process.poll() is not None:
                raise RuntimeError(f"the app exited with {self.process.returncode} at start")
            try:
                if httpx.get(f"{self.base_url}/openapi.json", timeout=2).status_code == 200:
                    return
            except httpx.HTTPError:
                pass
            time.sleep(0.1)
        raise RuntimeError("the app did not start within 60 s")

    def kill(self) -> None:
        """SIGKILL: no shutdown, no cleanup, in-flight requests cut."""
        if self.process is not None and self.process.poll() is None:
            self.process.send_signal(signal.SIGKILL)
            self.process.wait()

    def stop(self) -> None:
        if self.process is not None and self.process.poll() is None:
            self.process.terminate()
            try:
                self.process.wait(timeout=10)
            except subprocess.TimeoutExpired:
                self.kill()
