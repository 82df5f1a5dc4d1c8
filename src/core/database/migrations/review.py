"""Revision files still carrying a data-loss marker that a reviewer has to remove."""

from __future__ import annotations

from pathlib import Path

from alembic.script import ScriptDirectory

from core.database.migrations.commands import alembic_config
from core.database.migrations.draft_ops import REVIEW_MARKER
from core.database.migrations.errors import UnreviewedRevisionError

__all__ = ["refuse_unreviewed", "unreviewed_markers"]


def unreviewed_markers(*, config_path: str | Path | None = None) -> list[str]:
    """``file:line: message`` for each marker left in the history's revision files."""
    scripts = ScriptDirectory.from_config(alembic_config(config_path=config_path))
    found: list[str] = []
    for script in scripts.walk_revisions("base", "heads"):
        if script.path is None:
            continue
        path = Path(script.path)
        for number, line in enumerate(path.read_text().splitlines(), start=1):
            if line.strip().startswith(REVIEW_MARKER):
                message = line.strip().removeprefix(REVIEW_MARKER).strip()
                found.append(f"{path.name}:{number}: {message}")
    return sorted(found)


def refuse_unreviewed(*, config_path: str | Path | None = None) -> None:
    """Raise UnreviewedRevisionError while any marker is left."""
    found = unreviewed_markers(config_path=config_path)
    if found:
        raise UnreviewedRevisionError(
            "revisions still marked for a data-loss review (read each, fix the revision if "
            "data would be lost, then delete the marker lines):\n  " + "\n  ".join(found)
        )
