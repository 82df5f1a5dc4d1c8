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
    churn = any(s.connections_opened for s in servers)
    lines = [
        f"| server | req/s median (min{TO}max) | req/s vs baseline | ratio min{TO}max | p50 | p99 "
        "| p99/p50 | errors |" + (" connections opened per round |" if churn else ""),
        "|---|---:|---:|---:|---:|---:|---:|---:|" + ("---:|" if churn else ""),
    ]
    for s in servers:
        p50, p99 = statistics.median(s.p50), statistics.median(s.p99)
        ratio = "**1.00** (baseline)" if s.baseline else f"**{s.ratio:.2f}**"
        spread = "" if s.baseline else f"{min(s.ratios):.2f}{TO}{max(s.ratios):.2f}"
        rps = f"{statistics.median(s.rps):,.0f} ({min(s.rps):,.0f}{TO}{max(s.rps):,.0f})"
        line = (
            f"| {s.name} (`{s.target.split(':')[1]}`) | {rps} | {ratio} | {spread} | {_ms(p50)} "
            f"| {_ms(p99)} | {p99 / p50:.1f} | {s.errors} |"
        )
        if churn:
            opened = s.connections_opened
            line += f" {statistics.median(opened):,.0f} |" if opened else " |"
        lines.append(line)
    return lines


def _server(servers: list[HttpMeasured], app: str) -> HttpMeasured:
    return next(s for s in servers if s.target.endswith(f":{app}"))


