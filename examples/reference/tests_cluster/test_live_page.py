"""The demo's live page in a real browser: two headless Chromium pages on two workers see
an event posted through a third."""

from __future__ import annotations

import asyncio
import os
import time
from pathlib import Path

import httpx

from app.cluster import serve_cluster
from core.database.testing._cluster import free_port
from tests_cluster.browser import headless_chromium
from tests_cluster.test_fanout import new_user, postgres_url

__all__ = ["postgres_url"]

COUNT_ITEMS = "document.querySelectorAll('#events li').length"


async def test_an_event_posted_through_one_worker_appears_live_on_pages_of_two_others(
    postgres_url: str,
) -> None:
    ports = [free_port() for _ in range(3)]
    with serve_cluster(postgres_url, ports=ports) as workers:
        async with httpx.AsyncClient(timeout=30) as http, headless_chromium() as browser:
            user_id, token = await new_user(http, workers[0], "live-page")
            query = f"?user={user_id}" + (f"&token={token}" if token else "")
            pages = [await browser.open(f"{worker}/live{query}") for worker in workers[:2]]
            for page in pages:
                assert await page.wait_for("document.getElementById('status').textContent")
                await page.wait_for("document.getElementById('status').className === 'live'")
                assert await page.evaluate(COUNT_ITEMS) == 0
            headers = {"Authorization": f"Bearer {token}"} if token else {}
            stamp = time.strftime("%H:%M:%S")
            for kind, payload in [
                ("joined", {"player": "ann"}),
                ("scored", {"player": "ann", "points": 3}),
                ("scored", {"player": "bob", "points": 5, "at": stamp}),
            ]:
                posted = await http.post(
                    f"{workers[2]}/users/{user_id}/events",
                    json={"kind": kind, "payload": payload},
                    headers=headers,
                )
                assert posted.status_code == 201, posted.text
            for page in pages:
                await page.wait_for(f"{COUNT_ITEMS} === 3")
                newest = await page.evaluate("document.querySelector('#events li').textContent")
                assert "scored" in newest and stamp in newest
            target = os.environ.get("LIVE_PAGE_SCREENSHOT")
            if target:
                await asyncio.sleep(0.3)
                await pages[0].screenshot(Path(target))
