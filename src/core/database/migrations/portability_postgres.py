"""The Postgres replay of the portability check, on a scratch database of the given server."""

from __future__ import annotations

import secrets
from collections.abc import Callable
from pathlib import Path

from sqlalchemy.engine import URL

from core.database.engine import create_engine
from core.database.migrations.environment import run_blocking
from core.database.migrations.portability_types import Finding
from core.database.url import mask_url, parse_database_url

__all__ = ["replay_on_postgres"]


def replay_on_postgres(
    config_path: Path, server_url: str | URL, report: Callable[[Finding], None]
) -> str:
    """Upgrade head and downgrade base on a new database beside `server_url`'s; drop it after.

    The database `server_url` names is only connected to, never changed.
    """
    from core.database.migrations.commands import downgrade, upgrade

    url = parse_database_url(server_url)
    scratch = url.set(database=f"check_migrations_{secrets.token_hex(4)}")
    run_blocking(_admin(url, f'CREATE DATABASE "{scratch.database}"'))
    step = "upgrade head"
    try:
        upgrade(scratch, config_path=config_path)
        step = "downgrade base"
        downgrade(scratch, "base", config_path=config_path)
        step = "upgrade head again"
        upgrade(scratch, config_path=config_path)
    except Exception as exc:
        lines = str(exc).strip().splitlines()
        report(
            Finding(
                "error",
                "Postgres replay",
                f"{step} failed: {type(exc).__name__}: {lines[0] if lines else ''}",
                "the history must run on Postgres too: fix the revision named above",
            )
        )
        return f"postgres: {step} failed on {mask_url(scratch)}"
    finally:
        run_blocking(_admin(url, f'DROP DATABASE IF EXISTS "{scratch.database}" WITH (FORCE)'))
    return f"postgres: upgrade head, downgrade base, upgrade head on {mask_url(scratch)}: ok"


async def _admin(url: URL, statement: str) -> None:
    engine = create_engine(url, isolation_level="AUTOCOMMIT")
    try:
        async with engine.connect() as connection:
            await connection.exec_driver_sql(statement)
    finally:
        await engine.dispose()
