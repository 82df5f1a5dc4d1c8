"""`python -m bench.loadgen`: N GET requests at fixed concurrency over keep-alive HTTP/1.1.

A separate process from the server, on plain asyncio streams (lighter than an HTTP
client library, so the generator is not what limits the rate). Prints one JSON line:
requests/s, p50 and p99 latency in seconds, and the number of errors.
"""

from __future__ import annotations

import argparse
import asyncio
import json
import time
from itertools import count

__all__ = ["main"]


async def _worker(
    host: str,
    port: int,
    path: str,
    ids: int,
    todo: count[int],
    total: int,
    out: dict[str, list[float]],
) -> None:
    reader, writer = await asyncio.open_connection(host, port)
    try:
        while (n := next(todo)) < total:
            request = f"GET {path.format(n % ids + 1)} HTTP/1.1\r\nHost: {host}\r\n\r\n"
            started = time.perf_counter()
            try:
                writer.write(request.encode())
                head = await reader.readuntil(b"\r\n\r\n")
                status = int(head[9:12])
                length = 0
                for line in head.split(b"\r\n"):
                    if line[:15].lower() == b"content-length:":
                        length = int(line[15:])
                await reader.readexactly(length)
            except (OSError, asyncio.IncompleteReadError, ValueError):
                out["errors"].append(1)
                writer.close()
                reader, writer = await asyncio.open_connection(host, port)
                continue
            out["latency"].append(time.perf_counter() - started)
            if status != 200:
                out["errors"].append(status)
    finally:
        writer.close()


async def run(
    host: str, port: int, path: str, ids: int, total: int, concurrency: int
) -> dict[str, float]:
    """Send `total` requests from `concurrency` connections; return the summary."""
    out: dict[str, list[float]] = {"latency": [], "errors": []}
    todo = count()
    started = time.perf_counter()
    await asyncio.gather(
        *(_worker(host, port, path, ids, todo, total, out) for _ in range(concurrency))
    )
    elapsed = time.perf_counter() - started
    latency = sorted(out["latency"])

    def pct(p: float) -> float:
        return latency[min(len(latency) - 1, int(p * len(latency)))] if latency else float("nan")

    return {
        "requests": total,
        "seconds": elapsed,
        "rps": total / elapsed,
        "p50": pct(0.50),
        "p99": pct(0.99),
        "max": latency[-1] if latency else float("nan"),
        "errors": len(out["errors"]),
    }


def main() -> None:
    """Parse the arguments, run, print the JSON summary."""
    parser = argparse.ArgumentParser(prog="python -m bench.loadgen")
    parser.add_argument("--host", default="127.0.0.1")
    parser.add_argument("--port", type=int, required=True)
    parser.add_argument("--path", default="/users/{}", help="{} is replaced by an id")
    parser.add_argument("--ids", type=int, default=1000, help="ids cycle through 1..IDS")
    parser.add_argument("--requests", type=int, default=5000)
    parser.add_argument("--concurrency", type=int, default=50)
    args = parser.parse_args()
    summary = asyncio.run(
        run(args.host, args.port, args.path, args.ids, args.requests, args.concurrency)
    )
    print(json.dumps(summary))


if __name__ == "__main__":
    main()
