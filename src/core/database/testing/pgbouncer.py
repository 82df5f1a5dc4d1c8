"""A throwaway PgBouncer in front of a test Postgres, to prove the DATABASE_PGBOUNCER setting."""

from __future__ import annotations

import os
import shutil
import socket
import subprocess
import tempfile
import time
from collections.abc import Iterator
from contextlib import contextmanager
from pathlib import Path
from typing import Any
from urllib.parse import unquote, urlsplit

from core.database.testing._cluster import free_port, server_owner

__all__ = ["PgBouncerUnavailableError", "find_pgbouncer", "pgbouncer_in_front"]

# Debian installs it here, off a normal user's PATH.
DEBIAN_PATH = Path("/usr/sbin/pgbouncer")


class PgBouncerUnavailableError(RuntimeError):
    """The ``pgbouncer`` binary is not installed."""

    def __init__(self) -> None:
        super().__init__(
            "pgbouncer is not installed: install it (e.g. `apt-get install pgbouncer`) so that"
            " `pgbouncer` is on PATH or at /usr/sbin/pgbouncer"
        )


def find_pgbouncer() -> Path:
    """The pgbouncer binary, on PATH or at /usr/sbin/pgbouncer."""
    found = shutil.which("pgbouncer") or (DEBIAN_PATH if os.access(DEBIAN_PATH, os.X_OK) else None)
    if found is None:
        raise PgBouncerUnavailableError
    return Path(found)


@contextmanager
def pgbouncer_in_front(
    postgres_url: str, *, pool_mode: str = "transaction", pool_size: int = 2
) -> Iterator[str]:
    """Start PgBouncer before ``postgres_url``'s server; yield the same URL through it.

    Clients authenticate with SCRAM against a userlist holding the URL's user and password,
    as in production; PgBouncer is stopped and its folder removed on exit.
    """
    binary = find_pgbouncer()
    parts = urlsplit(postgres_url)
    user, password = unquote(parts.username or "postgres"), unquote(parts.password or "")
    owner = server_owner()
    tmp = Path(tempfile.mkdtemp(prefix="throwaway-pgbouncer-"))  # mode 0700: the secret stays
    process: subprocess.Popen[bytes] | None = None
    try:
        port = free_port()
        ini, userlist, output = tmp / "pgbouncer.ini", tmp / "userlist.txt", tmp / "output.log"
        userlist.write_text(f"{_quoted(user)} {_quoted(password)}\n")
        ini.write_text(
            "[databases]\n"
            f"* = host={parts.hostname or '127.0.0.1'} port={parts.port or 5432}\n"
            "[pgbouncer]\n"
            f"listen_addr = 127.0.0.1\nlisten_port = {port}\nunix_socket_dir =\n"
            f"auth_type = scram-sha-256\nauth_file = {userlist}\n"
            f"pool_mode = {pool_mode}\ndefault_pool_size = {pool_size}\n"
            "min_pool_size = 0\nreserve_pool_size = 0\nmax_client_conn = 200\n"
            f"pidfile = {tmp / 'pgbouncer.pid'}\n"
        )
        # cwd=tmp: the postgres user may not be allowed into the caller's working directory.
        options: dict[str, Any] = {"cwd": tmp, "stdin": subprocess.DEVNULL}
        if owner is not None:
            for path in (tmp, ini, userlist):
                os.chown(path, owner.pw_uid, owner.pw_gid)
            # Not `runuser`: it answers SIGTERM with a 2 s grace sleep and leaves a zombie;
            # switched in the child itself, PgBouncer stays our own process to stop and reap.
            options.update(user=owner.pw_uid, group=owner.pw_gid, extra_groups=[])
        # Its log goes to a file: a pipe nobody reads would block it once full.
        with output.open("wb") as sink:
            process = subprocess.Popen([binary, ini], stdout=sink, stderr=sink, **options)
        _wait_until_listening(process, port, output)
        userinfo, at, _ = parts.netloc.rpartition("@")
        yield parts._replace(netloc=f"{userinfo}{at}127.0.0.1:{port}").geturl()
    finally:
        if process is not None:
            _stop(process)
        shutil.rmtree(tmp, ignore_errors=True)


def _quoted(value: str) -> str:
    # The userlist's quoting: a double quote inside the value is written twice.
    return '"' + value.replace('"', '""') + '"'


def _wait_until_listening(process: subprocess.Popen[bytes], port: int, output: Path) -> None:
    deadline = time.monotonic() + 15
    while process.poll() is None and time.monotonic() < deadline:
        try:
            socket.create_connection(("127.0.0.1", port), timeout=1).close()
            return
        except OSError:
            time.sleep(0.05)
    text = output.read_text(errors="replace")
    raise RuntimeError(f"pgbouncer did not listen on 127.0.0.1:{port}:\n{text[-4000:]}")


def _stop(process: subprocess.Popen[bytes]) -> None:
    # SIGTERM is PgBouncer's immediate shutdown (SIGINT would wait for its clients).
    process.terminate()
    try:
        process.wait(timeout=10)
    except subprocess.TimeoutExpired:
        process.kill()
        process.wait(timeout=10)
