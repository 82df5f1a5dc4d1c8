"""Developer and CI tasks: `nox -s tests-sqlite tests-postgres lint typecheck`.

Each session is a thin wrapper around `_install` and one command.
"""

from __future__ import annotations

import os
import tempfile
from pathlib import Path

import nox

nox.options.sessions = ["tests-sqlite", "tests-postgres", "lint", "typecheck"]
nox.options.reuse_existing_virtualenvs = True

PYTHON = os.environ.get("NOX_PYTHON") or None
MEMORY_URL = "sqlite+aiosqlite:///:memory:"
# Wraps a command with a throwaway Postgres (TEST_POSTGRES_URL, Docker, or local binaries).
WITH_POSTGRES = ("python", "-m", "core.database.testing", "postgres", "--")
# Every revision of alembic/ up, down and up again with rows in every table.
ROUNDTRIP = ("core.database.migrations.roundtrip",)


REFERENCE_APP = "examples/reference"
EXAMPLES = ("examples/reference", "examples/notes")
# pytest-xdist: a worker per core, each with a database of its own (docs/testing.md).
PARALLEL = ("-n", "auto")
# The line coverage of src/ that `nox -s coverage` requires (both backends combined).
COVERAGE_FAIL_UNDER = 95
# Run by a session of its own: PgBouncer needs its program.
OWN_SESSIONS = ("--ignore=tests/test_pgbouncer.py",)


def _install(session: nox.Session, extras: str = "test") -> None:
    """The toolkit, and the reference app beside it (its migrations are alembic/ here)."""
    session.install("-e", f".[{extras}]")
    # --no-deps: the app's path dependency on the toolkit is met by the install above.
    session.install("--no-deps", "-e", REFERENCE_APP)


def _pytest(
    session: nox.Session,
    *wrapper: str,
    args: tuple[str, ...] = (),
    env: dict[str, str] | None = None,
) -> None:
    pytest = ("python", "-m", "pytest", *args, *session.posargs)
    session.run(*wrapper, *pytest, env=env or {})


@nox.session(name="tests-sqlite", python=PYTHON)
def tests_sqlite(session: nox.Session) -> None:
    """The suite on in-memory SQLite, in parallel."""
    _install(session)
    env = {"TEST_DATABASE_URL": MEMORY_URL, "APP_ENV": "test"}
    _pytest(session, args=(*PARALLEL, *OWN_SESSIONS), env=env)


@nox.session(name="tests-postgres", python=PYTHON)
def tests_postgres(session: nox.Session) -> None:
    """The same suite on a real Postgres, in parallel; fails (never skips) if none can be had."""
    _install(session)
    _pytest(session, *WITH_POSTGRES, args=(*PARALLEL, *OWN_SESSIONS), env={"APP_ENV": "test"})


@nox.session(python=PYTHON)
def pgbouncer(session: nox.Session) -> None:
    """The toolkit behind a real PgBouncer in transaction mode (needs the pgbouncer program)."""
    _install(session)
    args = ("tests/test_pgbouncer.py",)
    _pytest(session, *WITH_POSTGRES, args=args, env={"APP_ENV": "test"})


@nox.session(python=PYTHON)
def packaging(session: nox.Session) -> None:
    """Build the wheel, install it with host apps in fresh venvs outside the repository."""
    _install(session)
    session.install("build>=1.2")
    _pytest(session, args=("-m", "packaging", "tests/test_packaging.py"))


@nox.session(python=PYTHON)
def coverage(session: nox.Session) -> None:
    """Line coverage of src/ over the suite on SQLite and on Postgres (with PgBouncer), combined."""
    _install(session)
    session.install("coverage[toml]>=7.10")
    data = Path(session.create_tmp()).resolve() / ".coverage"
    for stale in data.parent.glob(".coverage*"):
        stale.unlink()
    # An absolute data file: subprocesses started in other folders write beside it.
    env = {"APP_ENV": "test", "COVERAGE_FILE": str(data)}
    pytest = ("python", "-m", "pytest", *PARALLEL, *session.posargs)
    measured = ("coverage", "run", "-m", *pytest[2:])
    session.run(*measured, env={**env, "TEST_DATABASE_URL": MEMORY_URL})
    # The wrapper measured too; the pytest it starts is measured as a subprocess.
    session.run("coverage", "run", "-m", *WITH_POSTGRES[2:], *pytest, env=env)
    # What the other proof sessions exercise counts too: routing on a real streaming
    # replica, and every migration of the history up and down with rows in the tables.
    replicas = ("python", "-m", "pytest", "tests/test_replicas.py")
    replica_env = {**env, "CORE_DATABASE_TEST_REPLICAS": "1"}
    session.run("coverage", "run", "-m", *WITH_POSTGRES[2:], *replicas, env=replica_env)
    with tempfile.TemporaryDirectory() as scratch:
        url = _scratch_sqlite(scratch, "migrations_test.db")
        session.run("coverage", "run", "-m", *ROUNDTRIP, env={**env, "TEST_DATABASE_URL": url})
    session.run("coverage", "run", "-m", *WITH_POSTGRES[2:], "python", "-m", *ROUNDTRIP, env=env)
    session.run("coverage", "combine", "--quiet", env=env)
    report = ("coverage", "report", f"--fail-under={COVERAGE_FAIL_UNDER}")
    session.run(*report, env=env)


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


