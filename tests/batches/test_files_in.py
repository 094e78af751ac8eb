"""Files in: local files uploaded through the relay to the sandbox's POST /files/upload, each
content once (an interrupted upload resumes), by `relay submit` and by the Python producer."""

from __future__ import annotations

import contextlib
from collections.abc import AsyncIterator
from pathlib import Path
from typing import Any

import aiohttp
import orjson
from redis.asyncio import Redis

from ingest.app import create_app
from relay_core import keys
from relay_core.batches.producer import Producer
from tests.batches.support import WF, Stack, sandbox_config, stack
from tests.batches.test_cli_batches import relay
from tests.conftest import API_KEY, auth
from tests.sandbox.support import STEPS
from tests.support.site import serve

CONFIG = {"workflows": {"extend": [{"id": WF, "name": "Inv", "steps": STEPS}]}}


@contextlib.asynccontextmanager
async def api_site(st: Stack) -> AsyncIterator[str]:
    """A web process that reaches the sandbox (the stack's own one answers webhooks only)."""
    async with serve(create_app(st.settings)) as url:
        yield url


def invoice_folder(root: Path, n: int) -> Path:
    folder = root / "invoices"
    for i in range(n):
        sub = folder / ("2025" if i % 2 else "2026")
        sub.mkdir(parents=True, exist_ok=True)
        (sub / f"inv-{i:02d}.txt").write_text(f"number: F-{i}\ntotal: {i}")
    (folder / ".DS_Store").write_text("hidden")  # hidden entries are skipped
    return folder


async def uploads_seen(st: Stack) -> int:
    logged = (await st.sandbox("GET", "/_sandbox/requests", path="/files/upload"))["requests"]
    return sum(1 for r in logged if r["status"] == 200)


async def post_file(
    http: aiohttp.ClientSession, base: str, name: str, content: bytes
) -> tuple[int, Any]:
    form = aiohttp.FormData()
    form.add_field("file", content, filename=name)
    async with http.post(base + "/v1/files", data=form, headers=auth()) as resp:
        return resp.status, await resp.json()


async def test_upload_api_once_per_content_and_name(redis_url: str, redis: Redis) -> None:
    async with (
        stack(redis_url, sandbox_config(**CONFIG), UPLOAD_MAX_BYTES="2048") as st,
        api_site(st) as base,
    ):
        first = await post_file(st.http, base, "a.txt", b"number: A")
        again = await post_file(st.http, base, "a.txt", b"number: A")
        copy = await post_file(st.http, base, "copy.txt", b"number: A")
        assert first[0] == 200 and first[1]["id"].startswith("file_") and not first[1]["reused"]
        assert again[1] == {**first[1], "reused": True}
        # The same bytes under another name are another file: the platform shows its own name.
        assert copy[0] == 200 and not copy[1]["reused"] and copy[1]["id"] != first[1]["id"]
        assert await uploads_seen(st) == 2
        stored = {f.id: f.name for f in st.sb.state.files.values()}
        assert stored[first[1]["id"]] == "a.txt" and stored[copy[1]["id"]] == "copy.txt"
        assert await redis.exists(keys.rate("extend:WRITE"))  # the shared WRITE bucket
        digest = first[1]["sha256"]
        named = [
            {"sha256": digest, "name": "a.txt"},
            {"sha256": digest, "name": "A.txt"},
            {"sha256": "0" * 64, "name": "a.txt"},
        ]
        status, found = await st.call("POST", "/v1/files/lookup", {"named": named})
        assert status == 200 and found["named"] == [first[1]["id"], None, None]
        # The deprecated form still answers by content alone (a file of that content).
        status, found = await st.call("POST", "/v1/files/lookup", {"sha256": [digest, "0" * 64]})
        assert status == 200 and set(found["files"]) == {digest}
        bad = {"named": [{"sha256": "XYZ", "name": "a.txt"}]}
        status, found = await st.call("POST", "/v1/files/lookup", bad)
        assert status == 400 and "named[0].sha256" in found["error"]["message"]
        assert (await post_file(st.http, base, "big.pdf", b"x" * 2049))[0] == 413
        assert (await post_file(st.http, base, "empty.pdf", b""))[0] == 400
        st.sb.state.config = st.sb.state.config.patched({"files": {"max_upload_bytes": 5}})
        status, body = await post_file(st.http, base, "b.txt", b"number: B")
        assert status == 422 and body["error"]["code"] == "upload_rejected"
        async with st.http.post(base + "/v1/files", json={}, headers=auth()) as resp:
            assert resp.status == 400


