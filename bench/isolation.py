"""Per-test cost of test isolation: SAVEPOINT fixture vs create/drop vs TRUNCATE, both backends.

``python -m bench.isolation`` (``nox -s bench-isolation``) writes docs/isolation-benchmark.md.
A measurement, never a test: nothing here asserts a speed.

Every simulated test does the same unit of work on a 5-table schema (a commit of 7 rows,
then a count) inside one isolation strategy:

    savepoint    the plugin's fixture: an outer transaction, commit() releases a SAVEPOINT
    truncate     TRUNCATE ... RESTART IDENTITY CASCADE after the test (SQLite: DELETE FROM)
    create_drop  metadata.create_all before the test, drop_all after
    none         the work alone, not isolated: the floor the others are compared against

Strategies take turns test by test (one cycle runs each once, in a rotating order), so a
noisy neighbour hits them alike; the table shows medians over the cycles.
"""

from __future__ import annotations

import argparse
import asyncio
import platform
import sqlite3
import statistics
import time
from contextlib import AsyncExitStack
from dataclasses import dataclass
from pathlib import Path

import sqlalchemy
from sqlalchemy import Column, ForeignKey, String, Table, func, select, text
from sqlalchemy.ext.asyncio import AsyncSession
from sqlalchemy.orm import Mapped, mapped_column, relationship

from core.database import Base, Database, IntIdMixin, TimestampMixin, new_metadata
from core.database.testing import check_test_database, rollback_after, throwaway_postgres

OUTPUT = Path(__file__).resolve().parents[1] / "docs" / "isolation-benchmark.md"
STRATEGIES = ("savepoint", "truncate", "create_drop", "none")
WITH_SCHEMA = ("savepoint", "truncate", "none")  # the strategies that expect the tables
LABELS = {
    "savepoint": "SAVEPOINT fixture (the plugin)",
    "truncate": "TRUNCATE per test",
    "create_drop": "create_all/drop_all per test",
    "none": "no isolation (the work alone)",
}


class BenchBase(Base):
    __abstract__ = True
    metadata = new_metadata()


post_tags = Table(
    "bench_post_tags",
    BenchBase.metadata,
    Column("post_id", ForeignKey("bench_posts.id", ondelete="CASCADE"), primary_key=True),
    Column("tag_id", ForeignKey("bench_tags.id", ondelete="CASCADE"), primary_key=True),
)


class Author(IntIdMixin, TimestampMixin, BenchBase):
    __tablename__ = "bench_authors"
    name: Mapped[str] = mapped_column(String(100), unique=True)


class Post(IntIdMixin, TimestampMixin, BenchBase):
    __tablename__ = "bench_posts"
    author_id: Mapped[int] = mapped_column(ForeignKey("bench_authors.id"), index=True)
    title: Mapped[str] = mapped_column(String(200))
    tags: Mapped[list[Tag]] = relationship(secondary=post_tags)


class Comment(IntIdMixin, TimestampMixin, BenchBase):
    __tablename__ = "bench_comments"
    post_id: Mapped[int] = mapped_column(ForeignKey("bench_posts.id"), index=True)
    text: Mapped[str]


class Tag(IntIdMixin, BenchBase):
    __tablename__ = "bench_tags"
    name: Mapped[str] = mapped_column(String(50), unique=True)


METADATA = BenchBase.metadata


async def work(session: AsyncSession, n: int) -> None:
    """What one test does: write a small object graph, commit, read it back."""
    author = Author(name=f"author {n}")
    session.add(author)
    await session.flush()
    post = Post(author_id=author.id, title="hello", tags=[Tag(name=f"tag {n}")])
    session.add(post)
    await session.flush()
    session.add_all([Comment(post_id=post.id, text="first"), Comment(post_id=post.id, text="2")])
    await session.commit()
    await session.scalar(select(func.count()).select_from(Comment))


async def _create(db: Database) -> None:
    async with db.engine.begin() as connection:
        await connection.run_sync(METADATA.create_all)


async def _drop(db: Database) -> None:
    async with db.engine.begin() as connection:
        await connection.run_sync(METADATA.drop_all)


async def _empty(db: Database) -> None:
    async with db.engine.begin() as connection:
        if db.dialect == "postgresql":
            names = ", ".join(table.name for table in METADATA.sorted_tables)
            await connection.execute(text(f"TRUNCATE {names} RESTART IDENTITY CASCADE"))
        else:
            for table in reversed(METADATA.sorted_tables):
                await connection.execute(table.delete())


@dataclass
class Timing:
    """Seconds spent in one test: in its isolation (setup + teardown) and in total."""

    fixture: float = 0.0
    total: float = 0.0


async def one_test(db: Database, strategy: str, n: int) -> Timing:
    """One simulated test, isolated by ``strategy``; the fixture's part is timed apart."""
    clock = time.perf_counter
    timing = Timing()
    began = clock()
    async with AsyncExitStack() as fixture:
        if strategy == "savepoint":
            await fixture.enter_async_context(rollback_after(db))
        elif strategy == "create_drop":
            await _create(db)
            fixture.push_async_callback(_drop, db)
        elif strategy == "truncate":
            fixture.push_async_callback(_empty, db)
        body = clock()
        timing.fixture += body - began
        async with db.session() as session:
            await work(session, n)
        teardown = clock()
    ended = clock()
    timing.fixture += ended - teardown
    timing.total = ended - began
    return timing


