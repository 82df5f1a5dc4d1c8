"""`python -m core.database`: check, upgrade, dump and restore the configured database.

Commands that write (upgrade, restore) refuse an APP_ENV=production database
unless `--allow-production` is given.
"""

from __future__ import annotations

import argparse
import asyncio
import sys
from collections.abc import Callable
from pathlib import Path

from sqlalchemy import text

from core.database import backup
from core.database.database import Database
from core.database.errors import ConfigurationError, DatabaseError
from core.database.settings import AppEnv, get_settings
from core.database.url import is_memory_sqlite

__all__ = ["main"]


def main(argv: list[str] | None = None) -> int:
    """Run one command; return the process exit code."""
    parser = _parser()
    args = parser.parse_args(argv)
    if args.command is None:
        parser.print_help()
        return 2
    try:
        if args.command in _OFFLINE_COMMANDS:
            return _OFFLINE_COMMANDS[args.command](args)
        if args.command in ("upgrade", "restore") and not args.allow_production:
            _refuse_production(args.command)
        database = Database(args.url) if args.url else Database()
        if args.command == "check":
            _refuse_missing_sqlite_file(database)
        return asyncio.run(_run(args, database))
    except (DatabaseError, RuntimeError) as exc:
        print(f"error: {exc}", file=sys.stderr)
        return 1


async def _run(args: argparse.Namespace, database: Database) -> int:
    try:
        if args.command == "check":
            return await _check(database, args.config)
        if args.command == "upgrade":
            from core.database import migrations

            await asyncio.to_thread(
                migrations.upgrade, database.url, args.revision, config_path=args.config
            )
            print(f"upgraded {database.masked_url} to {args.revision}")
        elif args.command == "dump":
            await asyncio.to_thread(backup.dump, database.url, Path(args.file))
            print(f"dumped {database.masked_url} to {args.file}")
        elif args.command == "restore":
            await asyncio.to_thread(backup.restore, database.url, Path(args.file))
            print(f"restored {args.file} into {database.masked_url}")
        return 0
    finally:
        await database.dispose()


async def _check(database: Database, config: str) -> int:
    await database.ping(timeout=5)
    version_sql = (
        "SELECT sqlite_version()" if database.dialect == "sqlite" else "SHOW server_version"
    )
    async with database.session() as session:
        version = await session.scalar(text(version_sql))
    print(f"database: {database.masked_url}")
    print(f"server:   {database.dialect} {version}")
    from core.database import migrations

    current = await migrations.engine_revision(database.engine)
    head = migrations.head_revision(config_path=config)
    print(f"schema:   {current or 'base'} (head {head or 'none'})")
    if current != head:
        print("the database is not at head: run `python -m core.database upgrade`")
        return 3
    return 0


def _refuse_missing_sqlite_file(database: Database) -> None:
    path = Path(database.url.database or "")
    if database.dialect == "sqlite" and not is_memory_sqlite(database.url) and not path.is_file():
        # Connecting would create an empty database there: a check must not write.
        raise ConfigurationError(f"no database at {path}")


def _refuse_production(command: str) -> None:
    if get_settings().app_env is AppEnv.PRODUCTION:
        raise RuntimeError(
            f"refusing to {command} an APP_ENV=production database; "
            "pass --allow-production if you mean it"
        )


def _parser() -> argparse.ArgumentParser:
    parser = argparse.ArgumentParser(prog="python -m core.database", description=__doc__)
    parser.add_argument("--url", help="database URL (default: DATABASE_URL from the settings)")
    parser.add_argument("--config", default="alembic.ini", help="Alembic configuration file")
    commands = parser.add_subparsers(dest="command")
    commands.add_parser("check", help="connect; print server version and schema revision")
    upgrade = commands.add_parser("upgrade", help="apply migrations (alembic upgrade)")
    upgrade.add_argument("revision", nargs="?", default="head")
    dump = commands.add_parser("dump", help="write a dump (pg_dump -Fc, or SQLite backup)")
    dump.add_argument("file")
    restore = commands.add_parser("restore", help="load a dump into the database")
    restore.add_argument("file")
    for sub in (upgrade, restore):
        sub.add_argument("--allow-production", action="store_true")
    parser.set_defaults(allow_production=False)
    init = commands.add_parser(
        "init-migrations", help="write alembic.ini, env.py and script.py.mako for this toolkit"
    )
    init.add_argument("directory", nargs="?", default="migrations")
    init.add_argument(
        "--models",
        action="append",
        default=[],
        metavar="MODULE",
        help="a module defining models, imported by env.py (repeatable), e.g. app.models",
    )
    init.add_argument(
        "--metadata",
        default="core.database:Base.metadata",
        help="module:attribute of the MetaData to migrate (default: core.database:Base.metadata)",
    )
    portability = commands.add_parser(
        "check-migrations",
        help="name every construct of the migration history that does not run on SQLite",
    )
    portability.add_argument(
        "--postgres",
        metavar="URL",
        help="a Postgres server to replay the history on, in a scratch database it creates",
    )
    return parser


def _init_migrations(args: argparse.Namespace) -> int:
    from core.database.migrations.scaffold import init_migrations

    written = init_migrations(
        args.directory, config=args.config, models=tuple(args.models), metadata=args.metadata
    )
    for path in written:
        print(f"wrote {path}")
    print("next: alembic revision --autogenerate -m 'create tables' && alembic upgrade head")
    return 0


def _check_migrations(args: argparse.Namespace) -> int:
    from core.database.migrations.portability import check_portability, format_report

    report = check_portability(args.config, postgres_url=args.postgres)
    format_report(report, print)
    return 1 if report.errors else 0


# Commands that need no database connection of the default settings.
_OFFLINE_COMMANDS: dict[str, Callable[[argparse.Namespace], int]] = {
    "init-migrations": _init_migrations,
    "check-migrations": _check_migrations,
}
