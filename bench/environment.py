"""What the numbers were measured on: versions and the machine."""

from __future__ import annotations

import os
import platform
import sqlite3
import sys
from importlib import metadata
from pathlib import Path

__all__ = ["describe"]

PACKAGES = ("sqlalchemy", "asyncpg", "aiosqlite", "fastapi", "starlette", "uvicorn", "pydantic")


def describe(postgres: dict[str, str]) -> list[tuple[str, str]]:
    """(name, value) pairs for the report's environment table."""
    rows = [
        ("Python", f"{platform.python_implementation()} {sys.version.split()[0]}"),
        *((name, _version(name)) for name in PACKAGES),
        ("SQLite library", sqlite3.sqlite_version),
        *((f"PostgreSQL {key}", value) for key, value in postgres.items()),
        ("CPU", _cpu_model()),
        ("cores", str(os.cpu_count())),
        ("OS", f"{platform.system()} {platform.release()}"),
    ]
    return rows


def _version(package: str) -> str:
    try:
        return metadata.version(package)
    except metadata.PackageNotFoundError:
        return "not installed"


def _cpu_model() -> str:
    cpuinfo = Path("/proc/cpuinfo")
    if cpuinfo.exists():
        for line in cpuinfo.read_text().splitlines():
            if line.lower().startswith("model name"):
                return line.split(":", 1)[1].strip()
    return platform.processor() or "unknown"
