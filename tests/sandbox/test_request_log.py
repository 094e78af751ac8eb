"""The request log's headers and bodies: opt-in per query, capped, kept for the last N requests."""

from __future__ import annotations

from typing import Any

import aiohttp
import orjson

from sandbox import Sandbox
from tests.sandbox.support import V2026, WF, control, headers

XP = "11111111-1111-4111-8111-111111111111"


async def logged(http: aiohttp.ClientSession, sb: Sandbox, query: str = "") -> list[Any]:
    return list((await control(http, sb, "GET", f"requests?{query}"))["requests"])


async def deploy(http: aiohttp.ClientSession, sb: Sandbox, body: Any) -> None:
    url = f"{sb.base_url}/workflows/{WF}/versions"
    sent = {**headers(V2026), "content-type": "application/json"}
    async with http.post(url, data=orjson.dumps(body), headers=sent) as resp:
        assert resp.status == 200, await resp.text()


async def test_default_entries_stay_lean(sb: Sandbox, http: aiohttp.ClientSession) -> None:
    await deploy(http, sb, {"name": "v2"})
    (entry,) = await logged(http, sb)
    assert "headers" not in entry
    assert "body" not in entry
    assert entry["bodyBytes"] == len(b'{"name":"v2"}')


async def test_headers_and_json_body(sb: Sandbox, http: aiohttp.ClientSession) -> None:
    await deploy(http, sb, {"name": "v2", "steps": None})
    (entry,) = await logged(http, sb, "include=headers,body")
    # Names lowercased; auth headers recorded as sent (a local test tool, not a service).
    assert entry["headers"]["authorization"] == "Bearer sk_sandbox"
    assert entry["headers"]["x-extend-api-version"] == V2026
    assert entry["headers"]["content-type"] == "application/json"
    assert entry["body"] == {"name": "v2", "steps": None}
    assert (entry["bodyKept"], entry["bodyTruncated"]) == (True, False)


async def test_text_empty_and_repeated_header(sb: Sandbox, http: aiohttp.ClientSession) -> None:
    url = f"{sb.xpander_base_url}/v1/workflows/{XP}"
    sent = [("x-api-key", "xp_sandbox"), ("X-Tag", "a"), ("X-Tag", "b")]
    async with http.put(url, headers=sent) as resp:
        assert resp.status == 200
    async with http.post(sb.base_url + "/workflows", data=b"not json", headers=headers()) as resp:
        assert resp.status == 400
    put, post = await logged(http, sb, "include=body,headers")
    assert put["headers"]["x-tag"] == "a, b"
    assert put["headers"]["x-api-key"] == "xp_sandbox"
    assert (put["body"], put["bodyBytes"], put["bodyKept"]) == (None, 0, True)
    assert post["body"] == "not json"
    only_body = await logged(http, sb, "include=body")
    assert "headers" not in only_body[0]


async def test_bodies_are_capped(sb: Sandbox, http: aiohttp.ClientSession) -> None:
    await control(http, sb, "POST", "config", {"request_log": {"max_body_bytes": 8}})
    await deploy(http, sb, {"name": "a long version name"})
    (entry,) = await logged(http, sb, "include=body")
    assert entry["body"] == '{"name":'
    assert entry["bodyTruncated"] is True
    assert entry["bodyBytes"] == len(b'{"name":"a long version name"}')


async def test_only_the_last_bodies_are_kept(sb: Sandbox, http: aiohttp.ClientSession) -> None:
    await control(http, sb, "POST", "config", {"request_log": {"keep_bodies": 2}})
    for name in ("a", "b", "c"):
        await deploy(http, sb, {"name": name})
    entries = await logged(http, sb, "include=headers,body")
    assert [e["body"] for e in entries] == [None, {"name": "b"}, {"name": "c"}]
    assert [e["bodyKept"] for e in entries] == [False, True, True]
    assert all(e["headers"]["authorization"] == "Bearer sk_sandbox" for e in entries)
    assert sb.state.requests.bodies_kept == 2

    await control(http, sb, "POST", "config", {"request_log": {"keep_bodies": 0}})
    await deploy(http, sb, {"name": "d"})
    assert [e["bodyKept"] for e in await logged(http, sb, "include=body")] == [False] * 4
    assert sb.state.requests.bodies_kept == 0


async def test_unknown_include_is_400(sb: Sandbox, http: aiohttp.ClientSession) -> None:
    async with http.get(f"{sb.base_url}/_sandbox/requests?include=headers,cookies") as resp:
        assert resp.status == 400
        assert "body, headers" in (await resp.json())["error"]
