"""The guard in front of the destructive test fixtures (core.database.testing.guard)."""

from __future__ import annotations

import tempfile
from pathlib import Path

import pytest

from core.database.settings import Settings
from core.database.testing import ALLOW_ENV, UnsafeDatabaseError, check_test_database

TEST_ENV = Settings(app_env="test")
PRODUCTION_ENV = Settings(app_env="production", database_url="postgresql://app@db/app")
PRODUCTION_URL = "postgresql+asyncpg://u:pw@localhost/app_production"


@pytest.mark.parametrize(
    "url",
    [
        "sqlite+aiosqlite:///:memory:",
        "sqlite://",
        f"sqlite+aiosqlite:///{Path(tempfile.gettempdir()) / 'anything' / 'app.db'}",
        "sqlite+aiosqlite:///./data/app_test.db",
        "postgresql+asyncpg://u:pw@localhost/app_test",
        "postgres://u:pw@db.example:5432/test_orders",
        "postgresql+asyncpg://u:pw@localhost/myapp_testing",
        "sqlite+aiosqlite:////var/lib/app/tests.db",
    ],
)
def test_clear_test_databases_are_accepted(url: str) -> None:
    parsed = check_test_database(url, settings=TEST_ENV, allow_any=False)
    assert parsed.drivername in ("sqlite+aiosqlite", "postgresql+asyncpg")


@pytest.mark.parametrize(
    "url",
    [
        PRODUCTION_URL,
        "sqlite+aiosqlite:////var/lib/app/app.db",
        "postgresql://u@h/orders",
        # "test" inside another word does not make a test database.
        "postgresql://u@h/latest",
        "postgresql://u@h/contest_platform",
        "sqlite+aiosqlite:////var/lib/app/greatest.db",
    ],
)
def test_other_databases_are_refused_with_how_to_opt_in(url: str) -> None:
    with pytest.raises(UnsafeDatabaseError) as info:
        check_test_database(url, settings=TEST_ENV, allow_any=False)
    message = str(info.value)
    assert "not clearly a test database" in message
    assert f"{ALLOW_ENV}=1" in message
    assert "--database-allow-any" in message
    assert "pw" not in message


def test_production_url_message_masks_the_password() -> None:
    with pytest.raises(UnsafeDatabaseError, match=r"u:\*\*\*@localhost/app_production"):
        check_test_database(PRODUCTION_URL, settings=TEST_ENV, allow_any=False)


def test_the_opt_in_accepts_any_database(monkeypatch: pytest.MonkeyPatch) -> None:
    assert check_test_database(PRODUCTION_URL, settings=TEST_ENV, allow_any=True)
    monkeypatch.setenv(ALLOW_ENV, "1")
    assert check_test_database(PRODUCTION_URL, settings=TEST_ENV)
    monkeypatch.setenv(ALLOW_ENV, "0")
    with pytest.raises(UnsafeDatabaseError):
        check_test_database(PRODUCTION_URL, settings=TEST_ENV)


@pytest.mark.parametrize("url", ["sqlite+aiosqlite:///:memory:", PRODUCTION_URL])
def test_app_env_production_is_refused_even_with_the_opt_in(url: str) -> None:
    with pytest.raises(UnsafeDatabaseError, match="APP_ENV=production") as info:
        check_test_database(url, settings=PRODUCTION_ENV, allow_any=True)
    assert "pw" not in str(info.value)
