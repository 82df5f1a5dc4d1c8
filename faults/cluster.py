"""A throwaway Postgres cluster the suite can restart, pause and query, on 127.0.0.1."""

from __future__ import annotations

import contextlib
import os
import secrets
import shlex
import shutil
import signal
import subprocess
import tempfile
from pathlib import Path

from core.database.pg_binaries import find_pg_bindir

__all__ = ["Cluster"]


class Cluster:
    """initdb into a temp dir, serve on a free port; `close()` removes it all."""

    def __init__(self, port: int) -> None:
        bindir = find_pg_bindir()
        if bindir is None:
            raise RuntimeError(
                "the fault suite needs the PostgreSQL server binaries (initdb, pg_ctl)"
            )
        self.bindir = bindir
        self.port = port
        self.tmp = Path(tempfile.mkdtemp(prefix="faults-pg-"))
        self.data = self.tmp / "data"
        self.password = secrets.token_urlsafe(18)
        self._owner = "postgres" if os.geteuid() == 0 else None
        if self._owner:
            shutil.chown(self.tmp, self._owner, self._owner)
        pwfile = self.tmp / "pwfile"
        pwfile.write_text(self.password + "\n")
        if self._owner:
            shutil.chown(pwfile, self._owner, self._owner)
        self._pg(
            "initdb",
            "-D",
            str(self.data),
            f"--pwfile={pwfile}",
            "-U",
            "postgres",
            "--auth-host=scram-sha-256",
            "--auth-local=trust",
            "--no-sync",
            "--encoding=UTF8",
            "--locale=C",
        )
        pwfile.unlink()
        try:
            self.start()
            self.psql("CREATE DATABASE faults_test", database="postgres")
        except BaseException:
            self.close()
            raise

    @property
    def url(self) -> str:
        """The asyncpg URL of the suite's database."""
        return f"postgresql+asyncpg://postgres:{self.password}@127.0.0.1:{self.port}/faults_test"

    def _pg(self, tool: str, *args: str) -> str:
        argv = [str(self.bindir / tool), *args]
        if self._owner:
            argv = ["runuser", "-u", self._owner, "--", *argv]
        done = subprocess.run(
            argv, cwd=self.tmp, capture_output=True, text=True, timeout=120, check=False
        )
        if done.returncode != 0:
            raise RuntimeError(f"{tool} failed: {(done.stdout + done.stderr).strip()[-2000:]}")
        return done.stdout

    def start(self) -> None:
        options = ["-c", "listen_addresses=127.0.0.1", "-p", str(self.port), "-k", str(self.tmp)]
        options += ["-c", "max_connections=100", "-c", "fsync=off"]
        self._pg(
            "pg_ctl",
            "start",
            "-w",
            "-t",
            "60",
            "-D",
            str(self.data),
            "-l",
            str(self.tmp / "server.log"),
            "-o",
            shlex.join(options),
        )

    def restart(self, mode: str) -> None:
        """`pg_ctl restart -m fast|immediate`: every connection is cut."""
        # -l: without it the new postmaster keeps our output pipe open.
        self._pg(
            "pg_ctl",
            "restart",
            "-w",
            "-t",
            "60",
            "-m",
            mode,
            "-D",
            str(self.data),
            "-l",
            str(self.tmp / "server.log"),
        )

    def psql(self, sql: str, database: str = "faults_test") -> str:
        """Run `sql` as the superuser over the Unix socket; the output, unaligned."""
        return self._pg(
            "psql",
            "-X",
            "-q",
            "-A",
            "-t",
            "-v",
            "ON_ERROR_STOP=1",
            "-h",
            str(self.tmp),
            "-p",
            str(self.port),
            "-U",
            "postgres",
            "-d",
            database,
            "-c",
            sql,
        ).strip()

    def pids(self) -> list[int]:
        """The postmaster and every process it started."""
        postmaster = int((self.data / "postmaster.pid").read_text().split()[0])
        children = subprocess.run(
            ["pgrep", "-P", str(postmaster)], capture_output=True, text=True, check=False
        ).stdout.split()
        return [postmaster, *map(int, children)]

    def pause(self) -> list[int]:
        """SIGSTOP the whole server (as a stalled host would be); returns what to resume."""
        stopped = self.pids()
        for pid in stopped:
            os.kill(pid, signal.SIGSTOP)
        return stopped

    @staticmethod
    def resume(stopped: list[int]) -> None:
        for pid in stopped:
            with contextlib.suppress(ProcessLookupError):
                os.kill(pid, signal.SIGCONT)

    def close(self) -> None:
        if (self.data / "postmaster.pid").exists():
            with contextlib.suppress(RuntimeError):
                self._pg("pg_ctl", "stop", "-m", "immediate", "-w", "-D", str(self.data))
        shutil.rmtree(self.tmp, ignore_errors=True)
