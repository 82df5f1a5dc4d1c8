"""A finding of the portability check: what, where, and the portable fix."""

from __future__ import annotations

from dataclasses import dataclass, replace
from typing import Literal

__all__ = ["Finding"]


@dataclass(frozen=True)
class Finding:
    """One construct that breaks (`error`) or behaves differently (`note`) on a backend."""

    severity: Literal["error", "note"]
    where: str
    problem: str
    fix: str
    revision: str | None = None

    def at(self, revision: str) -> Finding:
        """The same finding, attributed to `revision`."""
        return replace(self, revision=revision)

    def __str__(self) -> str:
        origin = f"revision {self.revision}, " if self.revision else ""
        return f"{self.severity}: {origin}{self.where}: {self.problem}\n    fix: {self.fix}"
