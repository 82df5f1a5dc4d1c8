"""Developer and CI tasks: `nox -s tests-sqlite tests-postgres lint typecheck`.

Each session is a thin wrapper around `_install` and one command.
"""

from __future__ import annotations

import os

import nox

nox.options.sessions = ["tests-sqlite", "tests-postgres", "lint", "typecheck"]
nox.options.reuse_existing_virtualenvs = True

PYTHON = os.environ.get("NOX_PYTHON") or None
MEMORY_URL = "sqlite+aiosqlite:///:memory:"
# Wraps a command with a throwaway Postgres (TEST_POSTGRES_URL, Docker, or local binaries).
WITH_POSTGRES = ("python", "-m", "core.database.testing", "postgres", "--")


def _install(session: nox.Session, extras: str = "test") -> None:
    session.install("-e", f".[{extras}]")


def _pytest(session: nox.Session, *wrapper: str, env: dict[str, str] | None = None) -> None:
    session.run(*wrapper, "python", "-m", "pytest", *session.posargs, env=env or {})


@nox.session(name="tests-sqlite", python=PYTHON)
def tests_sqlite(session: nox.Session) -> None:
    """The suite on in-memory SQLite."""
    _install(session)
    _pytest(session, env={"TEST_DATABASE_URL": MEMORY_URL, "APP_ENV": "test"})


@nox.session(name="tests-postgres", python=PYTHON)
def tests_postgres(session: nox.Session) -> None:
    """The same suite on a real Postgres; fails (never skips) if none can be had."""
    _install(session)
    _pytest(session, *WITH_POSTGRES, env={"APP_ENV": "test"})


@nox.session(python=PYTHON)
def lint(session: nox.Session) -> None:
    """ruff check and ruff format --check."""
    session.install("ruff>=0.8")
    session.run("ruff", "check", ".")
    session.run("ruff", "format", "--check", ".")


@nox.session(python=PYTHON)
def typecheck(session: nox.Session) -> None:
    """mypy --strict on src."""
    _install(session, "dev")
    session.run("mypy")


def _demo_schema(session: nox.Session) -> None:
    # The demo's only schema step: create_all for now, `alembic upgrade head` once the
    # app's migrations exist.
    session.run("python", "-m", "app.create_schema")


@nox.session(python=PYTHON)
def demo(session: nox.Session) -> None:
    """Serve the reference app on DATABASE_URL (default ./app.db), port DEMO_PORT or 8000."""
    _install(session, "fastapi")
    _demo_schema(session)
    port = os.environ.get("DEMO_PORT", "8000")
    session.run("uvicorn", "app.main:app", "--host", "127.0.0.1", "--port", port, *session.posargs)
