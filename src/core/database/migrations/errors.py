"""Errors of the migration tooling: also Alembic CommandErrors, so its CLI prints them plainly.

DatabaseError (core.database.errors)
└── MigrationError                 also alembic.util.CommandError
    ├── MultipleHeadsError         the history has several heads: merge them first
    ├── UnsafeDraftError           autogenerate stopped: the draft would fail or lose data
    ├── UnreviewedRevisionError    a revision still carries a data-loss review marker
    └── OfflineSQLError            `--sql` cannot render this history for the dialect
"""

from __future__ import annotations

from alembic.util import CommandError

from core.database.errors import DatabaseError

__all__ = [
    "MigrationError",
    "MultipleHeadsError",
    "OfflineSQLError",
    "UnreviewedRevisionError",
    "UnsafeDraftError",
]


class MigrationError(DatabaseError, CommandError):
    """A migration command refused to go on; the message says why and what to do."""


class MultipleHeadsError(MigrationError):
    """The migration history has several heads."""

    def __init__(self, heads: tuple[str, ...] | list[str]) -> None:
        self.heads = tuple(heads)
        super().__init__(
            f"the migration history has {len(self.heads)} heads ({', '.join(self.heads)}): "
            "two revisions share a parent. Merge them with `alembic merge heads -m merge`, "
            "then run the command again"
        )


class UnsafeDraftError(MigrationError):
    """Autogenerate would write a revision that fails on filled tables or loses data."""


class UnreviewedRevisionError(MigrationError):
    """A revision file still holds a data-loss marker that a reviewer must remove."""


class OfflineSQLError(MigrationError):
    """Offline mode (``--sql``) cannot render a revision for this dialect."""
