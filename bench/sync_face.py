"""`python -m bench.sync_face [--quick]`: the sync face against hand-written sync code.

Writes its section of docs/benchmarks.md (bench.sections: `python -m bench` keeps it).
Cases, each on a SQLite file, in-memory SQLite and a durable Postgres, interleaved
and compared within the same round:

    fetch_all   1,000 rows x 10 columns as dicts: toolkit vs the raw driver (sqlite3,
                psycopg) to dicts (baseline) vs Core `text()` `.mappings()`
    fetch_one   one row by key, the same three
    session     checkout, primary-key get, commit: `transaction()` vs a bare sessionmaker
    route       a `def` FastAPI route on SyncSessionDep vs the same on a hand-written
                dependency, called in-process over ASGI (httpx)
"""

from __future__ import annotations

import argparse
import asyncio
import os
import sqlite3
import statistics
import sys
import tempfile
import time
from collections.abc import Awaitable, Callable, Iterator
from contextlib import ExitStack, contextmanager
from dataclasses import dataclass
from datetime import UTC, datetime
from itertools import cycle
from pathlib import Path
from typing import Any, cast

import httpx
import psycopg
from fastapi import Depends, FastAPI
from psycopg.rows import dict_row
from sqlalchemy import MetaData, Table, create_engine, event, text
from sqlalchemy.engine import Engine
from sqlalchemy.orm import Session, sessionmaker
from sqlalchemy.pool import StaticPool

from app.models import User
from bench.harness import Measured, Variant, interleave, ratio_of
from bench.report import X, _op_table
from bench.schema import USERS, WIDE_COLUMNS, WIDE_ROWS, Wide, user_rows, wide_rows
from bench.sections import write_section
from core.database.sync import SyncDatabase, SyncSessionDep, fetch_all, fetch_one
from core.database.sync import set_sync_database as install
from core.database.testing.guard import check_test_database
from core.database.testing.postgres import throwaway_postgres
from core.database.url import parse_database_url, sync_database_url

ROOT = Path(__file__).resolve().parent.parent
SECTION = "sync-face"  # its part of docs/benchmarks.md (bench.sections)
ALL_SQL = f"SELECT {WIDE_COLUMNS} FROM bench_wide"
ONE_SQL = f"SELECT {WIDE_COLUMNS} FROM bench_wide WHERE id = :id"
SESSION_TARGET = 1.05
SAME_WORK = "bare `sessionmaker`, real SQLite transactions"
SAME_WORK_NOTE = "SQLAlchemy's documented recipe: BEGIN IMMEDIATE from a `begin` listener"
FULL = {"rounds": 7, "all": 20, "one": 300, "session": 300, "route": 300}
QUICK = {"rounds": 2, "all": 3, "one": 30, "session": 30, "route": 30}


@dataclass
class Result:
    label: str
    cases: dict[str, list[Measured]]


def _say(message: str) -> None:
    print(f"[bench.sync_face] {message}", file=sys.stderr, flush=True)


def _measure(variants: list[Variant], rounds: int, batch: int) -> list[Measured]:
    return asyncio.run(interleave(variants, rounds=rounds, batch=batch, warmup=3))


def _variant(
    name: str, op: Callable[[], Any], *, baseline: bool = False, note: str = ""
) -> Variant:
    async def run() -> None:
        op()  # the sync call itself; the coroutine wrapper costs every variant the same

    return Variant(name, run, baseline=baseline, note=note)


def _seed(engine: Engine) -> None:
    metadata = MetaData()
    for model in (User, Wide):
        cast(Table, model.__table__).to_metadata(metadata)
    with engine.begin() as connection:
        metadata.drop_all(connection)
        metadata.create_all(connection)
        connection.execute(metadata.tables["users"].insert(), user_rows())
        connection.execute(metadata.tables["bench_wide"].insert(), wide_rows())