@dataclass(frozen=True)
class Result:
    """Medians per strategy: the fixture's own cost and the whole test."""

    fixture: dict[str, float]
    total: dict[str, float]


async def measure(db: Database, cycles: int, warmup: int = 5) -> Result:
    """Run each strategy once per cycle, in a rotating order; medians over the cycles."""
    samples: dict[str, list[Timing]] = {name: [] for name in STRATEGIES}
    counter = 0
    await _drop(db)
    for cycle in range(warmup + cycles):
        shift = cycle % len(WITH_SCHEMA)
        timings: dict[str, Timing] = {}
        # create_drop needs no schema: it runs before the untimed create or after the drop.
        if cycle % 2:
            timings["create_drop"] = await one_test(db, "create_drop", counter := counter + 1)
        await _create(db)
        for strategy in WITH_SCHEMA[shift:] + WITH_SCHEMA[:shift]:
            timings[strategy] = await one_test(db, strategy, counter := counter + 1)
        await _drop(db)
        if not cycle % 2:
            timings["create_drop"] = await one_test(db, "create_drop", counter := counter + 1)
        if cycle >= warmup:
            for strategy, timing in timings.items():
                samples[strategy].append(timing)
    return Result(
        fixture={k: statistics.median(t.fixture for t in v) for k, v in samples.items()},
        total={k: statistics.median(t.total for t in v) for k, v in samples.items()},
    )


async def server_version(db: Database) -> str:
    if db.dialect == "sqlite":
        return f"SQLite {sqlite3.sqlite_version} (in memory)"
    async with db.engine.connect() as connection:
        version = await connection.scalar(text("SHOW server_version"))
    return f"PostgreSQL {str(version).split()[0]} (fsync off, as in the tests)"


def render(results: dict[str, tuple[str, Result]], cycles: int) -> str:
    """The markdown page: one row per backend and strategy."""
    lines = [
        "# Isolation benchmark: what one test's isolation costs",
        "",
        "Generated by `python -m bench.isolation` (`nox -s bench-isolation`); do not edit.",
        "Each test commits 7 rows across a 5-table schema, then counts them. The strategies",
        f"take turns test by test: {cycles} cycles, each running every strategy once in a",
        "rotating order. *Fixture* is the time spent isolating the test (setup + teardown);",
        "*whole test* adds the test's own work. Both are medians over the cycles.",
        "",
        "| backend | strategy | fixture (ms) | fixture vs SAVEPOINT | whole test (ms)"
        " | whole test vs SAVEPOINT |",
        "|---|---|---:|---:|---:|---:|",
    ]
    for backend, (_version, result) in results.items():
        fixture, total = result.fixture, result.total
        for name in STRATEGIES[:-1]:
            label = LABELS[name]
            if name == "truncate" and backend == "sqlite":
                label = "DELETE FROM per test"
            lines.append(
                f"| {backend} | {label} | {fixture[name] * 1000:.2f}"
                f" | {fixture[name] / fixture['savepoint']:.1f}x | {total[name] * 1000:.2f}"
                f" | {total[name] / total['savepoint']:.1f}x |"
            )
        floor = total["none"]
        lines.append(
            f"| {backend} | {LABELS['none']} | 0 | | {floor * 1000:.2f}"
            f" | {floor / total['savepoint']:.1f}x |"
        )
    lines += ["", "Servers: " + "; ".join(version for version, _ in results.values()) + "."]
    lines.append(
        f"Python {platform.python_version()}, SQLAlchemy {sqlalchemy.__version__}."
        " A shared, noisy machine: compare the ratios, not the absolute times."
    )
    return "\n".join(lines) + "\n"


async def run(args: argparse.Namespace) -> dict[str, tuple[str, Result]]:
    """Measure SQLite, then a throwaway Postgres (or TEST_POSTGRES_URL)."""
    results: dict[str, tuple[str, Result]] = {}
    with throwaway_postgres(database="bench_isolation_test") as postgres_url:
        for backend, url in (("sqlite", args.sqlite_url), ("postgresql", postgres_url)):
            check_test_database(url)  # the benchmark drops tables: test databases only
            async with AsyncExitStack() as stack:
                db = Database(url)
                stack.push_async_callback(db.dispose)
                version = await server_version(db)
                print(f"measuring {backend}: {version}", flush=True)
                results[backend] = (version, await measure(db, args.cycles))
    return results


def main(argv: list[str] | None = None) -> int:
    """Measure, print the table and write it to ``--output``."""
    parser = argparse.ArgumentParser(prog="python -m bench.isolation", description=__doc__)
    parser.add_argument("--cycles", type=int, default=120, help="tests per strategy (120)")
    parser.add_argument("--sqlite-url", default="sqlite+aiosqlite:///:memory:")
    parser.add_argument("--output", type=Path, default=OUTPUT)
    args = parser.parse_args(argv)
    results = asyncio.run(run(args))
    table = render(results, args.cycles)
    args.output.parent.mkdir(parents=True, exist_ok=True)
    args.output.write_text(table)
    print(table)
    return 0


if __name__ == "__main__":
    raise SystemExit(main())
