"""Local throwaway cluster: initdb into a temp dir, start on a free port, remove it all after."""

from __future__ import annotations

import os
import pwd
import secrets
import shlex
import shutil
import socket
import subprocess
import tempfile
import time
from collections.abc import Callable, Iterator, Sequence
from contextlib import contextmanager
from pathlib import Path
from urllib.parse import quote

__all__ = [
    "FAST_OPTIONS",
    "free_port",
    "local_postgres",
    "make_url",
    "server_owner",
]

# Durability is wasted on a cluster deleted afterwards; without it commits are much cheaper.
FAST_OPTIONS = ("-c", "fsync=off", "-c", "synchronous_commit=off", "-c", "full_page_writes=off")


def free_port() -> int:
    """A TCP port on 127.0.0.1 that was free a moment ago."""
    with socket.socket(socket.AF_INET, socket.SOCK_STREAM) as sock:
        sock.bind(("127.0.0.1", 0))
        port: int = sock.getsockname()[1]
        return port


def server_owner() -> pwd.struct_passwd | None:
    """None as a normal user; as root the ``postgres`` account: the servers refuse root."""
    if os.geteuid() != 0:
        return None
    try:
        return pwd.getpwnam("postgres")
    except KeyError:
        raise RuntimeError(
            "running as root, and PostgreSQL and PgBouncer refuse to run as root: create a"
            " 'postgres' system user (e.g. `useradd --system postgres`) or run as a normal user"
        ) from None


def make_url(password: str, port: int, database: str) -> str:
    """The asyncpg URL for user postgres on 127.0.0.1, with the password URL-quoted."""
    secret = quote(password, safe="")
    return f"postgresql+asyncpg://postgres:{secret}@127.0.0.1:{port}/{quote(database)}"


@contextmanager
def local_postgres(
    bindir: Path, *, database: str, fast: bool, log: Callable[[str], None]
) -> Iterator[str]:
    """Run a fresh cluster from ``bindir`` and yield its URL; stop it and delete it on exit."""
    owner = server_owner()
    if owner is not None and shutil.which("runuser") is None:
        raise RuntimeError("running as root: `runuser` (util-linux) is needed to start PostgreSQL")
    began = time.monotonic()
    tmp = Path(tempfile.mkdtemp(prefix="throwaway-pg-"))
    port = 0
    try:
        password = secrets.token_urlsafe(24)
        _initdb(bindir, tmp, password, fast=fast, owner=owner)
        port = _start(bindir, tmp, fast=fast, owner=owner)
        version = _create_database(bindir, tmp, port, database)
        log(
            f"started PostgreSQL {version} on 127.0.0.1:{port} in {tmp}"
            f" ({time.monotonic() - began:.1f}s, {'fast' if fast else 'durable'})"
        )
        yield make_url(password, port, database)
    finally:
        _teardown(bindir, tmp, port, owner=owner, log=log)


def _initdb(
    bindir: Path, tmp: Path, password: str, *, fast: bool, owner: pwd.struct_passwd | None
) -> None:
    pwfile = tmp / "pwfile"
    pwfile.write_text(password + "\n")  # private: mkdtemp made the folder mode 0700
    if owner is not None:
        for path in (tmp, pwfile):
            os.chown(path, owner.pw_uid, owner.pw_gid)
    cmd: list[str | Path] = [bindir / "initdb", "-D", tmp / "data", f"--pwfile={pwfile}"]
    cmd += ["-U", "postgres", "--auth-host=scram-sha-256", "--auth-local=trust"]
    # --no-sync: nothing is worth flushing for a cluster that is deleted afterwards.
    # A real-world collation (ICU en-US, as hosted Postgres uses): ordering and case
    # folding differ from C's, and the suite must see that. ICU needs no OS locale.
    cmd += ["--encoding=UTF8", "--locale=C.UTF-8", "--locale-provider=icu", "--icu-locale=en-US"]
    cmd += ["--no-sync"] if fast else []
    _run(cmd, owner=owner, cwd=tmp)
    pwfile.unlink()