@contextmanager
def _raw_driver(
    url: str, memory_engine: Engine | None
) -> Iterator[Callable[..., list[dict[str, Any]]]]:
    """The raw driver's query-to-dicts: one connection held open, as a pool would."""
    parsed = sync_database_url(url)
    if parsed.get_backend_name() == "postgresql":
        dsn = parsed.set(drivername="postgresql").render_as_string(hide_password=False)
        with psycopg.connect(dsn, autocommit=True, row_factory=dict_row) as pg:

            def pg_query(sql: str, *params: Any) -> list[dict[str, Any]]:
                return pg.execute(sql.replace("?", "%s"), params).fetchall()

            yield pg_query
        return
    if memory_engine is not None:
        proxy = memory_engine.raw_connection()  # StaticPool: the one connection, kept open
        lite = cast(sqlite3.Connection, proxy.driver_connection)
    else:
        lite = sqlite3.connect(parsed.database or "", isolation_level=None)
        lite.execute("PRAGMA journal_mode=WAL")
        lite.execute("PRAGMA synchronous=NORMAL")

    def lite_query(sql: str, *params: Any) -> list[dict[str, Any]]:
        cursor = lite.execute(sql, params)
        keys = [column[0] for column in cursor.description]
        return [dict(zip(keys, row, strict=True)) for row in cursor.fetchall()]

    yield lite_query


@contextmanager
def _recipe_engine(url: str, memory: bool) -> Iterator[Engine]:
    """A bare engine that gives SQLite real transactions, as SQLAlchemy's docs show.

    On its defaults pysqlite sends no BEGIN before a SELECT: a read runs outside any
    transaction, and COMMIT has nothing to end. The documented recipe turns the
    driver's own transaction handling off and sends BEGIN from a `begin` listener;
    IMMEDIATE here, as the toolkit does (a writer takes the lock at BEGIN).
    """
    engine = _bare_engine(url)

    @event.listens_for(engine, "connect")
    def _no_driver_transactions(dbapi_connection: Any, _record: Any) -> None:
        dbapi_connection.isolation_level = None

    @event.listens_for(engine, "begin")
    def _begin(connection: Any) -> None:
        connection.exec_driver_sql("BEGIN IMMEDIATE")

    if memory:
        _seed(engine)
    try:
        yield engine
    finally:
        engine.dispose()


def _bare_engine(url: str) -> Engine:
    parsed = sync_database_url(url)
    if parsed.get_backend_name() == "sqlite" and not parsed.database:
        return create_engine(
            parsed, poolclass=StaticPool, connect_args={"check_same_thread": False}
        )
    return create_engine(parsed)


def _apps(bare: sessionmaker[Session]) -> tuple[FastAPI, FastAPI]:
    toolkit, by_hand = FastAPI(), FastAPI()

    @toolkit.get("/users/{user_id}")
    def toolkit_route(user_id: int, session: SyncSessionDep) -> dict[str, Any]:
        user = session.get(User, user_id)
        return {"id": user.id if user else None}

    def bare_session() -> Iterator[Session]:
        with bare() as session, session.begin():
            yield session

    @by_hand.get("/users/{user_id}")
    def by_hand_route(
        user_id: int,
        session: Session = Depends(bare_session),  # noqa: B008 - a local dependency
    ) -> dict[str, Any]:
        user = session.get(User, user_id)
        return {"id": user.id if user else None}

    return toolkit, by_hand


async def _routes(
    toolkit: FastAPI, by_hand: FastAPI, users: Iterator[int], rounds: int, batch: int
) -> list[Measured]:
    """Both apps called in-process over ASGI; FastAPI runs the `def` routes in its threads."""
    async with (
        httpx.AsyncClient(transport=httpx.ASGITransport(app=toolkit), base_url="http://t") as a,
        httpx.AsyncClient(transport=httpx.ASGITransport(app=by_hand), base_url="http://t") as b,
    ):

        def call(client: httpx.AsyncClient) -> Callable[[], Awaitable[None]]:
            async def request() -> None:
                response = await client.get(f"/users/{next(users)}")
                assert response.status_code == 200, response.text

            return request

        variants = [
            Variant(
                "hand-written `def` route (baseline)",
                call(b),
                baseline=True,
                note="its commit runs after the response",
            ),
            Variant("`def` route on `SyncSessionDep`", call(a)),
        ]
        return await interleave(variants, rounds=rounds, batch=batch, warmup=10)