@nox.session(python=PYTHON)
def examples(session: nox.Session) -> None:
    """The example host apps' own suites (reference app, notes), on SQLite and on Postgres."""
    _install(session)
    session.install("--no-deps", "-e", "examples/notes")
    for example in EXAMPLES:
        with session.chdir(example):
            env = {"TEST_DATABASE_URL": MEMORY_URL, "APP_ENV": "test"}
            _pytest(session, args=PARALLEL, env=env)
            _pytest(session, *WITH_POSTGRES, args=PARALLEL, env={"APP_ENV": "test"})


@nox.session(python=PYTHON)
def bench(session: nox.Session) -> None:
    """Toolkit vs bare SQLAlchemy vs raw drivers -> docs/benchmarks.md (`-- --quick`: smoke)."""
    _install(session)
    # The peers measured beside the toolkit, and the charts.
    session.install("advanced-alchemy>=1.4", "sqlmodel>=0.0.22", "matplotlib>=3.8")
    # Starts its own durable throwaway Postgres (fsync on), unless TEST_DATABASE_URL is one.
    session.run("python", "-m", "bench", *session.posargs)


@nox.session(name="bench-sqlite-processes", python=PYTHON)
def bench_sqlite_processes(session: nox.Session) -> None:
    """1, 2 and 4 processes writing one SQLite file -> a section of docs/benchmarks.md."""
    _install(session)
    session.run("python", "-m", "bench.sqlite_processes", *session.posargs)


@nox.session(python=PYTHON)
def replicas(session: nox.Session) -> None:
    """Read-replica routing on a real streaming replica of a throwaway Postgres."""
    _install(session)
    # The replica is made with the server's own pg_basebackup: local binaries, matched
    # to the server's major version by the tests.
    env = {"APP_ENV": "test", "CORE_DATABASE_TEST_REPLICAS": "1"}
    session.run(*WITH_POSTGRES, "python", "-m", "pytest", "tests/test_replicas.py", env=env)


@nox.session(name="bench-sync", python=PYTHON)
def bench_sync(session: nox.Session) -> None:
    """The sync face vs raw sqlite3/psycopg and bare sync SQLAlchemy -> docs/benchmarks.md."""
    _install(session)
    session.run("python", "-m", "bench.sync_face", *session.posargs)


@nox.session(python=PYTHON)
def faults(session: nox.Session) -> None:
    """Faults injected under load into the reference app (Postgres, SQLite) -> docs/reliability.md.

    Fails if an acknowledged write is missing or doubled, a response is a 500, or the app
    holds more backends than its pool allows (faults/ says how).
    """
    _install(session)
    session.run("python", "-m", "faults", *session.posargs)


@nox.session(name="bench-upsert", python=PYTHON)
def bench_upsert(session: nox.Session) -> None:
    """Portable upsert() vs hand-written ON CONFLICT -> a section of docs/benchmarks.md."""
    _install(session)
    session.run("python", "-m", "bench.upsert", *session.posargs)


@nox.session(name="bench-isolation", python=PYTHON)
def bench_isolation(session: nox.Session) -> None:
    """Per-test cost of SAVEPOINT vs create/drop vs TRUNCATE -> docs/isolation-benchmark.md."""
    _install(session)
    session.run("python", "-m", "bench.isolation", *session.posargs)


