"""Scale-out: 4 worker processes, 100 live clients, 1,000 events written through every worker.

Each client, SSE or WebSocket, on whichever worker, receives every event once, in
commit order; some resume on another worker halfway; the broadcaster's connection
is killed mid-run (the listeners' backends terminated, or Redis restarted).
Run by `nox -s scaleout` on a throwaway Postgres and redis-server.
"""

from __future__ import annotations

import asyncio
import json
import os
import statistics
import time
from collections.abc import AsyncIterator, Iterator
from pathlib import Path

import httpx
import pytest
import pytest_asyncio
from sqlalchemy import text

from app.cluster import migrate, serve_cluster
from core.database import create_engine, mask_url, parse_database_url
from core.database.testing._cluster import free_port
from core.database.testing.redis import RedisServer, throwaway_redis
from tests_cluster.clients import StreamClient

WORKERS = 4
# Smaller runs for a quick look: SCALEOUT_CLIENTS=8 SCALEOUT_EVENTS=100.
CLIENTS = int(os.environ.get("SCALEOUT_CLIENTS", "100"))
EVENTS = int(os.environ.get("SCALEOUT_EVENTS", "1000"))
WRITERS = 32
FAULT_AT = EVENTS * 2 // 5  # events acknowledged when the broadcaster's link is killed
SWITCHERS = CLIENTS // 10  # clients that resume on another worker halfway
DEADLINE = 600.0  # a guard against a hang, not a speed target


class MaskedURL(str):
    """The database URL; its repr (what a failure report shows) hides the password."""

    __slots__ = ()

    def __repr__(self) -> str:
        return repr(mask_url(parse_database_url(str(self))))


@pytest.fixture(scope="module")
def postgres_url() -> str:
    url = MaskedURL(os.environ.get("TEST_DATABASE_URL", ""))
    if not url.startswith("postgres"):
        pytest.fail(
            "the scale-out tests need a Postgres TEST_DATABASE_URL: run them with"
            " `nox -s scaleout` or `python -m core.database.testing postgres -- pytest ...`"
        )
    migrate(url)
    return url


@pytest.fixture(scope="module")
def redis_server() -> Iterator[RedisServer]:
    with throwaway_redis() as server:
        yield server


@pytest_asyncio.fixture
async def http() -> AsyncIterator[httpx.AsyncClient]:
    limits = httpx.Limits(max_connections=CLIENTS + WRITERS + 8, max_keepalive_connections=64)
    async with httpx.AsyncClient(limits=limits, timeout=30) as client:
        yield client


async def new_user(http: httpx.AsyncClient, worker: str, label: str) -> tuple[int, str | None]:
    """A user to follow, and the bearer token its streams need (None while the app has none)."""
    created = await http.post(
        f"{worker}/users", json={"email": f"{label}-{time.time_ns()}@example.org"}
    )
    created.raise_for_status()
    body = created.json()
    token = body.get("token", {}).get("secret") if isinstance(body.get("token"), dict) else None
    return body["id"], token


def position_of(response: httpx.Response) -> int:
    body = response.json()
    return int(body.get("position", body["id"]))


async def kill_listeners(postgres_url: str) -> int:
    engine = create_engine(postgres_url)
    try:
        async with engine.connect() as connection:
            killed = await connection.execute(
                text(
                    "SELECT pg_terminate_backend(pid) FROM pg_stat_activity"
                    " WHERE application_name LIKE '% listener'"
                )
            )
            return len(killed.all())
    finally:
        await engine.dispose()


async def count_listeners(postgres_url: str) -> int:
    engine = create_engine(postgres_url)
    try:
        async with engine.connect() as connection:
            found = await connection.execute(
                text(
                    "SELECT count(*) FROM pg_stat_activity WHERE application_name LIKE '% listener'"
                )
            )
            return int(found.scalar_one())
    finally:
        await engine.dispose()


async def committed_positions(postgres_url: str, user_id: int) -> list[int]:
    """The user's events in commit order, as the database has them."""
    engine = create_engine(postgres_url)
    try:
        async with engine.connect() as connection:
            column = await connection.execute(
                text(
                    "SELECT column_name FROM information_schema.columns"
                    " WHERE table_name = 'events' AND column_name = 'position'"
                )
            )
            order = "position" if column.first() else "id"
            rows = await connection.execute(
                text(f"SELECT {order} FROM events WHERE user_id = :user ORDER BY {order}"),
                {"user": user_id},
            )
            return [int(row[0]) for row in rows]
    finally:
        await engine.dispose()


