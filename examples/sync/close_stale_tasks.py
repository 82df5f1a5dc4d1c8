"""Maintenance script: mark open tasks older than N days done, and say how many.

DATABASE_URL=... python close_stale_tasks.py --older-than-days 30
"""

from __future__ import annotations

import argparse
from datetime import timedelta

from sqlalchemy import bindparam, text

from core.database import UTCDateTime, utcnow
from core.database.sync import execute, fetch_all, fetch_value, get_sync_database


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(description=__doc__)
    parser.add_argument("--older-than-days", type=float, default=30)
    args = parser.parse_args(argv)
    cutoff = utcnow() - timedelta(days=args.older_than_days)
    # Typed as the column stores it, so the comparison is the same on both backends.
    stale = text("UPDATE tasks SET done = :done WHERE done = :open AND created_at < :cutoff")
    stale = stale.bindparams(bindparam("cutoff", type_=UTCDateTime()))
    try:
        closed = execute(stale, {"done": True, "open": False, "cutoff": cutoff})
        still_open = fetch_value("SELECT count(*) FROM tasks WHERE done = :open", {"open": False})
        newest = fetch_all("SELECT slug FROM tasks ORDER BY id DESC LIMIT 3")
    finally:
        get_sync_database().dispose()
    print(f"closed {closed} stale task(s); {still_open} still open")
    print("latest:", ", ".join(str(row["slug"]) for row in newest) or "none")
    return 0


if __name__ == "__main__":
    raise SystemExit(main())
