"""docs/reliability.md: one row per fault."""

from __future__ import annotations

import platform
from datetime import UTC, datetime
from pathlib import Path

from faults.app import POOL_LIMIT, SETTINGS
from faults.scenarios import Result

__all__ = ["write_report"]

HEADER = """# Reliability under faults

Written by `nox -s faults` (`python -m faults`): the reference app under uvicorn, a
bounded concurrent client writing events (each with a unique number), and one fault
injected per scenario. Afterwards every acknowledged (201) write is looked up in the
database. **Missing**, **duplicates**, **500s** and backends over the pool's maximum
must all be 0, or the session fails. Recovery is the time from the fault to the first
successful write started after the last failed one (0: nothing failed).

Settings of the app under test: {settings}. Pool maximum: {limit} backends.
Other statuses are the answers the toolkit gives on purpose: 503 with `Retry-After`
(database unavailable, pool timeout, busy), 504 (statement timeout), and
"no response" while the app process itself was dead.

"""


def _statuses(result: Result) -> str:
    others = {k: v for k, v in sorted(result.statuses.items()) if k not in ("201", "500")}
    return ", ".join(f"{k}: {v}" for k, v in others.items()) or "none"


def write_report(results: list[Result], output: Path) -> None:
    settings = ", ".join(f"`{k}={v}`" for k, v in SETTINGS.items() if k != "APP_ENV")
    lines = [HEADER.format(settings=settings, limit=POOL_LIMIT)]
    lines.append(
        "| Fault | Backend | Acknowledged | Missing | Duplicates | 500s | Other statuses"
        " | Recovery (s) | Peak backends / max | Injected | Result |"
    )
    lines.append("|---|---|---|---|---|---|---|---|---|---|---|")
    for r in results:
        recovery = "never" if r.recovery_s is None else f"{r.recovery_s:.1f}"
        peak = "n/a" if r.peak_backends is None else f"{r.peak_backends} / {POOL_LIMIT}"
        verdict = "; ".join(r.problems) if r.problems else "pass"
        lines.append(
            f"| {r.name} | {r.backend} | {r.acknowledged:,} | {r.missing} | {r.duplicates}"
            f" | {r.statuses.get('500', 0)} | {_statuses(r)} | {recovery} | {peak}"
            f" | {r.note} | {verdict} |"
        )
    stamp = datetime.now(UTC).strftime("%Y-%m-%d")
    lines.append(f"\nLast run: {stamp}, Python {platform.python_version()}, 2 shared cores.\n")
    output.write_text("\n".join(lines))