def run_backend(label: str, url: str, s: dict[str, int]) -> Result:
    """Every case on one database."""
    rounds = s["rounds"]
    db = SyncDatabase(url)
    previous = install(db)
    memory = db.dialect == "sqlite" and not db.url.database
    # In memory, the bare engine (a StaticPool) and the raw driver share a second copy
    # of the rows: the toolkit's pool of one holds its own database.
    bare = _bare_engine(url)
    _seed(db.engine)
    if memory:
        _seed(bare)
    cases: dict[str, list[Measured]] = {}
    stack = ExitStack()
    try:
        with _raw_driver(url, bare if memory else None) as raw:
            ids = cycle(range(1, WIDE_ROWS + 1))
            core_all, core_one = text(ALL_SQL), text(ONE_SQL)

            def core_fetch_all() -> None:
                with bare.connect() as connection:
                    [dict(row) for row in connection.execute(core_all).mappings()]

            def core_fetch_one() -> None:
                with bare.connect() as connection:
                    connection.execute(core_one, {"id": next(ids)}).mappings().first()

            raw_one = ALL_SQL + " WHERE id = ?"
            _say(f"{label}: fetch_all")
            cases["fetch_all"] = _measure(
                [
                    _variant("raw driver → dicts (baseline)", lambda: raw(ALL_SQL), baseline=True),
                    _variant("toolkit sync `fetch_all`", lambda: fetch_all(ALL_SQL)),
                    _variant("Core `text()` `.mappings()`", core_fetch_all, note="bare engine"),
                ],
                rounds,
                s["all"],
            )
            _say(f"{label}: fetch_one")
            cases["fetch_one"] = _measure(
                [
                    _variant(
                        "raw driver → dict (baseline)",
                        lambda: raw(raw_one, next(ids)),
                        baseline=True,
                    ),
                    _variant(
                        "toolkit sync `fetch_one`", lambda: fetch_one(ONE_SQL, {"id": next(ids)})
                    ),
                    _variant(
                        "Core `text()` `.mappings().first()`", core_fetch_one, note="bare engine"
                    ),
                ],
                rounds,
                s["one"],
            )
        users = cycle(range(1, USERS + 1))
        bare_sessions = sessionmaker(bare, expire_on_commit=False)

        def toolkit_session() -> None:
            with db.transaction() as session:
                session.get(User, next(users))

        def bare_session() -> None:
            with bare_sessions() as session, session.begin():
                session.get(User, next(users))

        variants = [
            _variant("bare `sessionmaker` (baseline)", bare_session, baseline=True),
            _variant("toolkit sync `transaction()`", toolkit_session),
        ]
        if db.dialect == "sqlite":
            recipe = stack.enter_context(_recipe_engine(url, memory))
            recipe_sessions = sessionmaker(recipe, expire_on_commit=False)

            def recipe_session() -> None:
                with recipe_sessions() as session, session.begin():
                    session.get(User, next(users))

            variants.append(_variant(SAME_WORK, recipe_session, note=SAME_WORK_NOTE))
        _say(f"{label}: session")
        cases["session"] = _measure(variants, rounds, s["session"])
        _say(f"{label}: route")
        cases["route"] = asyncio.run(_routes(*_apps(bare_sessions), users, rounds, s["route"]))
    finally:
        stack.close()
        install(previous)
        db.dispose()
        bare.dispose()
    return Result(label, cases)


TARGETS = (
    (
        "fetch_all",
        "toolkit sync `fetch_all`",
        1.25,
        f"sync `fetch_all` within 1.25{X} of the raw driver to dicts",
    ),
    (
        "fetch_one",
        "toolkit sync `fetch_one`",
        1.5,
        f"sync `fetch_one` within 1.5{X} of the raw driver to a dict",
    ),
    (
        "session",
        "toolkit sync `transaction()`",
        SESSION_TARGET,
        f"sync session within 1.05{X} of a bare sync `sessionmaker`",
    ),
    (
        "route",
        "`def` route on `SyncSessionDep`",
        1.05,
        f"sync route within 1.05{X} of a hand-written `def` route",
    ),
)


