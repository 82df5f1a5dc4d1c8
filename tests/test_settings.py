"""Settings (core.database.settings): production needs a URL, libpq variables, `.env` sharing."""

from __future__ import annotations

from collections.abc import Iterator
from pathlib import Path

import pytest
from pydantic import SecretStr
from pydantic_settings import BaseSettings, SettingsConfigDict

from core.database import ConfigurationError, Database, get_database, set_database
from core.database.settings import Settings, get_settings, use_env_file

SECRET = "Pg-S3cret@pw"
LIBPQ = ("PGHOST", "PGPORT", "PGUSER", "PGPASSWORD", "PGDATABASE", "PGSSLMODE")


@pytest.fixture
def env(monkeypatch: pytest.MonkeyPatch, tmp_path: Path) -> Iterator[pytest.MonkeyPatch]:
    """A clean environment in an empty directory: no toolkit variables, no cached settings."""
    for name in ("DATABASE_URL", "APP_ENV", "CORE_DATABASE_ENV_FILE", *LIBPQ):
        monkeypatch.delenv(name, raising=False)
    monkeypatch.chdir(tmp_path)
    previous = set_database(None)
    get_settings.cache_clear()
    try:
        yield monkeypatch
    finally:
        use_env_file(None)
        get_settings.cache_clear()
        set_database(previous)


@pytest.mark.parametrize("app_env", ["local", "test"])
def test_local_and_test_default_to_the_sqlite_file(env: pytest.MonkeyPatch, app_env: str) -> None:
    env.setenv("APP_ENV", app_env)
    assert get_settings().database_url.get_secret_value() == "sqlite+aiosqlite:///./app.db"


@pytest.mark.parametrize("source", ["environment", "dotenv"])
def test_production_without_a_url_refuses_to_start(env: pytest.MonkeyPatch, source: str) -> None:
    if source == "environment":
        env.setenv("APP_ENV", "production")
    else:
        Path(".env").write_text("APP_ENV=production\nDATABASE_ECHO=false\n")
    with pytest.raises(ConfigurationError) as caught:
        get_database()
    message = str(caught.value)
    assert message.startswith("DATABASE_URL is not set and APP_ENV=production")
    assert "PGHOST" in message
    # One clear error: no pydantic ValidationError chained to it.
    assert caught.value.__cause__ is None
    assert caught.value.__context__ is None
    assert not Path("app.db").exists()


def test_production_takes_an_explicit_url(env: pytest.MonkeyPatch) -> None:
    env.setenv("APP_ENV", "production")
    env.setenv("DATABASE_URL", f"postgresql://app:{SECRET}@db/app")
    assert get_database().masked_url == "postgresql+asyncpg://app:***@db/app"


def test_libpq_variables_make_the_url_when_database_url_is_unset(env: pytest.MonkeyPatch) -> None:
    env.setenv("APP_ENV", "production")
    for name, value in {
        "PGHOST": "db.internal",
        "PGPORT": "6543",
        "PGUSER": "app",
        "PGPASSWORD": SECRET,
        "PGDATABASE": "shop",
        "PGSSLMODE": "require",
    }.items():
        env.setenv(name, value)
    settings = get_settings()
    db = Database(settings=settings)
    assert db.url.username == "app"
    assert db.url.password == SECRET  # a raw @ survives
    assert (db.url.host, db.url.port, db.url.database) == ("db.internal", 6543, "shop")
    assert db.masked_url == "postgresql+asyncpg://app:***@db.internal:6543/shop?sslmode=require"
    for shown in (repr(settings), str(settings), repr(db), str(db.url), repr(db.url)):
        assert SECRET not in shown


def test_libpq_variables_from_dotenv_and_defaults(env: pytest.MonkeyPatch) -> None:
    # The same .env docker-compose reads: the password is written once.
    Path(".env").write_text(f"PGUSER=app\nPGPASSWORD={SECRET}\nPGDATABASE=app\n")
    url = Database().url
    assert (url.host, url.port, url.username, url.database) == ("localhost", None, "app", "app")
    assert url.password == SECRET


def test_database_url_wins_over_libpq_variables(env: pytest.MonkeyPatch) -> None:
    env.setenv("PGHOST", "ignored")
    env.setenv("PGDATABASE", "ignored")
    env.setenv("DATABASE_URL", "sqlite:///./chosen.db")
    assert Database().url.database == "./chosen.db"


def test_a_password_alone_does_not_make_a_postgres_url(env: pytest.MonkeyPatch) -> None:
    env.setenv("PGPASSWORD", SECRET)
    assert Database().dialect == "sqlite"


def test_bad_values_are_one_configuration_error_without_the_input(
    env: pytest.MonkeyPatch,
) -> None:
    env.setenv("DATABASE_POOL_SIZE", "0")
    env.setenv("PGPORT", f"x{SECRET}")
    env.setenv("PGHOST", "db")
    with pytest.raises(ConfigurationError) as caught:
        get_settings()
    message = str(caught.value)
    assert "DATABASE_POOL_SIZE" in message
    assert "PGPORT" in message
    assert SECRET not in message
    assert caught.value.__context__ is None


class HostSettings(Settings):
    """A host app's settings, extending the toolkit's: its own keys and ours in one .env."""

    model_config = SettingsConfigDict(env_file=".env", extra="forbid")

    secret_key: SecretStr
    feature_flag: bool = False


class StandaloneHostSettings(BaseSettings):
    """A host app's settings with pydantic-settings' defaults (extra="forbid")."""

    model_config = SettingsConfigDict(env_file=".env")

    secret_key: SecretStr


SHARED_ENV = (
    "SECRET_KEY=host-key\nFEATURE_FLAG=true\nAPP_ENV=local\n"
    f"DATABASE_URL=postgresql://app:{SECRET}@db/app\nDATABASE_POOL_SIZE=7\nPGPASSWORD={SECRET}\n"
)


def test_host_settings_and_ours_read_one_dotenv(env: pytest.MonkeyPatch) -> None:
    Path(".env").write_text(SHARED_ENV)
    host = HostSettings()  # extra="forbid": the toolkit's keys are fields of its class
    ours = get_settings()  # extra="ignore": the host's keys are left alone
    assert host.secret_key.get_secret_value() == "host-key"
    assert host.feature_flag
    assert host.database_pool_size == ours.database_pool_size == 7
    assert Database(settings=host).url == Database(settings=ours).url
    assert SECRET not in repr(host)


def test_a_standalone_host_class_keeps_its_own_dotenv(env: pytest.MonkeyPatch) -> None:
    # The host's .env holds only its keys; the toolkit reads its own file.
    Path(".env").write_text("SECRET_KEY=host-key\n")
    Path("database.env").write_text("DATABASE_URL=sqlite:///./from_database_env.db\n")
    env.setenv("CORE_DATABASE_ENV_FILE", "database.env")
    assert StandaloneHostSettings().secret_key.get_secret_value() == "host-key"
    assert get_database().url.database == "./from_database_env.db"


def test_use_env_file_points_the_toolkit_at_a_file(env: pytest.MonkeyPatch) -> None:
    config = Path("config")
    config.mkdir()
    (config / "app.env").write_text("DATABASE_URL=sqlite:///./from_code.db\nAPP_ENV=test\n")
    get_settings()  # read once with the default .env ...
    use_env_file(config / "app.env")  # ... and re-read from the new file
    settings = get_settings()
    assert settings.app_env == "test"
    assert Database(settings=settings).url.database == "./from_code.db"
