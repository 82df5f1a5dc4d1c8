"""`python -m bench [--quick]`: run every case on every backend and write docs/benchmarks.md.

Postgres: the server in TEST_DATABASE_URL when it is a Postgres URL (e.g. under
`python -m core.database.testing postgres --durable -- python -m bench`), else a
throwaway durable cluster (fsync on) started here and removed afterwards.
"""

from __future__ import annotations

import argparse
import asyncio
import os
import sys
import tempfile
import time
from contextlib import ExitStack
from datetime import UTC, datetime
from pathlib import Path

from bench import case_bulk, case_http, case_orm_read, case_raw, case_session
from bench.drivers import drivers
from bench.environment import describe
from bench.report import Run, render, summary
from bench.schema import Backend
from bench.sections import carry_sections
from core.database import parse_database_url
from core.database.testing.guard import check_test_database
from core.database.testing.postgres import throwaway_postgres

ROOT = Path(__file__).resolve().parent.parent
BACKENDS = ("sqlite-file", "sqlite-memory", "postgres")
FULL = {
    "session_rounds": 7,
    "session_batch": 200,
    "raw_rounds": 7,
    "all_batch": 20,
    "one_batch": 200,
    "http_rounds": 3,
    "http_requests": 4000,
    "http_warmup": 500,
    "bulk_rounds": 3,
    "bulk_rows": 100_000,
    "orm_rounds": 7,
    "orm_batch": 5,
}
QUICK = {
    "session_rounds": 2,
    "session_batch": 30,
    "raw_rounds": 2,
    "all_batch": 3,
    "one_batch": 30,
    "http_rounds": 1,
    "http_requests": 500,
    "http_warmup": 100,
    "bulk_rounds": 1,
    "bulk_rows": 5_000,
    "orm_rounds": 2,
    "orm_batch": 1,
}


def _say(message: str) -> None:
    print(f"[bench] {message}", file=sys.stderr, flush=True)


async def _run_backend(run: Run, backend: Backend, cases: set[str]) -> None:
    s = run.settings
    async with drivers(backend) as d:
        if backend.dialect == "postgresql":
            for setting in ("server_version", "fsync", "synchronous_commit"):
                value = await d.pg.fetchval(f"SHOW {setting}")
                run.env.insert(-3, (f"PostgreSQL {setting}", str(value)))
        if "1" in cases:
            _say(f"{backend.label}: 1. per-request unit of work")
            rounds, batch = s["session_rounds"], s["session_batch"]
            run.session[backend.key] = await case_session.run(d, rounds=rounds, batch=batch)
        if "2" in cases:
            _say(f"{backend.label}: 2. raw helpers")
            rounds = s["raw_rounds"]
            run.fetch_all[backend.key] = await case_raw.run_all(
                d, rounds=rounds, batch=s["all_batch"]
            )
            run.fetch_one[backend.key] = await case_raw.run_one(
                d, rounds=rounds, batch=s["one_batch"]
            )
        if "3" in cases and not backend.memory:
            _say(f"{backend.label}: 3. HTTP (servers in their own processes)")
            run.http[backend.key] = await asyncio.to_thread(
                case_http.run,
                backend,
                requests=s["http_requests"],
                rounds=s["http_rounds"],
                warmup=s["http_warmup"],
            )
        if "5" in cases:
            _say(f"{backend.label}: 5. ORM read with selectinload")
            run.orm_read[backend.key] = await case_orm_read.run(
                d, rounds=s["orm_rounds"], batch=s["orm_batch"]
            )
        if "4" in cases:
            _say(f"{backend.label}: 4. bulk insert of {s['bulk_rows']:,} rows")
            run.bulk[backend.key] = await case_bulk.run(
                d, rows=s["bulk_rows"], rounds=s["bulk_rounds"]
            )


