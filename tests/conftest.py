"""The suite runs unchanged on SQLite and Postgres: TEST_DATABASE_URL picks the backend.

Fixtures come from the toolkit's own pytest plugin (core.database.testing.plugin).
"""

from __future__ import annotations

import os
from collections.abc import Sequence

import pytest
from sqlalchemy import MetaData

import app.models  # noqa: F401  (registers the app's tables)
from core.database import Base
from tests.models import TestBase


@pytest.fixture(scope="session")
def database_metadata() -> Sequence[MetaData]:
    return [Base.metadata, TestBase.metadata]


@pytest.fixture
def dialect(database_url: str) -> str:
    """`sqlite` or `postgresql`: the backend this run is proving."""
    return "sqlite" if database_url.startswith("sqlite") else "postgresql"


_ONLY_ON = {"sqlite_only": "sqlite", "postgres_only": "postgresql"}


def pytest_collection_modifyitems(config: pytest.Config, items: list[pytest.Item]) -> None:
    # Skip dialect-only tests on the other backend; a missing reason is a usage error.
    url = config.getoption("--database-url") or os.environ.get("TEST_DATABASE_URL") or "sqlite"
    backend = "sqlite" if str(url).startswith("sqlite") else "postgresql"
    for item in items:
        for name, wanted in _ONLY_ON.items():
            marker = item.get_closest_marker(name)
            if marker is None:
                continue
            reason = marker.kwargs.get("reason") or next(iter(marker.args), "")
            if not reason:
                raise pytest.UsageError(f"{item.nodeid}: @pytest.mark.{name} needs a reason")
            if backend != wanted:
                item.add_marker(pytest.mark.skip(reason=f"{name}: {reason}"))
