"""The throwaway Redis helper (core.database.testing.redis): given, missing, failing, restarted."""

from __future__ import annotations

import shutil
from pathlib import Path

import pytest
import redis

from core.database.testing.redis import (
    REDIS_URL_ENV,
    RedisServer,
    RedisUnavailableError,
    find_redis_server,
    throwaway_redis,
)


def test_a_given_server_is_used_as_it_is_and_never_stopped(
    monkeypatch: pytest.MonkeyPatch,
) -> None:
    monkeypatch.setenv(REDIS_URL_ENV, "redis://cache.internal:6380/2")
    with throwaway_redis() as server:
        assert server.url == "redis://cache.internal:6380/2"
        server.start()  # nothing to start
        with pytest.raises(RuntimeError, match=REDIS_URL_ENV):
            server.restart()


def test_a_missing_binary_says_how_to_get_one(monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.setenv("PATH", "")
    with pytest.raises(RedisUnavailableError, match="apt-get install redis-server") as missing:
        find_redis_server()
    assert REDIS_URL_ENV in str(missing.value)


def test_a_server_that_exits_at_once_is_reported_and_cleaned_up(tmp_path: Path) -> None:
    exits = tmp_path / "redis-server"
    exits.write_text("#!/bin/sh\nexit 3\n")
    exits.chmod(0o755)
    server = RedisServer(exits, tmp_path)
    with pytest.raises(RedisUnavailableError, match="did not start"):
        server.start()
    server.stop()  # nothing left to stop


@pytest.mark.skipif(shutil.which("redis-server") is None, reason="needs redis-server")
def test_a_started_server_restarts_on_its_port_and_keeps_its_password(
    monkeypatch: pytest.MonkeyPatch,
) -> None:
    monkeypatch.delenv(REDIS_URL_ENV, raising=False)
    with throwaway_redis() as server:
        before = server.url
        server.start()  # already running: nothing to do
        server.restart(down_for=0.05)
        assert server.url == before
        client = redis.Redis.from_url(server.url)
        try:
            assert client.ping()
        finally:
            client.close()
