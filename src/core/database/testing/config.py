"""The plugin's options, ini settings and configuration checks (hooks used by plugin.py)."""

from __future__ import annotations

import os

import pytest
import pytest_asyncio

from core.database.errors import ConfigurationError
from core.database.url import mask_url, parse_database_url

__all__ = [
    "MEMORY_URL",
    "configured_url",
    "pytest_addoption",
    "pytest_collection_modifyitems",
    "pytest_configure",
    "pytest_report_header",
]

MEMORY_URL = "sqlite+aiosqlite:///:memory:"
SCHEMA_MODES = ("metadata", "alembic")
_LOOP_SCOPE_HELP = (
    "core.database's fixtures share one engine, and so one event loop, across the test"
    " session; async fixtures must run in that loop too. Add to your pytest configuration"
    ' ([tool.pytest.ini_options] in pyproject.toml):\n  asyncio_mode = "auto"\n'
    '  asyncio_default_fixture_loop_scope = "session"'
)


def pytest_addoption(parser: pytest.Parser) -> None:
    """Register ``--database-url``, ``--database-allow-any`` and the ``core_database_*`` ini."""
    group = parser.getgroup("core-database")
    group.addoption("--database-url", help="database for the tests (default: TEST_DATABASE_URL)")
    group.addoption(
        "--database-allow-any",
        action="store_true",
        help="allow a database whose name does not say it is a test database",
    )
    parser.addini(
        "core_database_metadata",
        type="args",
        default=[],
        help="module:attr of the MetaData (or Base) to create, e.g. myapp.models:Base.metadata",
    )
    parser.addini("core_database_app", default="", help="module:attr of the app for db_client")
    parser.addini(
        "core_database_schema",
        default="metadata",
        help="how to build the schema: metadata (create_all) or alembic (upgrade head)",
    )
    parser.addini(
        "core_database_alembic_ini", default="alembic.ini", help="alembic.ini for schema=alembic"
    )


@pytest.hookimpl(tryfirst=True)
def pytest_configure(config: pytest.Config) -> None:
    """Refuse a configuration the fixtures cannot work with, before anything runs."""
    if config.getini("core_database_schema") not in SCHEMA_MODES:
        raise pytest.UsageError(f"core_database_schema must be one of {', '.join(SCHEMA_MODES)}")
    # Unset, pytest-asyncio warns (an INTERNALERROR under filterwarnings=error) without
    # saying which value works: say it first.
    if _fixture_loop_scope(config) is None:
        raise pytest.UsageError(_LOOP_SCOPE_HELP)


def pytest_report_header(config: pytest.Config) -> str:
    """Name the database under test (masked) at the top of the run."""
    try:
        shown = mask_url(parse_database_url(configured_url(config)))
    except ConfigurationError as exc:
        shown = f"invalid URL ({exc})"
    return f"core.database: {shown} (schema: {config.getini('core_database_schema')})"


def pytest_collection_modifyitems(config: pytest.Config, items: list[pytest.Item]) -> None:
    """Check the loop scope if the database is used; run async tests in the session loop."""
    # A function-loop async fixture that touches the session-wide engine fails with
    # "attached to a different loop"; refuse up front, but only if the database is used.
    uses_database = any("database" in getattr(item, "fixturenames", ()) for item in items)
    if uses_database and _fixture_loop_scope(config) not in ("session", ""):
        raise pytest.UsageError(_LOOP_SCOPE_HELP)
    # Run every async test in the session loop that owns the engine, whatever
    # asyncio_default_test_loop_scope says.
    marker = pytest.mark.asyncio(loop_scope="session")
    for item in items:
        if pytest_asyncio.is_async_test(item):
            item.add_marker(marker, append=False)


def _fixture_loop_scope(config: pytest.Config) -> str | None:
    """pytest-asyncio's default fixture loop scope; "" when pytest-asyncio is disabled."""
    try:
        scope: str | None = config.getini("asyncio_default_fixture_loop_scope")
    except ValueError:
        return ""
    return scope


def configured_url(config: pytest.Config) -> str:
    """``--database-url``, else ``TEST_DATABASE_URL``, else in-memory SQLite."""
    url = config.getoption("--database-url") or os.environ.get("TEST_DATABASE_URL")
    return str(url or MEMORY_URL)
