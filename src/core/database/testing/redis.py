"""A throwaway `redis-server` on a free port, to prove the Redis broadcaster on a real one.

`TEST_REDIS_URL` names an existing server instead (then `restart()` is refused:
a test cannot restart a server it did not start).
"""

from __future__ import annotations

import contextlib
import os
import secrets
import shutil
import socket
import subprocess
import tempfile
import time
from collections.abc import Iterator
from contextlib import contextmanager
from pathlib import Path

from core.database.testing._cluster import free_port

__all__ = ["REDIS_URL_ENV", "RedisServer", "RedisUnavailableError", "throwaway_redis"]

REDIS_URL_ENV = "TEST_REDIS_URL"
_START_TIMEOUT = 10.0


class RedisUnavailableError(RuntimeError):
    """`redis-server` is not installed, or did not start."""


class RedisServer:
    """A local `redis-server` with a password, without persistence; stop and start it at will."""

    def __init__(self, binary: Path, directory: Path) -> None:
        self._binary, self._directory = binary, directory
        self.port = free_port()
        self._password = secrets.token_urlsafe(16)
        self._process: subprocess.Popen[bytes] | None = None

    @property
    def url(self) -> str:
        """`redis://` URL of the server, password included (a secret: do not log it)."""
        return f"redis://:{self._password}@127.0.0.1:{self.port}/0"

    def start(self) -> None:
        """Start the server (on the same port as before) and wait until it answers."""
        if self._process is not None:
            return
        log = (self._directory / "redis.log").open("ab")
        # The password goes in on stdin (a config file read from "-"), not on the command line.
        config = (
            f"port {self.port}\nbind 127.0.0.1\nsave "
            "\nappendonly no\n"
            f"dir {self._directory}\nrequirepass {self._password}\n"
        )
        self._process = subprocess.Popen(
            [str(self._binary), "-"], stdin=subprocess.PIPE, stdout=log, stderr=log
        )
        assert self._process.stdin is not None
        # A server that exits at once (a bad build, the port taken) may close the pipe
        # first: that is reported below as a failed start, with its log.
        with contextlib.suppress(BrokenPipeError):
            self._process.stdin.write(config.encode())
        with contextlib.suppress(BrokenPipeError):
            self._process.stdin.close()
        log.close()
        deadline = time.monotonic() + _START_TIMEOUT
        while not _answers(self.port):
            if self._process.poll() is not None or time.monotonic() > deadline:
                self.stop()
                raise RedisUnavailableError(f"redis-server did not start; see {self._directory}")
            time.sleep(0.05)

    def stop(self) -> None:
        """Stop the server at once (SIGKILL: every client connection drops)."""
        process, self._process = self._process, None
        if process is not None and process.poll() is None:
            process.kill()
            process.wait(timeout=10)

    def restart(self, down_for: float = 0.0) -> None:
        """Stop, stay down `down_for` seconds, start again on the same port."""
        self.stop()
        time.sleep(down_for)
        self.start()


class _ExistingRedis(RedisServer):
    def __init__(self, url: str) -> None:
        self._url = url

    @property
    def url(self) -> str:
        return self._url

    def start(self) -> None:
        return None

    def stop(self) -> None:
        raise RuntimeError(f"cannot stop a server given by {REDIS_URL_ENV}")


def find_redis_server() -> Path:
    """The `redis-server` binary on PATH (Debian: /usr/bin)."""
    found = shutil.which("redis-server")
    if found is None:
        raise RedisUnavailableError(
            "redis-server is not installed: install it (e.g. `apt-get install redis-server`)"
            f" or set {REDIS_URL_ENV} to a Redis server for tests"
        )
    return Path(found)


@contextmanager
def throwaway_redis() -> Iterator[RedisServer]:
    """A started `redis-server` (or the one `TEST_REDIS_URL` names), gone afterwards."""
    existing = os.environ.get(REDIS_URL_ENV)
    if existing:
        yield _ExistingRedis(existing)
        return
    binary = find_redis_server()
    directory = Path(tempfile.mkdtemp(prefix="throwaway-redis-"))  # 0700: the password stays
    server = RedisServer(binary, directory)
    try:
        server.start()
        yield server
    finally:
        server.stop()
        shutil.rmtree(directory, ignore_errors=True)


def _answers(port: int) -> bool:
    try:
        with socket.create_connection(("127.0.0.1", port), timeout=0.2) as sock:
            sock.sendall(b"PING\r\n")
            # Without AUTH the server answers -NOAUTH: it is up and reading commands.
            return bool(sock.recv(64))
    except OSError:
        return False
