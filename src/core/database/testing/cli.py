"""``python -m core.database.testing postgres -- COMMAND``: COMMAND against a throwaway server."""

from __future__ import annotations

import argparse
import os
import subprocess
import sys

from core.database.testing.postgres import throwaway_postgres

__all__ = ["main"]


def main(argv: list[str] | None = None) -> int:
    """Parse ``argv``, run the subcommand and return the exit code."""
    parser = argparse.ArgumentParser(
        prog="python -m core.database.testing", description="Testing helpers for core.database."
    )
    commands = parser.add_subparsers(dest="subcommand", metavar="SUBCOMMAND")
    postgres = commands.add_parser(
        "postgres",
        help="run COMMAND with DATABASE_URL and TEST_DATABASE_URL pointing at a throwaway"
        " PostgreSQL server",
        description="Start a throwaway PostgreSQL server, run COMMAND with DATABASE_URL,"
        " TEST_DATABASE_URL and TEST_POSTGRES_URL all set to it (so `-- pytest` tests on it and"
        " `-- alembic upgrade head` migrates it), tear the server down, also when COMMAND fails"
        " or is interrupted, and exit with COMMAND's exit code.",
    )
    postgres.add_argument("--database", default="app_test", help="database name (app_test)")
    postgres.add_argument(
        "--durable", action="store_true", help="keep fsync & co. on (for benchmarks)"
    )
    postgres.add_argument("command", nargs=argparse.REMAINDER, metavar="-- COMMAND [ARGS...]")
    args = parser.parse_args(argv)
    if args.subcommand is None:
        parser.print_help(sys.stderr)
        return 2
    # REMAINDER keeps the "--" that separates our options from COMMAND's.
    command: list[str] = args.command[1:] if args.command[:1] == ["--"] else args.command
    if not command:
        postgres.error("COMMAND is required, e.g. `postgres -- pytest -q`")
    try:
        with throwaway_postgres(database=args.database, fast=not args.durable) as url:
            # DATABASE_URL: a command that is not a test run (alembic, a script) must use
            # this server too, not the app's default. TEST_POSTGRES_URL: a nested
            # `postgres -- ...` reuses this server.
            env = {**os.environ, "DATABASE_URL": url, "TEST_DATABASE_URL": url}
            env["TEST_POSTGRES_URL"] = url
            try:
                code = subprocess.run(command, env=env, check=False).returncode
            except OSError as exc:  # not found / not executable: the shell's 127
                print(f"error: cannot run {command[0]!r}: {exc}", file=sys.stderr)
                return 127
    except RuntimeError as exc:  # includes PostgresUnavailableError
        print(f"error: {exc}", file=sys.stderr)
        return 1
    except KeyboardInterrupt:  # Ctrl-C: the server is already gone, skip the traceback
        return 130
    # Killed by a signal: report it the way a shell would.
    return 128 + abs(code) if code < 0 else code
