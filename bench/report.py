"""Render a run as docs/benchmarks.md (every number) and the README's headline table."""

from __future__ import annotations

import statistics
from dataclasses import dataclass, field
from datetime import datetime

from bench.case_http import CONCURRENCY, HttpMeasured
from bench.harness import Measured, ratio_of
from bench.schema import Backend

__all__ = ["Run", "render", "summary"]


@dataclass
class Run:
    """Everything one `python -m bench` measured."""

    started: datetime
    quick: bool
    settings: dict[str, int]
    env: list[tuple[str, str]]
    backends: list[Backend]
    session: dict[str, list[Measured]] = field(default_factory=dict)
    fetch_all: dict[str, list[Measured]] = field(default_factory=dict)
    fetch_one: dict[str, list[Measured]] = field(default_factory=dict)
    http: dict[str, list[HttpMeasured]] = field(default_factory=dict)
    bulk: dict[str, list[Measured]] = field(default_factory=dict)
    orm_read: dict[str, list[Measured]] = field(default_factory=dict)
    seconds: float = 0.0

    def label(self, key: str) -> str:
        return next(b.label for b in self.backends if b.key == key)


@dataclass
class Target:
    """One target of the issue, checked against this run."""

    text: str
    measured: str
    met: bool


X = "\N{MULTIPLICATION SIGN}"
TO = " \N{EN DASH} "


def _time(seconds: float) -> str:
    if seconds >= 1:
        return f"{seconds:.2f} s"
    if seconds >= 1e-3:
        return f"{seconds * 1e3:.2f} ms"
    return f"{seconds * 1e6:.0f} µs"


def _ms(seconds: float) -> str:
    return f"{seconds * 1e3:.1f} ms"


def _op_table(rows: list[Measured], *, per: int = 0) -> list[str]:
    head = f"| variant | median per op | min{TO}max | {X} baseline (time) | ratio min{TO}max |"
    rule = "|---|---:|---:|---:|---:|"
    if per:
        head, rule = head + " rows/s (median) |", rule + "---:|"
    lines = [head, rule]
    for m in rows:
        cells = [
            m.name + (f" ({m.note})" if m.note else ""),
            _time(m.median),
            f"{_time(min(m.per_op))}{TO}{_time(max(m.per_op))}",
            "**1.00** (baseline)" if m.baseline else f"**{m.ratio:.2f}**",
            "" if m.baseline or not m.ratios else f"{min(m.ratios):.2f}{TO}{max(m.ratios):.2f}",
        ]
        if per:
            cells.append(f"{per / m.median:,.0f}")
        lines.append("| " + " | ".join(cells) + " |")
    return lines


def _http_table(servers: list[HttpMeasured]) -> list[str]:
    lines = [
        f"| server | req/s median (min{TO}max) | req/s vs baseline | p50 | p99 | p99/p50 "
        "| errors |",
        "|---|---:|---:|---:|---:|---:|---:|",
    ]
    for s in servers:
        p50, p99 = statistics.median(s.p50), statistics.median(s.p99)
        ratio = "**1.00** (baseline)" if s.baseline else f"**{s.ratio:.2f}**"
        rps = f"{statistics.median(s.rps):,.0f} ({min(s.rps):,.0f}{TO}{max(s.rps):,.0f})"
        lines.append(
            f"| {s.name} (`{s.target}`) | {rps} | {ratio} | {_ms(p50)} | {_ms(p99)} "
            f"| {p99 / p50:.1f} | {s.errors} |"
        )
    return lines


def _find(rows: list[Measured], prefix: str) -> Measured:
    return next(m for m in rows if m.name.startswith(prefix))


def _peer_targets(case: str, rows: list[Measured], backend: str) -> list[Target]:
    """The toolkit's median at or ahead of each peer measured in the case."""
    toolkit = _find(rows, "toolkit")
    found = []
    for prefix in ("advanced-alchemy", "SQLModel"):
        peer = next((m for m in rows if m.name.startswith(prefix)), None)
        if peer is None:
            continue
        r = statistics.median(ratio_of(toolkit.per_op, peer.per_op))
        text = f"{case}: toolkit at or ahead of {prefix} ({backend})"
        found.append(Target(text, f"{r:.2f}{X} {prefix}'s time", r <= 1.0))
    return found


