"""The plugin's options, ini settings and configuration checks (hooks used by plugin.py)."""

from __future__ import annotations

import os
import warnings

import pytest

from core.database.errors import ConfigurationError
from core.database.url import mask_url, parse_database_url

__all__ = [
    "MEMORY_URL",
    "configured_url",
    "pytest_addoption",
    "pytest_configure",
    "pytest_report_header",
]

MEMORY_URL = "sqlite+aiosqlite:///:memory:"
SCHEMA_MODES = ("metadata", "alembic")


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
    config.addinivalue_line(
        "markers", "database_loop: set by core.database on tests run in its session loop"
    )
    # pytest-asyncio warns when its default fixture loop scope is unset; the plugin
    # picks the loop of every test and fixture it serves, so the setting does not
    # matter to it, and a host suite with `filterwarnings = error` must still start.
    warnings.filterwarnings(
        "ignore",
        message='The configuration option "asyncio_default_fixture_loop_scope" is unset',
        category=pytest.PytestDeprecationWarning,
    )


def pytest_report_header(config: pytest.Config) -> str:
    """Name the database under test (masked) at the top of the run."""
    try:
        shown = mask_url(parse_database_url(configured_url(config)))
    except ConfigurationError as exc:
        shown = f"invalid URL ({exc})"
    return f"core.database: {shown} (schema: {config.getini('core_database_schema')})"


def configured_url(config: pytest.Config) -> str:
    """``--database-url``, else ``TEST_DATABASE_URL``, else in-memory SQLite."""
    url = config.getoption("--database-url") or os.environ.get("TEST_DATABASE_URL")
    return str(url or MEMORY_URL)
