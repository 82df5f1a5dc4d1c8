"""backup: SQLite files are copied safely whatever their path; pg_dump gets no secret in argv.

SQLite files are always at hand, so these run in both runs; the real pg_dump/pg_restore
round trip is in test_cli.
"""

from __future__ import annotations

import sqlite3
from contextlib import closing
from pathlib import Path

import pytest
from sqlalchemy.engine import URL

from core.database.backup import _pg_invocation, dump, restore
from core.database.errors import ConfigurationError
from core.database.pg_binaries import find_pg_bindir


def sqlite_url(path: Path) -> URL:
    return URL.create("sqlite+aiosqlite", database=str(path))


def names(path: Path) -> list[str]:
    with closing(sqlite3.connect(path)) as connection:
        return [row[0] for row in connection.execute("SELECT name FROM people ORDER BY name")]


def add(path: Path, *people: str) -> Path:
    path.parent.mkdir(parents=True, exist_ok=True)
    with closing(sqlite3.connect(path)) as connection:
        connection.execute("CREATE TABLE IF NOT EXISTS people (name TEXT)")
        connection.executemany("INSERT INTO people VALUES (?)", [(name,) for name in people])
        connection.commit()
    return path


def test_dump_and_restore_through_paths_with_hash_and_space(tmp_path: Path) -> None:
    # A URI would end the path at `#` or `?`: the copy must read these very files.
    folder = tmp_path / "back ups #1"
    live = add(folder / "live #db?.db", "Ada")
    backup = dump(sqlite_url(live), folder / "backup #1.db")
    add(live, "Bob")

    restore(sqlite_url(live), backup)

    assert names(live) == ["Ada"]
    assert sorted(path.name for path in folder.iterdir()) == ["backup #1.db", "live #db?.db"]


def test_restore_from_a_file_that_is_not_sqlite_leaves_the_database_alone(tmp_path: Path) -> None:
    live = add(tmp_path / "live.db", "Ada")
    before = live.read_bytes()
    not_a_dump = tmp_path / "backup.dump"
    not_a_dump.write_bytes(b"PGDMP custom-format archive, not a SQLite file")

    with pytest.raises(ConfigurationError, match="is not a SQLite database"):
        restore(sqlite_url(live), not_a_dump)

    assert live.read_bytes() == before


def test_restore_from_an_empty_file_is_refused(tmp_path: Path) -> None:
    # SQLite would open a zero-byte file as an empty database and copy that over.
    live = add(tmp_path / "live.db", "Ada")
    empty = tmp_path / "empty.db"
    empty.touch()
    with pytest.raises(ConfigurationError, match="is not a SQLite database"):
        restore(sqlite_url(live), empty)
    assert names(live) == ["Ada"]


def test_missing_sources_are_refused_and_nothing_is_created(tmp_path: Path) -> None:
    missing = tmp_path / "missing.db"
    with pytest.raises(ConfigurationError, match="no SQLite database at"):
        dump(sqlite_url(missing), tmp_path / "backup.db")
    with pytest.raises(ConfigurationError, match="no dump file at"):
        restore(sqlite_url(tmp_path / "live.db"), missing)
    assert list(tmp_path.iterdir()) == []


def test_pg_conninfo_holds_no_secret_and_only_libpq_keys() -> None:
    url = URL.create(
        "postgresql+asyncpg",
        username="app",
        password="UrlPw",
        host="db.example",
        port=6432,
        database="app db",
        query={
            "sslmode": "require",
            "application_name": "it's",
            "password": "QueryPw",
            "passfile": "/home/app/.pgpass",
            "prepared_statement_cache_size": "0",
        },
    )
    conninfo, env = _pg_invocation(url, {"PATH": "/bin"})

    assert conninfo == (
        "host='db.example' port='6432' user='app' dbname='app db'"
        " sslmode='require' application_name='it\\'s'"
    )
    # As for asyncpg, the query's password wins over the URL's.
    assert env == {"PATH": "/bin", "PGPASSWORD": "QueryPw", "PGPASSFILE": "/home/app/.pgpass"}


def test_pg_password_goes_to_the_environment_and_a_unix_socket_host_is_kept() -> None:
    url = URL.create("postgresql+asyncpg", username="app", password="UrlPw", database="app")
    conninfo, env = _pg_invocation(url.update_query_dict({"host": "/run/postgresql"}), {})
    assert conninfo == "host='/run/postgresql' user='app' dbname='app'"
    assert env == {"PGPASSWORD": "UrlPw"}


def test_pg_without_a_password_keeps_the_exported_pgpassword() -> None:
    url = URL.create("postgresql+asyncpg", username="app", host="db", database="app")
    _, env = _pg_invocation(url, {"PGPASSWORD": "exported"})
    assert env == {"PGPASSWORD": "exported"}


def test_client_tools_are_found_beside_a_path_wrapper(tmp_path: Path) -> None:
    # Debian: /usr/bin/pg_dump links to a wrapper whose own folder has no pg_restore.
    wrapper = tmp_path / "share" / "pg_wrapper"
    wrapper.parent.mkdir()
    wrapper.touch(mode=0o755)
    bindir = tmp_path / "bin"
    bindir.mkdir()
    for tool in ("pg_dump", "pg_restore"):
        (bindir / tool).symlink_to(wrapper)

    found = find_pg_bindir(path=str(bindir), roots=(), tools=("pg_dump", "pg_restore"))

    assert found == bindir


def test_an_in_memory_database_is_neither_dumped_nor_restored(tmp_path: Path) -> None:
    memory = URL.create("sqlite+aiosqlite")
    with pytest.raises(ConfigurationError, match="in-memory"):
        dump(memory, tmp_path / "never.db")
    with pytest.raises(ConfigurationError, match="in-memory"):
        restore(memory, add(tmp_path / "source.db", "Ada"))
    assert not (tmp_path / "never.db").exists()


@pytest.mark.postgres_only(reason="pg_restore runs against a Postgres server")
def test_a_failing_pg_restore_names_the_tool_and_hides_the_password(
    scratch: URL, tmp_path: Path
) -> None:
    not_a_dump = tmp_path / "notes.dump"
    not_a_dump.write_text("this is not a pg_dump archive\n")
    with pytest.raises(RuntimeError, match="pg_restore failed for") as failure:
        restore(scratch, not_a_dump)
    assert scratch.password and scratch.password not in str(failure.value)
    assert "***" in str(failure.value)
