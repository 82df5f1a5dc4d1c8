"""`python -m bench.fanout`: how long a committed event takes to reach live clients, per backend.

The reference app runs as worker processes (`app.cluster`) on the Postgres of
TEST_DATABASE_URL: one worker with the in-memory broadcaster, four with Postgres
LISTEN/NOTIFY, four with Redis pub/sub (a throwaway redis-server). SSE clients are
spread over the workers; a writer posts events at a steady rate, each through the
next worker. The latency of one delivery is the time from the writer reading its
201 (the commit is done) to a client reading the event; p50 and p99 over every
(client, event) pair. Written to a section of docs/benchmarks.md.
"""

from __future__ import annotations

import argparse
import asyncio
import os
import statistics
import sys
import time
from contextlib import ExitStack
from pathlib import Path

import httpx

from bench.sections import write_section

ROOT = Path(__file__).resolve().parents[1]


async def _client(
    http: httpx.AsyncClient, url: str, headers: dict[str, str], ready: asyncio.Event,
    arrived: dict[int, float],
) -> None:  # fmt: skip
    async with http.stream("GET", url, headers=headers, timeout=None) as response:
        response.raise_for_status()
        async for line in response.aiter_lines():
            if line.startswith("retry:"):
                ready.set()
            elif line.startswith("id: "):
                arrived[int(line[4:])] = time.monotonic()


async def _measure(workers: list[str], clients: int, events: int, rate: float) -> list[float]:
    limits = httpx.Limits(max_connections=clients + 8)
    async with httpx.AsyncClient(limits=limits, timeout=30) as http:
        created = await http.post(f"{workers[0]}/users", json={"email": f"b{time.time_ns()}@x.org"})
        created.raise_for_status()
        body = created.json()
        user_id = body["id"]
        token = (body.get("token") or {}).get("secret") if isinstance(body, dict) else None
        headers = {"Authorization": f"Bearer {token}"} if token else {}
        readies = [asyncio.Event() for _ in range(clients)]
        arrivals: list[dict[int, float]] = [{} for _ in range(clients)]
        tasks = [
            asyncio.create_task(
                _client(
                    http,
                    f"{workers[n % len(workers)]}/users/{user_id}/events/stream",
                    headers,
                    readies[n],
                    arrivals[n],
                )
            )
            for n in range(clients)
        ]
        try:
            async with asyncio.timeout(60):
                await asyncio.gather(*(ready.wait() for ready in readies))
            acked: dict[int, float] = {}
            for n in range(events):
                started = time.monotonic()
                response = await http.post(
                    f"{workers[n % len(workers)]}/users/{user_id}/events",
                    json={"kind": "bench", "payload": {"n": n}},
                    headers=headers,
                )
                response.raise_for_status()
                answer = response.json()
                acked[int(answer.get("position", answer["id"]))] = time.monotonic()
                await asyncio.sleep(max(0.0, 1 / rate - (time.monotonic() - started)))
            async with asyncio.timeout(60):
                while any(len(arrived) < events for arrived in arrivals):  # noqa: ASYNC110
                    await asyncio.sleep(0.05)
        finally:
            for task in tasks:
                task.cancel()
            await asyncio.gather(*tasks, return_exceptions=True)
    return sorted(
        max(0.0, at - acked[position]) for arrived in arrivals for position, at in arrived.items()
    )


def _run(backend: str, workers: int, clients: int, events: int, rate: float) -> dict[str, float]:
    from app.cluster import serve_cluster
    from core.database.testing._cluster import free_port
    from core.database.testing.redis import throwaway_redis

    url = os.environ["TEST_DATABASE_URL"]
    with ExitStack() as stack:
        redis_url = stack.enter_context(throwaway_redis()).url if backend == "redis" else None
        ports = [free_port() for _ in range(workers)]
        urls = stack.enter_context(
            serve_cluster(url, ports=ports, broadcast=backend, redis_url=redis_url)
        )
        delays = asyncio.run(_measure(urls, clients, events, rate))
    cuts = statistics.quantiles(delays, n=100)
    return {"deliveries": len(delays), "p50": cuts[49] * 1000, "p99": cuts[98] * 1000}


def _table(rows: dict[str, dict[str, float]], setup: dict[str, int], clients: int,
           events: int, rate: float) -> str:  # fmt: skip
    lines = [
        "## Fan-out latency across worker processes",
        "",
        f"`nox -s bench-fanout`: {clients} SSE clients spread over the workers, {events} events"
        f" posted at {rate:g}/s, each through the next worker. Latency: from the writer"
        " reading its 201 to a client reading the event, over every (client, event) pair."
        " The in-memory broadcaster serves one process only, so it runs one worker."
        f" Load average when the run began: {os.getloadavg()[0]:.1f} on {os.cpu_count()} CPUs.",
        "",
        "| broadcaster | workers | deliveries | p50 ms | p99 ms |",
        "|---|---:|---:|---:|---:|",
    ]
    for backend, row in rows.items():
        lines.append(
            f"| {backend} | {setup[backend]} | {row['deliveries']:.0f}"
            f" | {row['p50']:.1f} | {row['p99']:.1f} |"
        )
    return "\n".join(lines)


def main(argv: list[str] | None = None) -> int:
    """Measure each backend; write the section."""
    parser = argparse.ArgumentParser(prog="python -m bench.fanout")
    parser.add_argument("--clients", type=int, default=20)
    parser.add_argument("--events", type=int, default=200)
    parser.add_argument("--rate", type=float, default=20.0, help="events per second")
    parser.add_argument("--out", type=Path, default=ROOT / "docs" / "benchmarks.md")
    options = parser.parse_args(argv)
    if not os.environ.get("TEST_DATABASE_URL", "").startswith("postgres"):
        parser.error("run under a Postgres: python -m core.database.testing postgres -- ...")
    from app.cluster import migrate

    migrate(os.environ["TEST_DATABASE_URL"])
    setup = {"memory": 1, "postgres": 4, "redis": 4}
    rows = {}
    for backend, workers in setup.items():
        rows[backend] = _run(backend, workers, options.clients, options.events, options.rate)
        print(f"{backend} x{workers}: {rows[backend]}", file=sys.stderr)
    table = _table(rows, setup, options.clients, options.events, options.rate)
    write_section(options.out, "fanout", table)
    print(f"wrote the section to {options.out}", file=sys.stderr)
    return 0


if __name__ == "__main__":
    raise SystemExit(main())