def targets(run: Run) -> list[Target]:
    """The issue's targets, each with this run's number."""
    found: list[Target] = []
    for key, rows in run.session.items():
        r = _find(rows, "toolkit").ratio
        text = f"1. unit of work within 1.05{X} of bare SQLAlchemy's defaults ({run.label(key)})"
        found.append(Target(text, f"{r:.2f}{X}", r <= 1.05))
        found += _peer_targets("1. unit of work", rows, run.label(key))
    for key, rows in run.orm_read.items():
        r = _find(rows, "toolkit").ratio
        text = f"5. ORM read within 1.1{X} of bare SQLAlchemy ({run.label(key)})"
        found.append(Target(text, f"{r:.2f}{X}", r <= 1.1))
        found += _peer_targets("5. ORM read", rows, run.label(key))
    raw = (("fetch_all", run.fetch_all, 1.25), ("fetch_one", run.fetch_one, 1.5))
    for name, by_backend, limit in raw:
        if "postgres" in by_backend:
            r = _find(by_backend["postgres"], "toolkit").ratio
            text = f"2. `{name}` within {limit}{X} of asyncpg to dicts (Postgres)"
            found.append(Target(text, f"{r:.2f}{X}", r <= limit))
    for key, servers in run.http.items():
        toolkit = servers[0]
        p50, p99 = statistics.median(toolkit.p50), statistics.median(toolkit.p99)
        text = f"3. route req/s at least 1/1.05 of the hand-written route ({run.label(key)})"
        found.append(Target(text, f"{toolkit.ratio:.2f}{X}", toolkit.ratio >= 1 / 1.05))
        text = (
            f"3. zero errors, p99 within 10{X} p50 at {CONCURRENCY} connections ({run.label(key)})"
        )
        measured = f"{toolkit.errors} errors, p99/p50 {p99 / p50:.1f}"
        found.append(Target(text, measured, toolkit.errors == 0 and p99 <= 10 * p50))
    for key, rows in run.bulk.items():
        floor = next(m for m in rows if m.baseline).name.split(" (")[0]
        bulk = _find(rows, "toolkit")
        speed = 1 / bulk.ratio
        text = f"4. `bulk_insert` at least 0.8{X} the rows/s of {floor} ({run.label(key)})"
        found.append(Target(text, f"{speed:.2f}{X}", speed >= 0.8))
        orm = _find(rows, "ORM")
        gain = statistics.median(ratio_of(orm.per_op, bulk.per_op))
        text = f"4. `bulk_insert` at least 10{X} faster than ORM `add_all` ({run.label(key)})"
        found.append(Target(text, f"{gain:.1f}{X}", gain >= 10))
    return found


def render(run: Run) -> str:
    """The full report."""
    s = run.settings
    out = [
        "# Benchmarks",
        "",
        f"Generated by `nox -s bench` (`python -m bench{' --quick' if run.quick else ''}`) on "
        f"{run.started:%Y-%m-%d %H:%M} UTC in {run.seconds / 60:.1f} min. Do not edit by hand.",
        "",
        "**Ratios are the result; absolute times are context.** Within each case the variants",
        "run interleaved (A B C, then C B A, ...) for several rounds; a variant's ratio is the",
        "median over rounds of its time divided by its baseline's time *in the same round*, so",
        "noise from the shared machine mostly cancels. Lower is better for times and ratios of",
        "times; for HTTP higher req/s is better.",
        "",
        "Postgres runs durable (fsync and synchronous_commit on), as in production; SQLite files",
        "run in WAL mode with synchronous=NORMAL, the toolkit's settings, also for the raw floors.",
        "",
        "## Environment",
        "",
        "| | |",
        "|---|---|",
        *(f"| {name} | {value} |" for name, value in run.env),
        "",
        "## Targets",
        "",
        "| target | measured | met |",
        "|---|---:|:---:|",
        *(f"| {t.text} | {t.measured} | {'yes' if t.met else '**no**'} |" for t in targets(run)),
        "",
        "## 1. Per-request unit of work",
        "",
        "Checkout, primary-key get of a user, commit, close: the toolkit's",
        "`get_database().transaction()` (what `Depends(get_session)` runs) against the same",
        "written by hand on a bare `async_sessionmaker` over `create_async_engine(url)` with",
        "SQLAlchemy's defaults (the baseline; no pre-ping), advanced-alchemy's repository and",
        "SQLModel's session as their docs show them, and the raw driver as the floor.",
        f"{s['session_rounds']} rounds {X} {s['session_batch']} operations per variant.",
    ]
    out += ["", "![unit of work](bench-unit-of-work.png)"]
    for key, rows in run.session.items():
        out += ["", f"### {run.label(key)}", "", *_op_table(rows)]
    out += [
        "",
        "## 2. Raw helpers",
        "",
        f"`fetch_all` of 1,000 rows {X} 10 columns and `fetch_one` of one row by key, as dicts,",
        "each in its own transaction (the helpers' default), against the driver's own rows",
        "turned into dicts (the floor) and SQLAlchemy Core `text()` with `.mappings()`.",
        f"{s['raw_rounds']} rounds {X} {s['all_batch']} (fetch_all) or {s['one_batch']} "
        "(fetch_one) operations.",
    ]
    if run.fetch_all:
        out += ["", "![fetch_all](bench-fetch-all.png)"]
    for title, by_backend in (("fetch_all", run.fetch_all), ("fetch_one", run.fetch_one)):
        for key, rows in by_backend.items():
            out += ["", f"### `{title}` — {run.label(key)}", "", *_op_table(rows)]
    out += [
        "",
        "## 3. HTTP: one user by id",
        "",
        "`GET /users/{id}` (ids cycle over 1,000 users), each server a single uvicorn process",
        f"on 127.0.0.1 with the default pool; load from a separate process: {s['http_requests']:,}",
        f"requests per round at a fixed concurrency of {CONCURRENCY} keep-alive connections,",
        f"{s['http_rounds']} rounds after a warm-up. SQLite in memory is left out: each server",
        "process would hold a database of its own.",
    ]
    for key, servers in run.http.items():
        out += ["", f"### {run.label(key)}", "", *_http_table(servers)]
    out += [
        "",
        "## 4. Bulk insert",
        "",
        f"{s['bulk_rows']:,} rows into a table with `TimestampMixin` (five values per row plus",
        "the two timestamps), one transaction per load, the table emptied (and on a SQLite",
        "file the WAL checkpointed) untimed before each. "
        f"{s['bulk_rounds']} rounds; the floor and `bulk_insert`",
        "load three times a round, Core and the ORM once.",
    ]
    if run.bulk:
        out += ["", "![bulk insert](bench-bulk.png)"]
    for key, rows in run.bulk.items():
        out += ["", f"### {run.label(key)}", "", *_op_table(rows, per=s["bulk_rows"])]
    if run.orm_read:
        out += [
            "",
            "## 5. ORM read: 1,000 parents with 5 children each",
            "",
            "`select(Parent).options(selectinload(Parent.children))`, every stack with the",
            "models its users write: the toolkit's (aware UTC datetimes on both backends) in a",
            "read-only unit of work; bare SQLAlchemy's plain declarative models",
            "(`DateTime(timezone=True)`: naive datetimes on SQLite, so less work there);",
            "advanced-alchemy's repository `list` over the toolkit's models; SQLModel's classes.",
            f"{s['orm_rounds']} rounds {X} {s['orm_batch']} reads per variant.",
            "",
            "![ORM read](bench-orm-read.png)",
        ]
        for key, rows in run.orm_read.items():
            out += ["", f"### {run.label(key)}", "", *_op_table(rows)]
    return "\n".join([*out, "", *NOTES]) + "\n"


