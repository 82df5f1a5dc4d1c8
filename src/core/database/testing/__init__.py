"""Testing toolkit: pytest plugin, throwaway Postgres and the safety guard.

The pytest fixtures come from the ``core_database`` plugin, loaded automatically once the
package is installed; this module holds what a noxfile, a conftest or a script imports.
"""

from __future__ import annotations

from typing import TYPE_CHECKING, Any

from core.database.testing.guard import ALLOW_ENV, UnsafeDatabaseError, check_test_database
from core.database.testing.isolation import OuterTransactionEndedError, rollback_after
from core.database.testing.postgres import (
    PostgresUnavailableError,
    mask_password,
    throwaway_postgres,
)

if TYPE_CHECKING:
    from core.database.testing.http import make_client

__all__ = [
    "ALLOW_ENV",
    "OuterTransactionEndedError",
    "PostgresUnavailableError",
    "UnsafeDatabaseError",
    "check_test_database",
    "make_client",
    "mask_password",
    "rollback_after",
    "throwaway_postgres",
]


def __getattr__(name: str) -> Any:
    # httpx is only in the test extra: import the HTTP helper when it is asked for.
    if name == "make_client":
        try:
            from core.database.testing.http import make_client
        except ImportError as exc:
            raise ImportError(
                "core.database.testing.make_client needs httpx: pip install 'core-database[test]'"
            ) from exc
        return make_client
    raise AttributeError(f"module 'core.database.testing' has no attribute {name!r}")
