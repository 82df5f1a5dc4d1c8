"""Small helpers shared by several test modules."""

from __future__ import annotations

import asyncio
import socket

from core.database import Database


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


class TcpProxy:
    """A TCP relay to a real server on 127.0.0.1, to cut or stall the network between.

    `stall()` stops relaying on every open link while keeping its sockets open: a
    silent drop (a dead NAT entry, a pulled cable), which only a timeout can notice.
    New links relay normally.
    """

    def __init__(self, target_port: int) -> None:
        self.target_port = target_port
        self._server: asyncio.Server | None = None
        self._links: list[tuple[asyncio.StreamWriter, asyncio.StreamWriter, asyncio.Event]] = []
        self._tasks: set[asyncio.Task[None]] = set()

    async def start(self, port: int) -> None:
        self._server = await asyncio.start_server(self._link, "127.0.0.1", port)

    def stall(self) -> None:
        for _client, _upstream, stalled in self._links:
            stalled.set()

    async def close(self) -> None:
        if self._server is not None:
            self._server.close()
        for client, upstream, _stalled in self._links:
            client.close()
            upstream.close()
        for task in list(self._tasks):
            task.cancel()
        await asyncio.gather(*self._tasks, return_exceptions=True)

    async def _link(self, reader: asyncio.StreamReader, writer: asyncio.StreamWriter) -> None:
        up_reader, up_writer = await asyncio.open_connection("127.0.0.1", self.target_port)
        stalled = asyncio.Event()
        self._links.append((writer, up_writer, stalled))
        for source, sink in ((reader, up_writer), (up_reader, writer)):
            task = asyncio.create_task(self._pump(source, sink, stalled))
            self._tasks.add(task)
            task.add_done_callback(self._tasks.discard)

    @staticmethod
    async def _pump(
        source: asyncio.StreamReader, sink: asyncio.StreamWriter, stalled: asyncio.Event
    ) -> None:
        while data := await source.read(65536):
            if stalled.is_set():
                continue  # swallowed: neither side hears of it
            sink.write(data)
            await sink.drain()
        sink.close()


def through_relay(database: Database, port: int, **settings: object) -> Database:
    """`database`, reached through a relay on 127.0.0.1:`port`, its settings updated."""
    updated = database.settings.model_copy(update=settings)
    return Database(database.url.set(host="127.0.0.1", port=port), settings=updated)
