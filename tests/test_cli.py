"""`python -m core.database`: check, upgrade, dump and restore, on a committed scratch database."""

from __future__ import annotations

import asyncio
import subprocess
import sys
from pathlib import Path

import pytest
from sqlalchemy import text
from sqlalchemy.engine import URL

from core.database import Database
from core.database.cli import main

ROOT = Path(__file__).resolve().parents[1]


def run_cli(
    url: URL, *args: str, env: dict[str, str] | None = None
) -> subprocess.CompletedProcess[str]:
    # A real process: the CLI runs its own event loop, as it does for a user.
    command = [sys.executable, "-m", "core.database", "--url", _plain(url), *args]
    return subprocess.run(
        command, cwd=ROOT, capture_output=True, text=True, timeout=120, env=env, check=False
    )


def _plain(url: URL) -> str:
    return url.render_as_string(hide_password=False)


async def count_users(url: URL) -> int:
    db = Database(url)
    try:
        async with db.session() as session:
            return int(await session.scalar(text("SELECT count(*) FROM users")) or 0)
    finally:
        await db.dispose()


async def test_upgrade_then_check_reports_head_and_masks_the_password(scratch: URL) -> None:
    db = Database(scratch)
    try:
        await db.ping()  # an empty database, not a missing one (a SQLite file is created)
    finally:
        await db.dispose()
    before = await asyncio.to_thread(run_cli, scratch, "check")
    assert before.returncode == 3, before.stderr
    assert "not at head" in before.stdout

    upgraded = await asyncio.to_thread(run_cli, scratch, "upgrade")
    assert upgraded.returncode == 0, upgraded.stderr

    checked = await asyncio.to_thread(run_cli, scratch, "check")
    assert checked.returncode == 0, checked.stderr
    assert "server:" in checked.stdout
    assert "(head " in checked.stdout
    if scratch.password:
        output = checked.stdout + checked.stderr + upgraded.stdout + upgraded.stderr
        assert scratch.password not in output
        assert "***" in checked.stdout


async def test_dump_and_restore_round_trip(scratch: URL, tmp_path: Path) -> None:
    assert (await asyncio.to_thread(run_cli, scratch, "upgrade")).returncode == 0
    db = Database(scratch)
    try:
        async with db.transaction() as session:
            await session.execute(
                text("INSERT INTO users (email, name) VALUES ('kept@example.com', 'Kept')")
            )
    finally:
        await db.dispose()
    dump_file = tmp_path / "backup.dump"
    dumped = await asyncio.to_thread(run_cli, scratch, "dump", str(dump_file))
    assert dumped.returncode == 0, dumped.stderr
    assert dump_file.stat().st_size > 0

    db = Database(scratch)
    try:
        async with db.transaction() as session:
            await session.execute(text("DELETE FROM users"))
    finally:
        await db.dispose()
    assert await count_users(scratch) == 0

    restored = await asyncio.to_thread(run_cli, scratch, "restore", str(dump_file))
    assert restored.returncode == 0, restored.stderr
    assert await count_users(scratch) == 1


@pytest.mark.parametrize("command", [["upgrade"], ["restore", "missing.dump"]])
def test_writing_commands_refuse_production(
    command: list[str], monkeypatch: pytest.MonkeyPatch, capsys: pytest.CaptureFixture[str]
) -> None:
    from core.database.settings import get_settings

    monkeypatch.setenv("APP_ENV", "production")
    monkeypatch.setenv("DATABASE_URL", "postgresql://app@db.invalid/app")  # production needs one
    get_settings.cache_clear()
    try:
        code = main(["--url", "sqlite+aiosqlite:///./never_written.db", *command])
    finally:
        get_settings.cache_clear()
    assert code == 1
    assert "--allow-production" in capsys.readouterr().err
    assert not (ROOT / "never_written.db").exists()


def test_check_does_not_create_a_missing_sqlite_file(
    tmp_path: Path, capsys: pytest.CaptureFixture[str]
) -> None:
    missing = tmp_path / "missing.db"
    assert main(["--url", f"sqlite+aiosqlite:///{missing}", "check"]) == 1
    assert f"no database at {missing}" in capsys.readouterr().err
    assert not missing.exists()


def test_no_command_prints_help(capsys: pytest.CaptureFixture[str]) -> None:
    assert main([]) == 2
    assert "check" in capsys.readouterr().out


def test_bad_url_is_one_clear_error(capsys: pytest.CaptureFixture[str]) -> None:
    assert main(["--url", "mysql://app:S3cretPw@db/app", "check"]) == 1
    err = capsys.readouterr().err
    assert "not supported" in err
    assert "S3cretPw" not in err