@nox.session(python=PYTHON)
def parity(session: nox.Session) -> None:
    """The parity-marked tests on SQLite and on Postgres -> one table in docs/parity.md."""
    _install(session)
    reports = Path(session.create_tmp())
    sqlite_xml, postgres_xml = reports / "parity-sqlite.xml", reports / "parity-postgres.xml"
    for stale in (sqlite_xml, postgres_xml):
        stale.unlink(missing_ok=True)
    pytest = ("python", "-m", "pytest", "-p", "tests.parity_plugin", "-m", "parity")
    # Exit code 1 (failed tests) still goes on to the report, which then fails the session.
    session.run(
        *pytest,
        f"--junitxml={sqlite_xml}",
        *session.posargs,
        env={"TEST_DATABASE_URL": MEMORY_URL, "APP_ENV": "test"},
        success_codes=[0, 1],
    )
    session.run(
        *WITH_POSTGRES,
        *pytest,
        f"--junitxml={postgres_xml}",
        *session.posargs,
        env={"APP_ENV": "test"},
        success_codes=[0, 1],
    )
    report = ("python", "tests/parity_report.py", str(sqlite_xml), str(postgres_xml))
    session.run(*report, "--output", "docs/parity.md")


def _scratch_sqlite(directory: str, name: str) -> str:
    return f"sqlite+aiosqlite:///{Path(directory, name).as_posix()}"


@nox.session(python=PYTHON)
def makemigration(session: nox.Session) -> None:
    """`nox -s makemigration -- "add users.nickname"`: autogenerate against a scratch SQLite."""
    if not session.posargs:
        session.error('give the message: nox -s makemigration -- "add users.nickname"')
    _install(session)
    session.install("ruff>=0.8")  # the post-write hook formats the new file
    with tempfile.TemporaryDirectory() as scratch:
        dburl = f"dburl={_scratch_sqlite(scratch, 'makemigration.db')}"
        session.run("alembic", "-x", dburl, "upgrade", "head")
        message = " ".join(session.posargs)
        session.run("alembic", "-x", dburl, "revision", "--autogenerate", "-m", message)


@nox.session(python=PYTHON)
def migrations(session: nox.Session) -> None:
    """upgrade head, check, downgrade base, upgrade head, then every revision up and down
    with rows in every table (no value may be lost): on SQLite, then Postgres."""
    _install(session)
    roundtrip = ("python", "-m", *ROUNDTRIP)
    with tempfile.TemporaryDirectory() as scratch:
        url = _scratch_sqlite(scratch, "migrations_test.db")
        session.run(*roundtrip, env={"TEST_DATABASE_URL": url, "APP_ENV": "test"})
    session.run(*WITH_POSTGRES, *roundtrip, env={"APP_ENV": "test"})


@nox.session(python=PYTHON)
def demo(session: nox.Session) -> None:
    """Migrate and serve the reference app on DATABASE_URL (default ./app.db), port DEMO_PORT."""
    _install(session, "fastapi")
    session.run("alembic", "upgrade", "head")  # alembic/ holds the reference app's history
    port = os.environ.get("DEMO_PORT", "8000")
    # Open event streams would otherwise hold Ctrl+C until every client leaves.
    server = ("uvicorn", "app.main:app", "--host", "127.0.0.1", "--port", port)
    session.run(*server, "--timeout-graceful-shutdown", "3", *session.posargs)


@nox.session(name="bench-fanout", python=PYTHON)
def bench_fanout(session: nox.Session) -> None:
    """Fan-out latency p50/p99 per broadcaster across worker processes -> docs/benchmarks.md."""
    _install(session)
    session.run(*WITH_POSTGRES, "python", "-m", "bench.fanout", *session.posargs)


@nox.session(python=PYTHON)
def scaleout(session: nox.Session) -> None:
    """4 worker processes, 100 SSE/WebSocket clients, 1,000 events: on Postgres and Redis.

    Also the live page in headless Chromium. Needs redis-server and chromium installed.
    """
    _install(session)
    with session.chdir(REFERENCE_APP):
        session.run(
            *WITH_POSTGRES, "python", "-m", "pytest", "tests_cluster", *session.posargs,
            env={"APP_ENV": "test"},
        )  # fmt: skip


@nox.session(name="demo-cluster", python=PYTHON)
def demo_cluster(session: nox.Session) -> None:
    """The reference app as 4 workers on a throwaway Postgres; `-- --redis` fans out via Redis."""
    _install(session, "fastapi,redis")
    session.install("websockets>=13")  # uvicorn serves the WebSocket route with it
    with session.chdir(REFERENCE_APP):
        session.run(*WITH_POSTGRES, "python", "-m", "app.cluster", *session.posargs)
