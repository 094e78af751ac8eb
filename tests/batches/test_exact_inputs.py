"""Metadata and texts reach the platform exactly as the producer gave them (non-ASCII, NFD,
control characters, 64-bit integers, a 1 MiB text, metadata close to the limit); what the
platform cannot take is a 400 naming the field, before anything is stored or sent."""

from __future__ import annotations

import io
import json
import unicodedata
from typing import Any

import orjson
import pytest
from redis.asyncio import Redis

from relay_core.batches.metadata import LIMIT, RELAY_KEYS
from tests.batches.support import WF, Stack, sandbox_config, stack

NFD = unicodedata.normalize("NFD", "Société Générale")
BATCH_META: dict[str, Any] = {
    "client": NFD,
    "note": "請求書 🧾 «ok»\ttab\r\nline\u0000nul",
    "numbers": [2**64 - 1, -(2**63), 2.5, 0.1, True, None],
    "nested": {"ключ": {"emoji": "👩‍👩‍👧"}},
}
TEXT = ("Grüße 請求書 🧾 total: 12,50 €\r\n" * 40_000)[: 1024 * 1024]  # 1 Mi characters


def padded(meta: dict[str, Any], extra: dict[str, Any]) -> dict[str, Any]:
    """`extra` with a pad that brings the merged metadata to the relay's limit exactly."""
    size = len(orjson.dumps({**meta, **extra, "pad": ""}))
    return {**extra, "pad": "é" * ((LIMIT - size) // 2)}


async def post_raw(st: Stack, body: bytes) -> tuple[int, Any]:
    async with st.http.post(
        st.base_url + "/v1/batches",
        data=io.BytesIO(body),
        headers=st.headers(**{"content-type": "application/json"}),
    ) as resp:
        return resp.status, await resp.json()


async def test_metadata_and_text_arrive_exactly(redis_url: str, redis: Redis) -> None:
    files: list[dict[str, Any]] = [
        {"url": "https://files.example/a.pdf", "metadata": padded(BATCH_META, {"row": "ü-1"})},
        {"text": TEXT, "name": "note été.txt", "metadata": {"row": 2**63 - 1}},
        {"url": "https://files.example/b.pdf", "name": unicodedata.normalize("NFD", "é.pdf")},
    ]
    assert len(orjson.dumps({**BATCH_META, **files[0]["metadata"]})) in (LIMIT - 1, LIMIT)
    async with stack(redis_url, sandbox_config()) as st:
        st.start_worker()
        body = {"workflowId": WF, "files": files, "metadata": BATCH_META}
        status, answer = await post_raw(st, orjson.dumps(body))  # 1.5 MB: streamed
        assert status == 202, answer
        await st.wait_done(answer["batchId"])
        runs = (await st.sandbox("GET", "/_sandbox/runs", workflowId=WF))["runs"]
    by_index = {r["metadata"]["relayFileIndex"]: r for r in runs}
    for i, sent in enumerate(files):
        run = by_index[i]
        mine = {k: v for k, v in run["metadata"].items() if k not in RELAY_KEYS}
        assert orjson.dumps(mine) == orjson.dumps({**BATCH_META, **sent.get("metadata", {})})
    assert by_index[1]["files"][0]["text"].encode() == TEXT.encode()
    assert by_index[1]["files"][0]["name"] == "note été.txt"
    assert by_index[2]["files"][0]["name"].encode() == files[2]["name"].encode()


REFUSED = [
    ({"metadata": {"x": "é" * (LIMIT // 2)}}, "metadata: metadata is larger than"),
    (
        {"metadata": {"x": "é" * (LIMIT // 4)}, "files": [{"metadata": {"y": "é" * (LIMIT // 4)}}]},
        "files[0].metadata: with the batch metadata it is too large",
    ),
    ({"files": [{"metadata": {"relayBatchId": "mine"}}]}, "files[0].metadata: relayBatchId is"),
    ({"metadata": {"acct": {"n": 2**64}}}, "metadata: acct.n is an integer beyond 64 bits"),
    ({"metadata": {"f": [1, "1e400"]}}, "metadata: f[1] is not a finite number"),
    ({"metadata": {"s": "\\ud800"}}, "metadata: s is not valid Unicode"),
]


def raw_body(case: dict[str, Any]) -> bytes:
    """The request as JSON text; `"1e400"` and `"\\ud800"` are written as bare JSON tokens."""
    files = [{"url": "https://files.example/a.pdf", **f} for f in case.get("files", [{}])]
    body = {"workflowId": WF, **case, "files": files}
    return json.dumps(body).encode().replace(b'"1e400"', b"1e400").replace(b"\\\\ud800", b"\\ud800")


@pytest.mark.parametrize(("case", "message"), REFUSED)
async def test_what_the_platform_cannot_take_is_refused_by_name(
    redis_url: str, redis: Redis, case: dict[str, Any], message: str
) -> None:
    async with stack(redis_url, sandbox_config()) as st:
        st.start_worker()
        status, answer = await post_raw(st, raw_body(case))
        assert status == 400 and answer["error"]["message"].startswith(message), answer
        # A big body (read in slices by relay_core.intake) says the same.
        status, answer = await post_raw(st, raw_body(case)[:-1] + b" " * (300 * 1024) + b"}")
        assert status == 400 and answer["error"]["message"].startswith(message), answer
        status, listed = await st.call("GET", "/v1/batches")
        assert listed["batches"] == []
        assert await st.requests("/workflow_runs/batch") == []


async def test_2025_refuses_per_file_metadata(redis_url: str, redis: Redis) -> None:
    async with stack(redis_url, sandbox_config(), EXTEND_API_VERSION="2025-04-21") as st:
        st.start_worker()
        status, answer = await st.call(
            "POST",
            "/v1/batches",
            {
                "workflowId": WF,
                "metadata": BATCH_META,
                "files": [{"url": "https://files.example/a.pdf", "metadata": {"row": 1}}],
            },
        )
        assert status == 400
        assert answer["error"]["message"].startswith("files[0].metadata: the 2025-04-21 API")
        batch_id = await st.submit([{"url": "https://files.example/a.pdf"}], metadata=BATCH_META)
        await st.wait_done(batch_id)
        (run,) = (await st.sandbox("GET", "/_sandbox/runs", workflowId=WF))["runs"]
    mine = {k: v for k, v in run["metadata"].items() if k not in RELAY_KEYS}
    assert orjson.dumps(mine) == orjson.dumps(BATCH_META)