def render(results: list[Result], quick: bool, seconds: float) -> str:
    out = [
        "## Sync face",
        "",
        "Generated by `nox -s bench-sync` "
        f"(`python -m bench.sync_face{' --quick' if quick else ''}`)"
        f" on {datetime.now(UTC):%Y-%m-%d %H:%M} UTC in {seconds / 60:.1f} min; same method as",
        "above (interleaved rounds, paired ratios, medians). The sync face runs on sqlite3 and",
        "psycopg 3; its baselines are the same drivers used directly, and a bare sync engine.",
        "",
        "| target | measured | met |",
        "|---|---:|:---:|",
    ]
    for case, name, limit, wording in TARGETS:
        for result in results:
            measured = next(m for m in result.cases[case] if m.name == name)
            met = "yes" if measured.ratio <= limit else "**no**"
            out.append(f"| {wording} ({result.label}) | {measured.ratio:.2f}{X} | {met} |")
    for result in results:
        ratio = _same_work_ratio(result)
        met = "yes" if ratio <= SESSION_TARGET else "**no**"
        out.append(
            f"| sync session within {SESSION_TARGET}{X} of bare sync SQLAlchemy doing the same"
            f" work ({result.label}) | {ratio:.2f}{X} | {met} |"
        )
    out += [
        "",
        "The same work: on Postgres, psycopg begins a transaction before the first statement",
        "on its defaults, so the bare `sessionmaker` is the like-for-like baseline. On SQLite",
        "pysqlite's defaults send no BEGIN before a SELECT: the baseline's read runs outside",
        "any transaction and its COMMIT ends nothing, where the toolkit's unit takes the",
        "write turn and runs BEGIN IMMEDIATE ... COMMIT. The same-work row compares with a",
        "bare engine given real transactions by SQLAlchemy's documented recipe (a `begin`",
        "listener sending BEGIN IMMEDIATE); the row above it keeps the defaults.",
    ]
    for case in ("fetch_all", "fetch_one", "session", "route"):
        for result in results:
            out += ["", f"### Sync {case}, {result.label}", "", *_op_table(result.cases[case])]
    return "\n".join(out)


def _same_work_ratio(result: Result) -> float:
    """Toolkit session / the bare session doing the same transaction work, paired by round."""
    session = result.cases["session"]
    toolkit = next(m for m in session if m.name == "toolkit sync `transaction()`")
    same = next((m for m in session if m.name == SAME_WORK), None)
    if same is None:
        return toolkit.ratio  # Postgres: the bare baseline already runs real transactions
    return statistics.median(ratio_of(toolkit.per_op, same.per_op))


def _given_postgres() -> str | None:
    """TEST_DATABASE_URL when it names a Postgres test database (the bench drops tables)."""
    raw = os.environ.get("TEST_DATABASE_URL", "")
    if not raw or parse_database_url(raw).get_backend_name() != "postgresql":
        return None
    return check_test_database(raw).render_as_string(hide_password=False)


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(prog="python -m bench.sync_face", description=__doc__)
    parser.add_argument("--quick", action="store_true", help="a fast smoke run (few rounds)")
    parser.add_argument("--out", type=Path, default=ROOT / "docs" / "benchmarks.md")
    args = parser.parse_args(argv)
    settings = QUICK if args.quick else FULL
    began = time.monotonic()
    results = []
    with ExitStack() as stack:
        folder = Path(stack.enter_context(tempfile.TemporaryDirectory(prefix="bench-sync-")))
        postgres = _given_postgres() or stack.enter_context(
            throwaway_postgres(database="bench", fast=False)
        )
        for label, url in (
            ("SQLite file", f"sqlite:///{folder / 'bench.db'}"),
            ("SQLite memory", "sqlite://"),
            ("Postgres", postgres),
        ):
            results.append(run_backend(label, url, settings))
    write_section(args.out, SECTION, render(results, args.quick, time.monotonic() - began))
    _say(f"wrote the sync section of {args.out}")
    return 0


if __name__ == "__main__":
    raise SystemExit(main())