# Where the time goes, from profiles (cProfile) and round-trip counts; see the tables above.
NOTES = [
    "## Where the time goes",
    "",
    "- **Postgres, per request.** SQLAlchemy's `pool_pre_ping` with asyncpg costs three round",
    "  trips per checkout (BEGIN, ping, ROLLBACK), more than the query it guards. The toolkit",
    "  pings only a connection that rested in the pool for over a second (HikariCP and",
    "  PgBouncer do the same), so a busy pool pays nothing: BEGIN, SELECT, COMMIT remain,",
    "  against one round trip plus asyncpg's reset on release for the raw floor.",
    "- **SQLite, per request.** The toolkit opens every transaction with a real",
    "  `BEGIN IMMEDIATE` (savepoints that roll back, no lost updates); bare SQLAlchemy's",
    "  legacy pysqlite mode sends no BEGIN before a SELECT at all. That is one more trip to",
    "  aiosqlite's thread per request (the toolkit sends it in one trip, not three).",
    "- **SQLite under concurrent load.** Each transaction holds the write lock from BEGIN",
    "  to COMMIT, so requests take turns, where bare SQLAlchemy's reads run side by side.",
    "  The turns are first come, first served inside the process (SQLite's own busy",
    "  handler sleeps and retries without a queue: multi-second tails and 'database is",
    "  locked' errors under load). Closing the remaining throughput gap needs read-only",
    "  sessions that begin DEFERRED.",
    "- **Raw helpers.** Without `session=`, one statement runs on a connection of its own,",
    "  on Postgres in autocommit (a single statement commits or fails atomically by itself,",
    "  so BEGIN and COMMIT are two wasted round trips). What is left over the floor is",
    "  SQLAlchemy's Row objects (about 0.6 µs a row) and the dict per row.",
    "- **Bulk insert.** `bulk_insert` sends COPY (Postgres) or one `executemany` (SQLite)",
    "  through the session's own driver connection; values are converted column by column",
    "  with each type's bind processor, and a value shared by every row (a default, the",
    "  call's timestamp) is converted once.",
]


def summary(run: Run) -> str:
    """A short README section: the headline ratios of this run."""
    lines = [
        "## Benchmarks",
        "",
        "Measured side by side in one run (`nox -s bench`; every number and the machine in",
        "[docs/benchmarks.md](docs/benchmarks.md)). Ratios, not absolute times, are the result.",
        "",
        "| target | measured | met |",
        "|---|---:|:---:|",
        *(f"| {t.text} | {t.measured} | {'yes' if t.met else 'no'} |" for t in targets(run)),
    ]
    return "\n".join(lines) + "\n"
