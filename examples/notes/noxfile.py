"""The same tests on SQLite and on a throwaway Postgres: `nox -s tests-sqlite tests-postgres`."""

from __future__ import annotations

import nox

nox.options.sessions = ["tests-sqlite", "tests-postgres"]
# Runs the command with TEST_DATABASE_URL set to a throwaway server, removed afterwards.
WITH_POSTGRES = ("python", "-m", "core.database.testing", "postgres", "--")


@nox.session(name="tests-sqlite")
def tests_sqlite(session: nox.Session) -> None:
    """The tests on in-memory SQLite."""
    session.install("-e", ".[test]")
    session.run("pytest", *session.posargs, env={"TEST_DATABASE_URL": "sqlite://"})


@nox.session(name="tests-postgres")
def tests_postgres(session: nox.Session) -> None:
    """The same tests on a real Postgres (TEST_POSTGRES_URL, Docker, or local binaries)."""
    session.install("-e", ".[test]")
    session.run(*WITH_POSTGRES, "pytest", *session.posargs)
