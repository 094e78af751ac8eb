"""The CLI's one HTTP client against a real server on loopback: what it retries, what it never
sends twice, and the one error line."""

from __future__ import annotations

from contextlib import AbstractAsyncContextManager

import pytest
from aiohttp import web

from relay_cli.client import Client, Unreachable, failed
from relay_cli.localredis import free_port
from tests.support.site import serve


class Flaky:
    """Answers each path with the statuses queued for it, then 200; counts what arrived."""

    def __init__(self, answers: dict[str, list[int]]) -> None:
        self.answers = answers
        self.seen: list[tuple[str, str, str | None, str | None]] = []

    async def handle(self, request: web.Request) -> web.Response:
        await request.read()
        auth, key = request.headers.get("Authorization"), request.headers.get("Idempotency-Key")
        self.seen.append((request.method, request.path, auth, key))
        queued = self.answers.get(request.path, [])
        status = queued.pop(0) if queued else 200
        if status == 200:
            return web.json_response({"ok": True})
        error = {"error": {"code": "unavailable", "message": "try later"}}
        return web.json_response(error, status=status, headers={"Retry-After": "0"})


def serving(flaky: Flaky) -> AbstractAsyncContextManager[str]:
    app = web.Application()
    app.router.add_route("*", "/{tail:.*}", flaky.handle)
    return serve(app)


async def test_idempotent_requests_are_retried_and_plain_posts_are_not() -> None:
    flaky = Flaky({"/get": [503, 502], "/post": [503], "/keyed": [504], "/limited": [429]})
    async with serving(flaky) as url, Client(url, "k1") as relay:
        assert (await relay.call("GET", "/get")).status == 200
        assert (await relay.call("POST", "/post", json={})).status == 503  # may have applied
        assert (await relay.call("POST", "/keyed", json={}, idempotency_key="abc")).status == 200
        assert (await relay.call("POST", "/limited", json={})).status == 200  # 429: refused
    paths = [path for _, path, _, _ in flaky.seen]
    assert paths == ["/get"] * 3 + ["/post"] + ["/keyed"] * 2 + ["/limited"] * 2
    assert {auth for _, _, auth, _ in flaky.seen} == {"Bearer k1"}
    assert [key for _, path, _, key in flaky.seen if path == "/keyed"] == ["abc", "abc"]


async def test_retries_stop_after_the_last_try() -> None:
    flaky = Flaky({"/down": [503] * 10})
    async with serving(flaky) as url, Client(url, tries=3) as relay:
        status, answer = await relay.call("GET", "/down")
    assert status == 503 and answer["error"]["code"] == "unavailable"
    assert len(flaky.seen) == 3 and flaky.seen[0][2] is None  # no key, no header


async def test_a_server_that_is_not_there_is_one_clear_error() -> None:
    url = f"http://127.0.0.1:{free_port()}"
    async with Client(url, "k", tries=2) as relay:
        with pytest.raises(Unreachable, match=f"cannot reach {url}"):
            await relay.call("POST", "/v1/batches", json={})


def test_the_error_line(capsys: pytest.CaptureFixture[str]) -> None:
    assert failed(404, {"error": {"code": "not_found", "message": "no such batch"}}) == 1
    assert failed(502, "<html>\n<b>Bad gateway</b></html>") == 1
    err = capsys.readouterr().err.splitlines()
    assert err == [
        "relay: HTTP 404 not_found: no such batch",
        "relay: HTTP 502: <html> <b>Bad gateway</b></html>",
    ]
