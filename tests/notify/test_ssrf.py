"""The SSRF guard: each blocked range refused at registration (400) and at delivery."""

from __future__ import annotations

import ipaddress
import socket
from typing import Any

import aiohttp
import pytest
from aiohttp.test_utils import TestClient, TestServer
from redis.asyncio import Redis

from ingest.app import create_app
from relay_core.errors import InvalidRequest
from relay_core.notify import emit, ssrf
from tests.conftest import auth, make_settings, run_worker_burst
from tests.notify.support import receiver

BLOCKED = [
    ("127.0.0.1", "loopback"),
    ("127.8.9.10", "loopback"),
    ("[::1]", "loopback"),
    ("10.1.2.3", "private"),
    ("172.16.0.1", "private"),
    ("192.168.1.1", "private"),
    ("[fd00::1]", "private"),
    ("169.254.169.254", "link-local"),
    ("169.254.0.1", "link-local"),
    ("[fe80::1]", "link-local"),
    ("224.0.0.1", "multicast"),
    ("[ff02::1]", "multicast"),
    ("240.0.0.1", "reserved"),
    ("0.0.0.0", "reserved"),
    ("100.64.0.1", "reserved"),
    ("[::ffff:127.0.0.1]", "loopback"),
    ("localhost", "loopback"),
]


@pytest.mark.parametrize(("host", "kind"), BLOCKED)
def test_each_blocked_range_is_refused(host: str, kind: str) -> None:
    with pytest.raises(InvalidRequest, match=kind):
        ssrf.check_url(f"https://{host}/hook", [])


def test_https_public_and_allowed_http() -> None:
    assert ssrf.check_url("https://hooks.example.com/x", [])
    assert ssrf.check_url("https://93.184.216.34/x", [])
    assert ssrf.check_url("http://127.0.0.1:9/x", ["127.0.0.1"])
    with pytest.raises(InvalidRequest, match="https"):
        ssrf.check_url("http://hooks.example.com/x", [])
    with pytest.raises(InvalidRequest, match="https"):
        ssrf.check_url("ftp://hooks.example.com/x", [])
    with pytest.raises(InvalidRequest, match="credentials"):
        ssrf.check_url("https://u:p@hooks.example.com/x", [])


@pytest.mark.parametrize(("host", "kind"), BLOCKED)
async def test_registration_answers_400(client: TestClient[Any, Any], host: str, kind: str) -> None:
    resp = await client.post(
        "/v1/subscriptions", json={"url": f"https://{host}/hook"}, headers=auth()
    )
    assert resp.status == 400
    error = (await resp.json())["error"]
    assert error["code"] == "invalid_request" and kind in error["message"]


async def test_batch_callback_is_guarded_too(client: TestClient[Any, Any]) -> None:
    body = {
        "workflowId": "workflow_x",
        "files": [{"url": "https://files.example/a.pdf"}],
        "callbackUrl": "https://169.254.169.254/latest/meta-data",
    }
    resp = await client.post("/v1/batches", json=body, headers=auth())
    assert resp.status == 400
    assert "callbackUrl" in (await resp.json())["error"]["message"]


async def test_delivery_resolves_and_refuses_a_name_pointing_inward() -> None:
    """A name the guard cannot judge at registration is checked after DNS, at connect time:
    `localhost` resolves to loopback and no request reaches the listening receiver."""
    async with receiver() as rec:
        port = rec.url.split(":")[2].split("/")[0]
        opts = ssrf.connector_options(["127.0.0.1"])  # the address is allowed, the name is not
        async with aiohttp.ClientSession(connector=aiohttp.TCPConnector(**opts)) as http:
            with pytest.raises(aiohttp.ClientConnectorError) as err:
                await http.post(f"http://localhost:{port}/hook", data=b"{}")
        assert isinstance(err.value.os_error, ssrf.BlockedAddress)
        assert rec.received == []


async def test_delivery_time_guard_dead_letters(redis_url: str, redis: Redis) -> None:
    """Registered while 127.0.0.1 was allowed; the worker's settings no longer allow it."""
    web = make_settings(redis_url, CALLBACK_ALLOWED_HOSTS="127.0.0.1")
    async with receiver() as rec, TestClient(TestServer(create_app(web))) as client:
        resp = await client.post("/v1/subscriptions", json={"url": rec.url}, headers=auth())
        assert resp.status == 201
        event = emit.Event("deploy.failed", "deploy_1", {"id": "deploy_1"})
        assert await emit.emit(redis, [event]) == 1
        await run_worker_burst(make_settings(redis_url, NOTIFY_RETRY_SCHEDULE="0,10ms"))
        assert rec.received == []
        dead = await (await client.get("/v1/notifications/dead", headers=auth())).json()
        (letter,) = dead["deadLetters"]
        assert letter["lastError"].startswith("blocked") and letter["attempts"] == 1


async def test_registration_resolves_a_name_pointing_inward(client: TestClient[Any, Any]) -> None:
    """The machine's own name resolves to a loopback or private address on most hosts."""
    name = socket.gethostname()
    addresses = {a[4][0] for a in socket.getaddrinfo(name, 443, type=socket.SOCK_STREAM)}
    if not any(ssrf.blocked_range(ipaddress.ip_address(a.split("%")[0])) for a in addresses):
        pytest.skip(f"{name} resolves to public addresses only here")
    resp = await client.post(
        "/v1/subscriptions", json={"url": f"https://{name}/hook"}, headers=auth()
    )
    assert resp.status == 400
    assert "resolves to a" in (await resp.json())["error"]["message"]
