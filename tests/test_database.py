"""`Database` and the app-wide default (core.database.database): settings, laziness, dispose."""

from __future__ import annotations

from collections.abc import Iterator

import pytest
from pydantic import SecretStr
from sqlalchemy import text

from core.database import ConfigurationError, Database, get_database, set_database
from core.database.settings import Settings, get_settings

SECRET = "S3cretPw"


@pytest.fixture
def fresh_settings(monkeypatch: pytest.MonkeyPatch) -> Iterator[pytest.MonkeyPatch]:
    """No app-wide Database and no cached settings while the test runs; both restored after."""
    previous = set_database(None)
    get_settings.cache_clear()
    try:
        yield monkeypatch
    finally:
        get_settings.cache_clear()
        set_database(previous)


@pytest.mark.parametrize("raw", [f"mysql://app:{SECRET}@db/app", "not a url", ""])
def test_bad_database_url_from_settings_fails_once_and_clearly(
    fresh_settings: pytest.MonkeyPatch, raw: str
) -> None:
    fresh_settings.setenv("DATABASE_URL", raw)
    with pytest.raises(ConfigurationError) as caught:
        get_database()
    message = str(caught.value)
    assert "sqlite+aiosqlite:///./app.db" in message
    assert SECRET not in message
    assert SECRET not in repr(caught.value)
    assert caught.value.__cause__ is None
    assert caught.value.__context__ is None


def test_settings_choose_the_database(fresh_settings: pytest.MonkeyPatch) -> None:
    fresh_settings.setenv("DATABASE_URL", f"postgres://app:{SECRET}@db:5432/app")
    db = get_database()
    assert get_database() is db
    assert db.dialect == "postgresql"
    assert db.masked_url == "postgresql+asyncpg://app:***@db:5432/app"
    assert SECRET not in repr(db)


def test_explicit_settings_are_used() -> None:
    settings = Settings(database_url=SecretStr("sqlite:///./other.db"))
    db = Database(settings=settings)
    assert db.url.database == "./other.db"
    assert db.dialect == "sqlite"


def test_set_database_returns_the_previous_one(database: Database) -> None:
    other = Database("sqlite://")
    assert set_database(other) is database
    try:
        assert get_database() is other
    finally:
        assert set_database(database) is other


async def test_dispose_closes_and_the_engine_is_rebuilt_on_next_use() -> None:
    db = Database("sqlite+aiosqlite:///:memory:")
    await db.dispose()  # nothing built yet: a no-op
    first = db.engine
    async with db.session() as session:
        assert await session.scalar(text("SELECT 1")) == 1
    await db.dispose()
    assert db.engine is not first
    async with db.session() as session:
        assert await session.scalar(text("SELECT 2")) == 2
    await db.dispose()
