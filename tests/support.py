"""Small helpers shared by several test modules."""

from __future__ import annotations

import asyncio
import socket


async def settle() -> None:
    """Let every started task run until it blocks (on a pool, a lock, a queue)."""
    for _ in range(50):
        await asyncio.sleep(0)


def speaks_postgres(port: int) -> bool:
    """True if a PostgreSQL server answers an SSLRequest on 127.0.0.1:port."""
    try:
        with socket.create_connection(("127.0.0.1", port), timeout=2) as sock:
            sock.sendall((8).to_bytes(4, "big") + (80877103).to_bytes(4, "big"))
            return sock.recv(1) in (b"S", b"N")
    except OSError:
        return False
