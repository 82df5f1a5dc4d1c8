"""A throwaway streaming replica of a test server: `pg_basebackup -R`, started beside it.

For tests of read-replica routing against a real standby (hot standby, streaming
WAL from the primary), not a second primary pretending to be one.
"""

from __future__ import annotations

import os
import shlex
import shutil
import subprocess
import tempfile
from collections.abc import Callable, Iterator
from contextlib import contextmanager
from pathlib import Path

from sqlalchemy.engine import URL

from core.database.testing._cluster import free_port, server_owner
from core.database.url import parse_database_url

__all__ = ["StreamingReplica", "streaming_replica"]


class StreamingReplica:
    """A standby cluster in `folder`, replicating from a primary; stop and start it at will."""

    def __init__(self, bindir: Path, folder: Path, url: URL, log: Callable[[str], None]) -> None:
        self.bindir = bindir
        self.folder = folder
        self.url = url
        self._log = log

    @property
    def data(self) -> Path:
        return self.folder / "data"

    def start(self) -> None:
        """Start the standby (hot standby: it serves reads while it replays)."""
        options = ["-c", "listen_addresses=127.0.0.1", "-p", str(self.url.port)]
        options += ["-k", str(self.folder), "-c", "hot_standby=on", "-c", "max_connections=200"]
        log_file = self.folder / "replica.log"
        cmd: list[str | Path] = [self.bindir / "pg_ctl", "start", "-w", "-t", "60", "-D", self.data]
        _run([*cmd, "-l", log_file, "-o", shlex.join(options)], cwd=self.folder)

    def stop(self, mode: str = "fast") -> None:
        """Stop the standby; `immediate` is a crash, `fast` ends its sessions first."""
        cmd: list[str | Path] = [self.bindir / "pg_ctl", "stop", "-D", self.data, "-m", mode]
        cmd += ["-w", "-t", "30"]
        _run(cmd, cwd=self.folder)


@contextmanager
def streaming_replica(
    primary_url: str | URL, bindir: Path, *, log: Callable[[str], None] = print
) -> Iterator[StreamingReplica]:
    """Yield a started standby of `primary_url` (a superuser URL); removed on exit."""
    primary = parse_database_url(primary_url)
    folder = Path(tempfile.mkdtemp(prefix="throwaway-replica-"))
    owner = server_owner()
    if owner is not None:
        os.chown(folder, owner.pw_uid, owner.pw_gid)
    replica = StreamingReplica(bindir, folder, primary.set(port=free_port()), log)
    try:
        backup: list[str | Path] = [bindir / "pg_basebackup", "-h", primary.host or "127.0.0.1"]
        backup += ["-p", str(primary.port or 5432), "-U", primary.username or "postgres"]
        backup += ["-D", replica.data, "-R", "-X", "stream", "--checkpoint=fast"]
        # The password reaches pg_basebackup through its environment, never its argv.
        _run(backup, cwd=folder, password=primary.password)
        replica.start()
        log(f"started a streaming replica on 127.0.0.1:{replica.url.port} in {folder}")
        yield replica
    finally:
        if (replica.data / "postmaster.pid").exists():
            try:
                replica.stop("immediate")
            except RuntimeError as exc:
                log(f"warning: could not stop the replica: {exc}")
        shutil.rmtree(folder, ignore_errors=True)
        log(f"stopped the streaming replica, removed {folder}")


def _run(
    cmd: list[str | Path] | list[Path | str], *, cwd: Path, password: str | None = None
) -> None:
    argv = [str(part) for part in cmd]
    owner = server_owner()
    if owner is not None:
        argv = ["runuser", "-u", owner.pw_name, "--", *argv]
    env = {**os.environ, **({"PGPASSWORD": password} if password else {})}
    done = subprocess.run(
        argv,
        cwd=cwd,
        env=env,
        stdin=subprocess.DEVNULL,
        capture_output=True,
        text=True,
        timeout=180,
    )
    if done.returncode != 0:
        output = (done.stdout + done.stderr).strip()[-4000:]
        raise RuntimeError(f"`{shlex.join(argv)}` failed (exit {done.returncode}):\n{output}")
