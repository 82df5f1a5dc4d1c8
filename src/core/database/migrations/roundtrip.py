"""``python -m core.database.migrations.roundtrip``: prove the migrations on a test database.

Runs what CI runs on each backend: first no revision may still carry a data-loss
review marker; then each step a real ``alembic`` process reading ``alembic.ini``:
upgrade head, check (no drift), downgrade base, upgrade head; then the data round
trip (datacheck.py): every revision up and down with rows in every table. The
database is ``--url``, else ``TEST_DATABASE_URL``; ``downgrade base`` drops every
table, so it must be clearly a test database (the test fixtures' guard decides).
"""

from __future__ import annotations

import argparse
import os
import subprocess
import sys

from core.database.errors import ConfigurationError
from core.database.migrations.datacheck import data_round_trip
from core.database.migrations.errors import MigrationError
from core.database.migrations.review import refuse_unreviewed
from core.database.testing.guard import UnsafeDatabaseError, check_test_database
from core.database.url import is_memory_sqlite, mask_url

__all__ = ["STEPS", "main"]

STEPS: tuple[tuple[str, ...], ...] = (
    ("upgrade", "head"),
    ("check",),
    ("downgrade", "base"),
    ("upgrade", "head"),
)


def main(argv: list[str] | None = None) -> int:
    """Run the round trip; the exit code is the first failing step's, else 0."""
    parser = argparse.ArgumentParser(
        prog="python -m core.database.migrations.roundtrip",
        description="alembic upgrade head, check, downgrade base, upgrade head on a test database",
    )
    parser.add_argument("--url", help="the test database (default: TEST_DATABASE_URL)")
    parser.add_argument(
        "-c",
        "--config",
        default=os.environ.get("ALEMBIC_CONFIG", "alembic.ini"),
        help="Alembic configuration file (default: alembic.ini)",
    )
    only = parser.add_mutually_exclusive_group()
    only.add_argument(
        "--schema-only", action="store_true", help="skip the round trip with data in the tables"
    )
    only.add_argument(
        "--data-only", action="store_true", help="only the round trip with data in the tables"
    )
    args = parser.parse_args(argv)
    raw = args.url or os.environ.get("TEST_DATABASE_URL")
    if not raw:
        parser.error("no database: set TEST_DATABASE_URL or pass --url")
    try:
        url = check_test_database(raw)
    except (ConfigurationError, UnsafeDatabaseError) as exc:
        print(f"error: {exc}", file=sys.stderr)
        return 2
    if is_memory_sqlite(url):
        print("error: an in-memory database does not outlive one alembic run", file=sys.stderr)
        return 2
    print(f"migrations round trip on {mask_url(url)}", flush=True)
    try:
        refuse_unreviewed(config_path=args.config)
    except MigrationError as exc:
        print(f"error: {exc}", file=sys.stderr)
        return 1
    # The URL travels in the environment: a command line is visible to every user (`ps`).
    env = {**os.environ, "DATABASE_URL": url.render_as_string(hide_password=False)}
    for step in () if args.data_only else STEPS:
        shown = " ".join(step)
        print(f"== alembic {shown}", flush=True)
        command = [sys.executable, "-m", "alembic", "-c", args.config, *step]
        code = subprocess.run(command, env=env, check=False).returncode
        if code:
            print(f"error: alembic {shown} failed (exit {code})", file=sys.stderr)
            return code
    if not args.data_only:
        print("ok: upgrade head, check, downgrade base, upgrade head", flush=True)
    if args.schema_only:
        return 0
    try:
        findings = data_round_trip(
            url, config_path=args.config, say=lambda line: print(line, flush=True)
        )
    except MigrationError as exc:
        print(f"error: {exc}", file=sys.stderr)
        return 1
    if findings:
        print("error: a revision loses data on filled tables:", file=sys.stderr)
        for finding in findings:
            print(f"  {finding}", file=sys.stderr)
        return 1
    print("ok: every revision kept every row and value, up and down", flush=True)
    return 0


if __name__ == "__main__":
    raise SystemExit(main())
