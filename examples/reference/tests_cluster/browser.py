"""Headless Chromium driven over the DevTools protocol: open pages, read them, screenshot them.

Uses the system's `chromium` (Debian's package), no browser download and no driver.
"""

from __future__ import annotations

import asyncio
import base64
import itertools
import json
import os
import re
import shutil
import subprocess
import tempfile
from collections.abc import AsyncIterator
from contextlib import asynccontextmanager
from pathlib import Path
from typing import Any

from websockets.asyncio.client import ClientConnection, connect

__all__ = ["Browser", "Page", "find_chromium", "headless_chromium"]

# As root Chromium needs --no-sandbox; the rest keeps a headless run quiet and offline.
FLAGS = (
    "--headless=new",
    "--no-sandbox",
    "--disable-gpu",
    "--disable-background-networking",
    "--disable-dev-shm-usage",
    "--disable-extensions",
    "--no-first-run",
    "--no-default-browser-check",
    "--remote-debugging-port=0",
    "--window-size=860,420",
)
_LISTENING = re.compile(rb"DevTools listening on (ws://\S+)")


def find_chromium() -> str:
    """The Chromium binary: CHROMIUM, else `chromium` or `chromium-browser` on PATH."""
    for candidate in (os.environ.get("CHROMIUM"), "chromium", "chromium-browser"):
        if candidate and (found := shutil.which(candidate)):
            return found
    raise RuntimeError("Chromium is not installed: `apt-get install chromium` (or set CHROMIUM)")


class Browser:
    """One DevTools connection to the browser; pages are targets attached on it."""

    def __init__(self, socket: ClientConnection) -> None:
        self._socket = socket
        self._ids = itertools.count(1)
        self._waiting: dict[int, asyncio.Future[dict[str, Any]]] = {}
        self._reader = asyncio.create_task(self._read())

    async def _read(self) -> None:
        async for text in self._socket:
            message = json.loads(text)
            future = self._waiting.pop(message.get("id", -1), None)
            if future is not None and not future.done():
                future.set_result(message)

    async def send(self, method: str, session: str | None = None, **params: Any) -> dict[str, Any]:
        """One DevTools command; its result, or RuntimeError with the protocol's error."""
        command_id = next(self._ids)
        future: asyncio.Future[dict[str, Any]] = asyncio.get_running_loop().create_future()
        self._waiting[command_id] = future
        command: dict[str, Any] = {"id": command_id, "method": method, "params": params}
        if session is not None:
            command["sessionId"] = session
        await self._socket.send(json.dumps(command))
        reply = await future
        if "error" in reply:
            raise RuntimeError(f"{method}: {reply['error']}")
        return dict(reply.get("result", {}))

    async def open(self, url: str) -> Page:
        """A new page (tab) at `url`."""
        target = await self.send("Target.createTarget", url=url)
        attached = await self.send(
            "Target.attachToTarget", targetId=target["targetId"], flatten=True
        )
        return Page(self, attached["sessionId"])

    async def close(self) -> None:
        self._reader.cancel()
        await self._socket.close()


class Page:
    """One tab: evaluate JavaScript in it, take a PNG of it."""

    def __init__(self, browser: Browser, session: str) -> None:
        self._browser, self._session = browser, session

    async def evaluate(self, expression: str) -> Any:
        """The value of a JavaScript expression in the page."""
        result = await self._browser.send(
            "Runtime.evaluate", self._session, expression=expression, returnByValue=True
        )
        return result["result"].get("value")

    async def wait_for(self, expression: str, seconds: float = 20.0) -> Any:
        """Poll `expression` until it is truthy (TimeoutError after `seconds`); its value."""
        async with asyncio.timeout(seconds):
            while not (value := await self.evaluate(expression)):  # noqa: ASYNC110 - polling the page
                await asyncio.sleep(0.1)
        return value

    async def screenshot(self, path: Path) -> None:
        """Save the page as a PNG."""
        shot = await self._browser.send("Page.captureScreenshot", self._session, format="png")
        await asyncio.to_thread(path.write_bytes, base64.b64decode(shot["data"]))


@asynccontextmanager
async def headless_chromium() -> AsyncIterator[Browser]:
    """A headless Chromium with a throwaway profile, gone afterwards."""
    profile = tempfile.mkdtemp(prefix="throwaway-chromium-")
    process = await asyncio.create_subprocess_exec(
        find_chromium(),
        *FLAGS,
        f"--user-data-dir={profile}",
        "about:blank",
        stdout=subprocess.DEVNULL,
        stderr=subprocess.PIPE,
    )
    try:
        assert process.stderr is not None
        async with asyncio.timeout(30):
            while not (found := _LISTENING.search(await process.stderr.readline())):
                if process.returncode is not None:
                    raise RuntimeError("Chromium exited before DevTools listened")
        # Keep reading its log, so a full pipe never blocks the browser.
        drain = asyncio.create_task(process.stderr.read())
        async with connect(found.group(1).decode(), max_size=2**26) as socket:
            browser = Browser(socket)
            try:
                yield browser
            finally:
                await browser.close()
        drain.cancel()
    finally:
        if process.returncode is None:
            process.terminate()
            await process.wait()
        shutil.rmtree(profile, ignore_errors=True)
