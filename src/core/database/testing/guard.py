"""Refuse to run destructive test fixtures against anything but a test database."""

from __future__ import annotations

import os
import re
import tempfile
from pathlib import Path

from sqlalchemy.engine import URL

from core.database.settings import AppEnv, Settings, get_settings
from core.database.url import is_memory_sqlite, mask_url, parse_database_url

__all__ = ["ALLOW_ENV", "UnsafeDatabaseError", "check_test_database"]

ALLOW_ENV = "CORE_DATABASE_ALLOW_ANY_TEST_DATABASE"


class UnsafeDatabaseError(RuntimeError):
    """The test fixtures would delete data in a database that may not be a test database."""


def check_test_database(
    url: str | URL, *, settings: Settings | None = None, allow_any: bool | None = None
) -> URL:
    """Return the parsed URL if tests may wipe it; raise UnsafeDatabaseError otherwise.

    Accepted: in-memory SQLite, a SQLite file under the temp directory or with
    "test" in its name, a Postgres database with "test" in its name. Anything else
    needs an explicit opt-in; `APP_ENV=production` is refused even then.
    """
    settings = settings or get_settings()
    parsed = parse_database_url(url)
    shown = mask_url(parsed)
    if settings.app_env is AppEnv.PRODUCTION:
        raise UnsafeDatabaseError(
            f"refusing to run test fixtures with APP_ENV=production (database {shown}): "
            "they roll back, create and drop tables. Run tests with APP_ENV=test."
        )
    if allow_any is None:
        allow_any = os.environ.get(ALLOW_ENV, "") == "1"
    if allow_any or _looks_like_test_database(parsed):
        return parsed
    raise UnsafeDatabaseError(
        f"refusing to run test fixtures against {shown}: it is not clearly a test database "
        "(in-memory SQLite, a temporary file, or 'test' as a word of its name). "
        f"Point TEST_DATABASE_URL at a test database, or opt in with {ALLOW_ENV}=1 "
        "(or --database-allow-any) if you are sure."
    )


def _looks_like_test_database(url: URL) -> bool:
    if is_memory_sqlite(url):
        return True
    name = url.database or ""
    if url.get_backend_name() == "sqlite":
        path = Path(name).expanduser().resolve()
        temp = Path(tempfile.gettempdir()).resolve()
        return _names_a_test(path.name) or path.is_relative_to(temp)
    return _names_a_test(name)


# "test" as a word of the name: app_test, test-orders, tests.db, myapp_testing; not
# latest, contest or greatest.
_TEST_WORD = re.compile(r"(?:^|[^a-z])test(?:s|ing)?(?:$|[^a-z])", re.IGNORECASE)


def _names_a_test(name: str) -> bool:
    return _TEST_WORD.search(name) is not None
