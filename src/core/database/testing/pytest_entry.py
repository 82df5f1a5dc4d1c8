"""The `core_database` pytest entry point: loaded by every pytest run beside the toolkit.

With pytest-asyncio (the `test` extra) it brings in the whole plugin,
core.database.testing.plugin. Without it, pytest still starts: reports keep their
passwords masked, and a test that asks for one of the plugin's fixtures fails with
what to install.
"""

from __future__ import annotations

import importlib.util

import pytest

_MISSING = (
    "the core.database fixtures need pytest-asyncio: pip install 'core-database[test]'"
    " (or pytest-asyncio and httpx)"
)
_FIXTURES = (
    "database_url",
    "database_metadata",
    "database",
    "db_connection",
    "db_session",
    "db_client",
    "sync_database",
    "sync_db_connection",
    "sync_db_session",
)

if importlib.util.find_spec("pytest_asyncio") is not None:
    pytest_plugins = ["core.database.testing.plugin"]
else:
    from core.database.testing.redact import (  # noqa: F401 - hooks pytest finds here
        pytest_make_collect_report,
        pytest_runtest_makereport,
    )

    def _needs_pytest_asyncio() -> None:
        raise pytest.UsageError(_MISSING)

    for _name in _FIXTURES:
        globals()[_name] = pytest.fixture(name=_name)(_needs_pytest_asyncio)