def _http_targets(run: Run, key: str, servers: list[HttpMeasured]) -> list[Target]:
    label = run.label(key)
    found = []
    # Reads by the read-only unit on SQLite (side by side), by the unit of work elsewhere.
    reads = _server(servers, "toolkit_read_app")
    r = reads.ratio
    text = f"3. HTTP GET at least 1.0{X} bare SQLAlchemy's req/s, read-only unit ({label})"
    found.append(Target(text, f"{r:.2f}{X}", r >= 1.0))
    unit = _server(servers, "toolkit_app")
    text = f"3. HTTP GET, `Depends(get_session)`, vs bare SQLAlchemy ({label})"
    found.append(Target(text, f"{unit.ratio:.2f}{X}", unit.ratio >= 1.0))
    raw, driver = _server(servers, "toolkit_raw_app"), _server(servers, "raw_driver_app")
    r = statistics.median(a / b for a, b in zip(raw.rps, driver.rps, strict=True))
    text = f"3. raw-helper route at least 0.6{X} the raw driver route's req/s ({label})"
    found.append(Target(text, f"{r:.2f}{X}", r >= 0.6))
    for peer_app, peer in (
        ("advanced_alchemy_app", "advanced-alchemy"),
        ("sqlmodel_app", "SQLModel"),
    ):
        other = _server(servers, peer_app)
        r = statistics.median(a / b for a, b in zip(unit.rps, other.rps, strict=True))
        text = f"3. HTTP GET: `Depends(get_session)` at or ahead of {peer} ({label})"
        found.append(Target(text, f"{r:.2f}{X} its req/s", r >= 1.0))
    for server in (unit, reads, raw):
        p50, p99 = statistics.median(server.p50), statistics.median(server.p99)
        text = f"3. p99 within 5{X} p50 at {CONCURRENCY} connections, {server.name} ({label})"
        measured = f"{p99 / p50:.1f}, {server.errors} errors"
        found.append(Target(text, measured, server.errors == 0 and p99 <= 5 * p50))
    return found


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
    raw = (("fetch_all", run.fetch_all, 1.1), ("fetch_one", run.fetch_one, 1.5))
    for name, by_backend, limit in raw:
        for key, rows in by_backend.items():
            r = _find(rows, "toolkit").ratio
            text = f"2. `{name}` within {limit}{X} of the driver to dicts ({run.label(key)})"
            found.append(Target(text, f"{r:.2f}{X}", r <= limit))
    for key, servers in run.http.items():
        found += _http_targets(run, key, servers)
    for key, rows in run.bulk.items():
        floor = next(m for m in rows if m.baseline).name.split(" (")[0]
        bulk = _find(rows, "toolkit")
        speed = 1 / bulk.ratio
        text = f"4. `bulk_insert` at least 0.8{X} the rows/s of {floor} ({run.label(key)})"
        found.append(Target(text, f"{speed:.2f}{X}", speed >= 0.8))
        by_hand = _find(rows, "hand-written Core")
        gain = statistics.median(ratio_of(by_hand.per_op, bulk.per_op))
        text = f"4. `bulk_insert` faster than hand-written Core `insert()` ({run.label(key)})"
        found.append(Target(text, f"{gain:.1f}{X}", gain >= 1))
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
        "`GET /users/{id}` (ids cycle over 1,000 users) on every stack, each server a single",
        "uvicorn process on 127.0.0.1 with its stack's default pool: the toolkit in a unit of",
        "work, in a read-only unit and through the raw helper `fetch_one`; bare SQLAlchemy",
        "on its defaults (the baseline); advanced-alchemy's repository; SQLModel's session;",
        "the raw driver; no database. Load from a separate process:",
        f"{s['http_requests']:,} requests per round at a fixed concurrency of {CONCURRENCY}",
        f"keep-alive connections, {s['http_rounds']} rounds after a warm-up, servers in turn",
        "(reversed every other round). On Postgres the last column counts the sessions the",
        "server opened during a round (`pg_stat_database.sessions`): a pool that churns",
        "connects anew under load. SQLite in memory is left out: each server process would",
        "hold a database of its own.",
    ]
    if run.http:
        out += ["", "![HTTP](bench-http.png)"]
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
        "load three times a round, Core and the ORM once. Core runs twice: through the",
        "toolkit's model (its types convert each value) and hand-written on a plain `Table`",
        "over bare SQLAlchemy's engine, the baseline a user would write without the toolkit.",
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
    "  PgBouncer do the same), so a busy pool pays nothing. The baseline here runs without",
    "  pre-ping, SQLAlchemy's default: BEGIN, SELECT, COMMIT on both sides.",
    "- **SQLite, per request.** aiosqlite runs every call on a thread of its own, each call a",
    "  trip through the event loop. SQLAlchemy's adapter makes four per statement (open a",
    "  cursor, execute, fetch, close) and one per COMMIT, and the pool adds a ROLLBACK when",
    "  the connection comes back. The toolkit runs a statement in one trip after the cursor",
    "  opens, sends its `BEGIN IMMEDIATE` in that same trip, and skips the pool's ROLLBACK",
    "  after its own COMMIT: three trips for a unit of work that reads one row, where bare",
    "  SQLAlchemy makes six, with no BEGIN at all (pysqlite's legacy mode sends none",
    "  before a SELECT: no real transaction). What remains is Python: the ORM, and the",
    "  toolkit's rules (turns, error tracking), which run inside the dialect's own calls.",
    "- **No connection events.** An engine with any connection-event listener (`begin`,",
    "  `commit`, `before_cursor_execute`, ...) dispatches every statement and transaction",
    "  through a dispatcher joined per connection: about 25 µs per one-row unit of work,",
    "  measured with a listener that does nothing. The toolkit installs none (its rules",
    "  wrap the dialect's `do_begin`, `do_execute`, `do_commit`, ...), and `on_commit`",
    "  listens only on a session that registered a callback.",
    "- **SQLite under concurrent load.** A unit of work holds the write lock from BEGIN to",
    "  COMMIT, so units take turns (first come, first served; SQLite's busy handler alone",
    "  gives multi-second tails and 'database is locked'). A read-only unit",
    "  (`ReadSessionDep`, `read_transaction()`) begins DEFERRED outside the turn: reads run",
    "  side by side in WAL, each on one snapshot.",
    "- **Raw helpers.** Without `session=`, a SQL string runs on the driver path: compiled",
    "  once per dialect, one pooled driver connection, in autocommit (one statement commits",
    "  or fails atomically by itself), rows as the driver gives them turned straight into",
    "  dicts. On SQLite it is one trip to aiosqlite's thread where the floor here makes two,",
    "  hence ratios below 1. Writes on SQLite, PgBouncer, typed SQL and engines someone",
    "  watches (echo, cursor listeners) take the engine's path.",
    "- **ORM reads.** Aware UTC datetimes on SQLite are parsed and marked UTC in one step",
    "  (about the cost of a plain `DateTime`); SQLModel and bare SQLAlchemy return naive",
    "  datetimes there, so they do a little less.",
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