def _run(cmd: Sequence[str | Path], *, owner: pwd.struct_passwd | None, cwd: Path) -> str:
    argv = [str(part) for part in cmd]
    if owner is not None:
        argv = ["runuser", "-u", owner.pw_name, "--", *argv]
    # cwd=tmp: the postgres user may not be allowed into the caller's working directory.
    done = subprocess.run(
        argv, cwd=cwd, stdin=subprocess.DEVNULL, capture_output=True, text=True, timeout=120
    )
    if done.returncode != 0:
        output = (done.stdout + done.stderr).strip()
        raise RuntimeError(f"`{shlex.join(argv)}` failed (exit {done.returncode}):\n{output}")
    return done.stdout


def _start(bindir: Path, tmp: Path, *, fast: bool, owner: pwd.struct_passwd | None) -> int:
    """Start the server; retry on a new port if another process took ours meanwhile."""
    server_log = tmp / "server.log"
    for _ in range(3):
        port = free_port()
        options = ["-c", "listen_addresses=127.0.0.1", "-p", str(port), "-k", str(tmp)]
        options += ["-c", "max_connections=200", *(FAST_OPTIONS if fast else ())]
        server_log.unlink(missing_ok=True)
        # pg_ctl hands -o to /bin/sh, hence the quoting.
        cmd: list[str | Path] = [bindir / "pg_ctl", "start", "-w", "-t", "60", "-D", tmp / "data"]
        cmd += ["-l", server_log, "-o", shlex.join(options)]
        try:
            _run(cmd, owner=owner, cwd=tmp)
            return port
        except RuntimeError as exc:
            text = server_log.read_text(errors="replace") if server_log.exists() else ""
            if "already in use" not in text:
                raise RuntimeError(f"{exc}\n--- server log ---\n{text[-4000:]}") from None
    raise RuntimeError("PostgreSQL could not bind a free port on 127.0.0.1 in 3 attempts")


def _create_database(bindir: Path, tmp: Path, port: int, database: str) -> str:
    """Create ``database`` over the Unix socket (trusted) and return the server version."""
    psql = bindir / "psql"
    if not psql.exists():
        psql = Path(shutil.which("psql") or "psql")
    quoted = '"' + database.replace('"', '""') + '"'
    create = [] if database == "postgres" else ["-c", f"CREATE DATABASE {quoted}"]
    cmd: list[str | Path] = [psql, "-X", "-q", "-A", "-t", "-v", "ON_ERROR_STOP=1"]
    cmd += ["-h", tmp, "-p", str(port), "-U", "postgres", "-d", "postgres"]
    cmd += [*create, "-c", "SHOW server_version"]
    # Root can enter the postgres-owned socket folder, so psql needs no runuser.
    return _run(cmd, owner=None, cwd=tmp).strip().splitlines()[-1]


def _teardown(
    bindir: Path,
    tmp: Path,
    port: int,
    *,
    owner: pwd.struct_passwd | None,
    log: Callable[[str], None],
) -> None:
    data = tmp / "data"
    if (data / "postmaster.pid").exists():
        # Immediate: nothing is worth a shutdown checkpoint, the files are deleted next.
        stop: list[str | Path] = [bindir / "pg_ctl", "stop", "-D", data, "-m", "immediate"]
        stop += ["-w", "-t", "30"]
        try:
            _run(stop, owner=owner, cwd=tmp)
        except (RuntimeError, OSError, subprocess.SubprocessError) as exc:
            log(f"warning: could not stop PostgreSQL: {exc}")
    shutil.rmtree(tmp, ignore_errors=True)
    where = f" on 127.0.0.1:{port}" if port else ""
    gone = "removed" if not tmp.exists() else "could NOT remove"
    log(f"stopped PostgreSQL{where}, {gone} {tmp}")