@pytest.mark.parametrize("backend", ["postgres", "redis"])
async def test_every_client_receives_every_event_once_in_commit_order(
    backend: str, postgres_url: str, redis_server: RedisServer, http: httpx.AsyncClient
) -> None:
    ports = [free_port() for _ in range(WORKERS)]
    redis_url = redis_server.url if backend == "redis" else None
    with serve_cluster(
        postgres_url, ports=ports, broadcast=backend, redis_url=redis_url
    ) as workers:
        user_id, token = await new_user(http, workers[0], backend)
        clients = [
            StreamClient(
                name=f"{kind}-{n}",
                kind=kind,
                # A switcher resumes on the next worker with its last position.
                workers=[workers[n % WORKERS]]
                + ([workers[(n + 1) % WORKERS]] if n < SWITCHERS else []),
                user_id=user_id,
                token=token,
            )
            for n in range(CLIENTS)
            for kind in ["sse" if n % 2 == 0 else "ws"]
        ]
        tasks = [
            asyncio.create_task(client.follow(http, switch_at=EVENTS // 2)) for client in clients
        ]
        progress = asyncio.create_task(show_progress(clients))
        try:
            async with asyncio.timeout(DEADLINE):
                await until_subscribed(clients, tasks)
                acked = await write_events(
                    http, workers, user_id, token, backend, postgres_url, redis_server
                )
                while any(len(client.positions) < EVENTS for client in clients):
                    raise_failures(tasks)
                    await asyncio.sleep(0.1)
                await asyncio.sleep(0.5)  # a duplicate would arrive now
        finally:
            progress.cancel()
            for task in tasks:
                task.cancel()
            await asyncio.gather(*tasks, return_exceptions=True)
        if backend == "postgres":
            assert await count_listeners(postgres_url) == WORKERS  # every listener came back

    expected = await committed_positions(postgres_url, user_id)
    assert len(expected) == EVENTS
    assert sorted(acked) == expected
    for client in clients:
        assert client.positions == expected, f"{client.name} on {client.workers}"
    assert sum(client.connections for client in clients) == CLIENTS + SWITCHERS
    report_latency(backend, clients, acked)


async def write_events(
    http: httpx.AsyncClient,
    workers: list[str],
    user_id: int,
    token: str | None,
    backend: str,
    postgres_url: str,
    redis_server: RedisServer,
) -> dict[int, float]:
    """POST the events through every worker at once; kill the broadcaster's link midway."""
    headers = {"Authorization": f"Bearer {token}"} if token else {}
    acked: dict[int, float] = {}
    queue: asyncio.Queue[int] = asyncio.Queue()
    for n in range(EVENTS):
        queue.put_nowait(n)
    fault_done = asyncio.Event()

    async def fault() -> None:
        if backend == "postgres":
            assert await kill_listeners(postgres_url) == WORKERS
        else:
            await asyncio.to_thread(redis_server.restart, 0.5)
        fault_done.set()

    fault_task: asyncio.Task[None] | None = None

    async def writer() -> None:
        nonlocal fault_task
        while not queue.empty():
            n = queue.get_nowait()
            response = await http.post(
                f"{workers[n % len(workers)]}/users/{user_id}/events",
                json={"kind": "load", "payload": {"n": n}},
                headers=headers,
            )
            assert response.status_code == 201, response.text
            acked[position_of(response)] = time.monotonic()
            if len(acked) == FAULT_AT and fault_task is None:
                fault_task = asyncio.create_task(fault())

    await asyncio.gather(*(writer() for _ in range(WRITERS)))
    assert fault_task is not None
    await fault_task
    assert fault_done.is_set()
    return acked


def report_latency(backend: str, clients: list[StreamClient], acked: dict[int, float]) -> None:
    """Delivery time after the writer's acknowledgement, over every (client, event)."""
    delays = sorted(
        max(0.0, arrived - acked[position])
        for client in clients
        for position, arrived in client.arrived.items()
    )
    quantiles = statistics.quantiles(delays, n=100)
    result = {
        "backend": backend,
        "workers": WORKERS,
        "clients": CLIENTS,
        "events": EVENTS,
        "deliveries": len(delays),
        "p50_ms": round(quantiles[49] * 1000, 1),
        "p99_ms": round(quantiles[98] * 1000, 1),
    }
    print(json.dumps(result))
    target = os.environ.get("SCALEOUT_REPORT")
    if target:
        with Path(target).open("a", encoding="utf-8") as report:
            report.write(json.dumps(result) + "\n")


async def show_progress(clients: list[StreamClient]) -> None:
    """A line every few seconds (pytest -s): how far the slowest and fastest clients are."""
    while True:
        await asyncio.sleep(5)
        counts = [len(client.positions) for client in clients]
        ready = sum(client.subscribed.is_set() for client in clients)
        print(f"subscribed {ready}/{len(clients)}; received min {min(counts)} max {max(counts)}")


def raise_failures(tasks: list[asyncio.Task[None]]) -> None:
    """A client that failed fails the test with its own error, not a timeout."""
    for task in tasks:
        if task.done():
            task.result()


async def until_subscribed(clients: list[StreamClient], tasks: list[asyncio.Task[None]]) -> None:
    while not all(client.subscribed.is_set() for client in clients):
        raise_failures(tasks)
        await asyncio.sleep(0.05)
