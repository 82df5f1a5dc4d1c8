"""`python -m faults [--output FILE]`: run every fault; exit 1 if a must-be-zero figure is not."""

from __future__ import annotations

import argparse
import asyncio
import contextlib
import signal
import sys
import tempfile
import time
from pathlib import Path

import httpx
from sqlalchemy import text

from core.database import Database
from core.database.testing._cluster import free_port
from faults.app import POOL_LIMIT, AppProcess, migrate
from faults.cluster import Cluster
from faults.load import authorize
from faults.report import write_report
from faults.scenarios import Result, admin_database, run_scenario, timed_get

__all__ = ["main"]

HEALTH_TIMEOUT = 2.0  # the reference app's
# Twice the pool: half the writers hold every connection, half wait past pool_timeout.
WRITERS_OVER_POOL = 2 * POOL_LIMIT
# Seen from the client on 2 shared cores: scheduling delay on top of the app's own deadline.
HEALTH_SLACK = 1.5


def _log(message: str) -> None:
    print(f"[faults] {message}", file=sys.stderr, flush=True)


async def _users(base_url: str, count: int, tag: str) -> list[tuple[int, dict[str, str]]]:
    async with httpx.AsyncClient(base_url=base_url, timeout=10) as client:
        return [await authorize(client, f"{tag}-{i}@faults.test") for i in range(count)]


async def _postgres_faults(results: list[Result]) -> None:
    cluster = Cluster(free_port())
    app = AppProcess(cluster.url, free_port())
    admin = admin_database(cluster.url)
    try:
        migrate(cluster.url)
        app.start()
        users = await _users(app.base_url, 4, "pg")
        common = {
            "base_urls": [app.base_url],
            "users": users,
            "verify": admin,
            "peak_from": admin,
        }

        async def restart(mode: str) -> str:
            began = time.monotonic()
            await asyncio.to_thread(cluster.restart, mode)
            return f"server down and back in {time.monotonic() - began:.1f}s"

        async def terminate_all() -> str:
            async with admin.transaction() as session:
                killed = await session.scalar(
                    text(
                        "SELECT count(pg_terminate_backend(pid)) FROM pg_stat_activity"
                        " WHERE application_name = 'faults-app'"
                    )
                )
            return f"{killed} backends terminated at once"

        async def kill_app() -> str:
            app.kill()
            began = time.monotonic()
            await asyncio.to_thread(app.start)
            return f"SIGKILL; restarted in {time.monotonic() - began:.1f}s"

        async def stall_server() -> str:
            stopped = cluster.pause()
            try:
                status, took = await timed_get(f"{app.base_url}/health", 15)
                await asyncio.sleep(max(0.0, 3.0 - took))
            finally:
                cluster.resume(stopped)
            slow = " (OVER its timeout)" if took > HEALTH_SLACK * HEALTH_TIMEOUT else ""
            return f"SIGSTOP 3s; /health said {status} in {took:.1f}s{slow}"

        async def lock_table(seconds: float, mode: str) -> None:
            async with admin.engine.connect() as connection:
                await connection.begin()
                await connection.execute(text(f"LOCK TABLE events IN {mode} MODE"))
                await asyncio.sleep(seconds)
                await connection.rollback()

        async def lock_past_timeout() -> str:
            await lock_table(2.5, "EXCLUSIVE")
            return "events locked 2.5s, statement_timeout 1s"

        async def cancelled_streams() -> str:
            user_id, headers = users[0]
            request = (
                f"GET /users/{user_id}/events/stream HTTP/1.1\r\nHost: 127.0.0.1\r\n"
                "Last-Event-ID: 0\r\n"
                + "".join(f"{name}: {value}\r\n" for name, value in headers.items())
                + "\r\n"
            ).encode()
            gate = asyncio.Semaphore(100)

            async def give_up() -> None:
                # Plain sockets: 1,000 HTTP clients would cost more CPU than the app.
                async with gate:
                    _reader, writer = await asyncio.open_connection("127.0.0.1", app.port)
                    writer.write(request)
                    await asyncio.sleep(0.3)  # the replay is stuck behind the lock
                    writer.close()  # the client hangs up: the server cancels the request
                    with contextlib.suppress(OSError):
                        await writer.wait_closed()

            locking = asyncio.ensure_future(lock_table(4.0, "ACCESS EXCLUSIVE"))
            await asyncio.sleep(0.2)
            await asyncio.gather(*(give_up() for _ in range(1000)))
            await locking
            return "1,000 stream replays given up after 0.3s behind a lock"

        scenarios = [
            ("postgres-restart-fast", lambda: restart("fast")),
            ("postgres-restart-immediate", lambda: restart("immediate")),
            ("terminate-backends", terminate_all),
            ("app-sigkill", kill_app),
            ("server-sigstop", stall_server),
            ("lock-past-statement-timeout", lock_past_timeout),
            ("cancelled-requests", cancelled_streams),
        ]
        for name, inject in scenarios:
            _log(f"postgres: {name}")
            began = time.monotonic()
            result = await run_scenario(name, "postgres", inject, **common)  # type: ignore[arg-type]
            if "OVER its timeout" in result.note:
                result.problems.append("/health answered past its timeout")
            results.append(result)
            _log(f"  {time.monotonic() - began:.1f}s: {result.problems or 'pass'}")
        app.stop()

        # Pool exhaustion: statements may wait (no 504), so requests queue for the pool.
        exhausted = AppProcess(cluster.url, free_port(), DATABASE_STATEMENT_TIMEOUT_MS="10000")
        exhausted.start()
        try:
            _log("postgres: pool-exhaustion")

            async def exhaust() -> str:
                await lock_table(3.0, "EXCLUSIVE")
                return f"{WRITERS_OVER_POOL} writers, pool of {POOL_LIMIT}, all blocked 3s"

            results.append(
                await run_scenario(
                    "pool-exhaustion",
                    "postgres",
                    exhaust,
                    **{**common, "base_urls": [exhausted.base_url]},  # type: ignore[arg-type]
                    concurrency=WRITERS_OVER_POOL,
                )
            )
        finally:
            exhausted.stop()
    finally:
        app.stop()
        await admin.dispose()
        cluster.close()


