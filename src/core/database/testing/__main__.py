"""Entry point of ``python -m core.database.testing``; the logic lives in :mod:`.cli`."""

from __future__ import annotations

from core.database.testing.cli import main

if __name__ == "__main__":
    raise SystemExit(main())
