"""Serve the app as N worker processes on consecutive ports: the scale-out demo and its tests.

`python -m app.cluster --workers 4 --port 8000 [--redis]` migrates DATABASE_URL
(or TEST_DATABASE_URL) and starts one uvicorn process per port, so a client can
pick its worker. `--redis` starts a throwaway redis-server and fans out through
it; otherwise the broadcaster is Postgres LISTEN/NOTIFY.
"""

from __future__ import annotations

import argparse
import json
import os
import signal
import subprocess
import sys
import time
import urllib.request
from collections.abc import Iterator, Sequence
from contextlib import ExitStack, contextmanager, suppress
from pathlib import Path

__all__ = ["migrate", "serve_cluster"]

# The repository's alembic.ini: the app's migrations are its top-level history.
ALEMBIC_INI = Path(__file__).resolve().parents[3] / "alembic.ini"
START_TIMEOUT = 180.0  # a guard against a worker that never starts, not a speed target


def migrate(database_url: str) -> None:
    """`alembic upgrade head` on `database_url`."""
    if not ALEMBIC_INI.exists():
        raise RuntimeError(f"no alembic.ini at {ALEMBIC_INI}: run from a checkout")
    command = [sys.executable, "-m", "alembic", "-c", str(ALEMBIC_INI), "upgrade", "head"]
    env = {**os.environ, "DATABASE_URL": database_url}
    subprocess.run(command, env=env, check=True, cwd=ALEMBIC_INI.parent)


@contextmanager
def serve_cluster(
    database_url: str,
    *,
    ports: Sequence[int] = (8000, 8001, 8002, 8003),
    broadcast: str = "postgres",
    redis_url: str | None = None,
    extra_env: dict[str, str] | None = None,
) -> Iterator[list[str]]:
    """Start one uvicorn process (one worker) per port; yield their base URLs."""
    env = {
        **os.environ,
        **(extra_env or {}),
        "DATABASE_URL": database_url,
        "DATABASE_BROADCAST": broadcast,
    }
    if redis_url is not None:
        env["REDIS_URL"] = redis_url
    processes: list[subprocess.Popen[bytes]] = []
    urls = [f"http://127.0.0.1:{port}" for port in ports]
    try:
        for port in ports:
            command = [
                sys.executable, "-m", "uvicorn", "app.main:app",
                "--host", "127.0.0.1", "--port", str(port),
                "--log-level", "warning", "--timeout-graceful-shutdown", "3",
                # Longer than a load balancer's idle timeout would be: a client never
                # sends on a connection the worker is closing.
                "--timeout-keep-alive", "30",
            ]  # fmt: skip
            processes.append(subprocess.Popen(command, env=env))
        _wait_healthy(urls, processes)
        yield urls
    finally:
        for process in processes:
            if process.poll() is None:
                process.send_signal(signal.SIGINT)
        for process in processes:
            try:
                process.wait(timeout=10)
            except subprocess.TimeoutExpired:
                process.kill()
                process.wait()


def _wait_healthy(urls: Sequence[str], processes: Sequence[subprocess.Popen[bytes]]) -> None:
    deadline = time.monotonic() + START_TIMEOUT
    for url, process in zip(urls, processes, strict=True):
        while True:
            if process.poll() is not None:
                raise RuntimeError(f"the worker at {url} exited with {process.returncode}")
            try:
                with urllib.request.urlopen(f"{url}/health", timeout=2) as response:
                    if response.status == 200:
                        break
            except OSError:
                pass
            if time.monotonic() > deadline:
                raise RuntimeError(f"the worker at {url} did not become healthy")
            time.sleep(0.1)


def _demo_user(worker: str) -> tuple[int, str | None]:
    """Create a user to watch; its id and, when the app hands one out, its token's secret."""
    body = json.dumps({"email": f"demo-{int(time.time())}@example.org", "name": "Demo"})
    request = urllib.request.Request(
        f"{worker}/users", body.encode(), {"Content-Type": "application/json"}
    )
    with urllib.request.urlopen(request, timeout=10) as response:
        created = json.loads(response.read())
    token = created.get("token")
    return int(created["id"]), token.get("secret") if isinstance(token, dict) else None


def main(argv: list[str] | None = None) -> int:
    """Migrate, serve until Ctrl+C."""
    parser = argparse.ArgumentParser(prog="python -m app.cluster", description=__doc__)
    parser.add_argument("--workers", type=int, default=4)
    parser.add_argument("--port", type=int, default=int(os.environ.get("DEMO_PORT", "8000")))
    parser.add_argument("--redis", action="store_true", help="fan out through Redis")
    args = parser.parse_args(argv)
    url = os.environ.get("DATABASE_URL") or os.environ.get("TEST_DATABASE_URL")
    if not url or not url.startswith("postgres"):
        parser.error("set DATABASE_URL (or TEST_DATABASE_URL) to a Postgres database")
    migrate(url)
    with ExitStack() as stack:
        redis_url = None
        if args.redis:
            from core.database.testing.redis import throwaway_redis

            redis_url = stack.enter_context(throwaway_redis()).url
        broadcast = "redis" if args.redis else "postgres"
        urls = stack.enter_context(
            serve_cluster(
                url,
                ports=range(args.port, args.port + args.workers),
                broadcast=broadcast,
                redis_url=redis_url,
            )
        )
        user_id, secret = _demo_user(urls[0])
        query = f"?user={user_id}" + (f"&token={secret}" if secret else "")
        print(
            f"{args.workers} workers fanning out through {broadcast}; a demo user's page on each:"
        )
        for worker in urls:
            print(f"  {worker}/live{query}")
        auth = f" -H 'Authorization: Bearer {secret}'" if secret else ""
        print("Post an event through the last worker and watch every page:")
        event = json.dumps({"kind": "scored", "payload": {"points": 3}})
        print(f"  curl -X POST {urls[-1]}/users/{user_id}/events{auth}", end="")
        print(f" -H 'Content-Type: application/json' -d '{event}'")
        print("Ctrl+C stops them.", flush=True)
        with suppress(KeyboardInterrupt):
            signal.pause()
    return 0


if __name__ == "__main__":
    raise SystemExit(main())