def main(argv: list[str] | None = None) -> int:
    """Parse the arguments, run the cases, write the reports."""
    parser = argparse.ArgumentParser(prog="python -m bench", description=__doc__)
    parser.add_argument("--quick", action="store_true", help="a fast smoke run (few rounds)")
    parser.add_argument("--cases", default="1,2,3,4,5", help="which cases (default: all five)")
    parser.add_argument("--backends", default=",".join(BACKENDS), help="default: all three")
    parser.add_argument("--out", type=Path, default=ROOT / "docs" / "benchmarks.md")
    parser.add_argument(
        "--readme", type=Path, default=ROOT / "README.md", help="gets the headline table"
    )
    args = parser.parse_args(argv)
    cases = set(args.cases.split(","))
    keys = [key for key in args.backends.split(",") if key]
    unknown = set(keys) - set(BACKENDS)
    if unknown:
        parser.error(f"unknown backend(s) {sorted(unknown)}; choose from {BACKENDS}")
    began = time.monotonic()
    run = Run(datetime.now(UTC), args.quick, QUICK if args.quick else FULL, describe({}), [])
    with ExitStack() as stack:
        folder = Path(stack.enter_context(tempfile.TemporaryDirectory(prefix="bench-")))
        for key in keys:
            if key == "sqlite-file":
                url = f"sqlite+aiosqlite:///{folder / 'bench.db'}"
                run.backends.append(Backend(key, "SQLite file", url))
            elif key == "sqlite-memory":
                run.backends.append(Backend(key, "SQLite memory", "sqlite+aiosqlite:///:memory:"))
            else:
                given = _given_postgres()
                url = given or stack.enter_context(throwaway_postgres(database="bench", fast=False))
                run.backends.append(Backend(key, "Postgres", url))
        for backend in run.backends:
            asyncio.run(_run_backend(run, backend, cases))
    run.seconds = time.monotonic() - began
    args.out.parent.mkdir(parents=True, exist_ok=True)
    _draw_charts(run, args.out.parent)
    previous = args.out.read_text() if args.out.exists() else ""
    args.out.write_text(carry_sections(previous, render(run)))
    _replace_between_markers(args.readme, summary(run))
    _say(f"wrote {args.out} and the headlines in {args.readme} in {run.seconds / 60:.1f} min")
    return 0


CHARTS = {
    "bench-unit-of-work.png": ("1. Per-request unit of work", "session"),
    "bench-fetch-all.png": ("2. fetch_all: 1,000 rows as dicts", "fetch_all"),
    "bench-bulk.png": ("4. Bulk insert", "bulk"),
    "bench-orm-read.png": ("5. ORM read, 1,000 x 5 (selectinload)", "orm_read"),
    "bench-http.png": ("3. HTTP GET /users/{id}, 50 connections", "http"),
}


def _draw_charts(run: Run, folder: Path) -> None:
    """A PNG per case measured, beside the report (skipped, with a note, without matplotlib)."""
    try:
        from bench.charts import draw_case
    except ImportError:  # pragma: no cover - the bench session installs it
        _say("matplotlib is not installed: no charts")
        return
    labels = {b.key: b.label for b in run.backends}
    for name, (title, attribute) in CHARTS.items():
        by_backend = getattr(run, attribute)
        if by_backend:
            xlabel = "req/s x baseline (higher is better)" if attribute == "http" else None
            if xlabel:
                draw_case(folder / name, title, by_backend, labels, xlabel)
            else:
                draw_case(folder / name, title, by_backend, labels)


def _given_postgres() -> str | None:
    """TEST_DATABASE_URL when it names a Postgres test database (the bench drops tables)."""
    raw = os.environ.get("TEST_DATABASE_URL", "")
    if not raw or parse_database_url(raw).get_backend_name() != "postgresql":
        return None
    return check_test_database(raw).render_as_string(hide_password=False)


def _replace_between_markers(path: Path, content: str) -> None:
    # Only the generated part of the README changes; the prose around it is kept.
    begin, end = "<!-- benchmarks:begin -->", "<!-- benchmarks:end -->"
    text = path.read_text()
    head, found, rest = text.partition(begin)
    _, found_end, tail = rest.partition(end)
    if not (found and found_end):
        raise SystemExit(f"{path} lacks the {begin} ... {end} markers")
    path.write_text(f"{head}{begin}\n{content.strip()}\n{end}{tail}")


if __name__ == "__main__":
    raise SystemExit(main())