async def _sqlite_faults(results: list[Result]) -> None:
    with tempfile.TemporaryDirectory(prefix="faults-sqlite-") as folder:
        url = f"sqlite+aiosqlite:///{Path(folder, 'shared_test.db').as_posix()}"
        migrate(url)
        first, second = AppProcess(url, free_port()), AppProcess(url, free_port())
        verify = Database(url)
        try:
            first.start()
            second.start()
            users = await _users(first.base_url, 4, "sqlite")

            async def share() -> str:
                return "two app processes writing to one file"

            _log("sqlite: two-processes-one-file")
            results.append(
                await run_scenario(
                    "two-processes-one-file",
                    "sqlite",
                    share,
                    base_urls=[first.base_url, second.base_url],
                    users=users,
                    verify=verify,
                    peak_from=None,
                    after=4.0,
                )
            )
        finally:
            first.stop()
            second.stop()
            await verify.dispose()


async def _run() -> list[Result]:
    results: list[Result] = []
    await _postgres_faults(results)
    await _sqlite_faults(results)
    return results


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(prog="python -m faults", description=__doc__)
    parser.add_argument("--output", type=Path, default=Path("docs/reliability.md"))
    args = parser.parse_args(argv)
    # A CI timeout sends SIGTERM: unwind as on Ctrl-C, so the server and the apps are stopped.
    signal.signal(signal.SIGTERM, signal.default_int_handler)
    results = asyncio.run(_run())
    write_report(results, args.output)
    failed = [f"{r.backend}/{r.name}: {p}" for r in results for p in r.problems]
    for line in failed:
        _log(f"FAILED {line}")
    print(
        f"faults: {len(results) - len({f.split(':')[0] for f in failed})} passed, "
        f"{len({f.split(':')[0] for f in failed})} failed"
    )
    return 1 if failed else 0


if __name__ == "__main__":
    raise SystemExit(main())
