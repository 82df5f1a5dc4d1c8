"""The suite runs unchanged on SQLite and Postgres: TEST_DATABASE_URL picks the backend.

Fixtures come from the toolkit's own pytest plugin (core.database.testing.plugin).
"""

from __future__ import annotations

from collections.abc import Sequence

import pytest
from sqlalchemy import MetaData

from core.database import Base
from tests.models import TestBase


@pytest.fixture(scope="session")
def database_metadata() -> Sequence[MetaData]:
    return [Base.metadata, TestBase.metadata]


@pytest.fixture
def dialect(database_url: str) -> str:
    """`sqlite` or `postgresql`: the backend this run is proving."""
    return "sqlite" if database_url.startswith("sqlite") else "postgresql"