async def test_relay_submit_folder_resumes_and_runs(
    redis_url: str, redis: Redis, tmp_path: Path
) -> None:
    folder = invoice_folder(tmp_path, 12)
    ids = tmp_path / "ids.txt"
    ids.write_text("file_external_1\n")
    text = tmp_path / "note.txt"
    text.write_text("number: TXT-1")
    async with stack(redis_url, sandbox_config(**CONFIG)) as st, api_site(st) as base:
        st.start_worker()
        env = {"RELAY_URL": base, "RELAY_API_KEY": API_KEY, "REDIS_URL": redis_url}
        # An upload stopped at its 9th file: the sandbox refuses it (files go in name order).
        st.sb.state.config = st.sb.state.config.patched({"files": {"max_upload_bytes": 30}})
        (folder / "2026" / "inv-04.txt").write_text("number: F-4\ntotal: 4\n" + "x" * 50)
        args = ["submit", "--workflow", WF, "--concurrency", "1", str(folder)]
        code, _, err = await relay(*args, env=env)
        assert code == 1 and "run the same command again" in err
        before = await uploads_seen(st)
        assert before == 8  # 2025/ (6 files), then 2026/inv-00 and inv-02

        st.sb.state.config = st.sb.state.config.patched({"files": {"max_upload_bytes": 10**6}})
        url = "https://files.example/u.pdf?number=URL-1"
        args = [*args[:-1], "--wait", "--ids", str(ids), "--texts", str(text), str(folder), url]
        code, out, err = await relay(*args, env=env)
        assert code == 0, err
        assert f"{12 - before} files uploaded, {before} already there" in err
        assert await uploads_seen(st) == 12
        batch_id = out.splitlines()[0]
        async with st.http.get(f"{base}/v1/batches/{batch_id}/results", headers=auth()) as resp:
            lines = [orjson.loads(x) for x in (await resp.read()).splitlines()]
    assert len(lines) == 15 and all(x["status"] == "PROCESSED" for x in lines)
    names = [x["file"].get("name") for x in lines[:12]]
    assert names[0] == "inv-01.txt" and ".DS_Store" not in str(names)  # its own name
    assert lines[0]["outputs"] == {"number": "F-1", "total": 1}  # extracted from the upload
    assert lines[12]["outputs"] == {"number": "URL-1"}
    assert lines[13]["file"] == {"id": "file_external_1"}
    assert lines[14]["outputs"] == {"number": "TXT-1"}


async def test_python_producer_uploads_once(redis_url: str, redis: Redis, tmp_path: Path) -> None:
    folder = invoice_folder(tmp_path, 4)
    async with stack(redis_url, sandbox_config(**CONFIG)) as st:
        producer = Producer(redis, st.settings)
        files = await producer.upload_files([folder, str(tmp_path / "invoices" / "2026" / "*.txt")])
        assert len(files) == 6 and all(f["id"].startswith("file_") for f in files)
        assert files[0]["name"] == "inv-01.txt"  # its own name, not its folder
        assert await uploads_seen(st) == 4  # the glob's two files were uploaded already
        again = await producer.upload_files([folder])
        assert again == files[:4] and await uploads_seen(st) == 4
        accepted = await producer.submit({"workflowId": WF, "files": files})
        st.start_worker()
        view = await st.wait_done(accepted.batchId)
    assert view["runs"]["PROCESSED"] == 6
