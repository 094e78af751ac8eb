"""File names byte for byte: a folder of real-world names goes disk -> `relay submit` (the CLI,
a subprocess) -> POST /v1/files -> Extend's upload (the sandbox, which parses multipart with
python-multipart, not aiohttp) -> runs -> results (.jsonl and .csv) -> notifications; and the
same names sent straight to POST /v1/files by curl -F, httpx, requests and RFC 5987."""

from __future__ import annotations

import asyncio
import csv
import os
import subprocess
from pathlib import Path
from typing import Any
from urllib.parse import quote

import httpx
import orjson
import pytest
import requests
from redis.asyncio import Redis

from tests.batches.support import WF, Stack, sandbox_config, stack
from tests.batches.test_cli_batches import relay
from tests.batches.test_files_in import CONFIG, api_site, uploads_seen
from tests.conftest import API_KEY, auth
from tests.notify.support import receiver
from tests.support.names import NAMES
from tests.support.wait import until
from tests.test_dashboard import CHROMIUM, CHROMIUM_ARGS

BOUNDARY = b"names-boundary-7c1f"
NOTIFY = {"CALLBACK_ALLOWED_HOSTS": "127.0.0.1", "NOTIFY_RETRY_SCHEDULE": "0,20ms,20ms"}


def stored_names(st: Stack) -> list[str]:
    return sorted(f.name for f in st.sb.state.files.values())


async def run_names(st: Stack) -> dict[int, str]:
    """Each run's file name on the platform, by the relay's file index."""
    runs = (await st.sandbox("GET", "/_sandbox/runs", workflowId=WF))["runs"]
    return {r["metadata"]["relayFileIndex"]: r["files"][0]["name"] for r in runs}


async def test_folder_names_reach_everything_exactly(
    redis_url: str, redis: Redis, tmp_path: Path
) -> None:
    folder = tmp_path / "real-names"
    folder.mkdir()
    for name in NAMES:  # the same bytes in each: every name must still reach the platform
        (folder / name).write_bytes(b"%PDF-1.7 one content under many names")
    (folder / "2025").mkdir()
    (folder / "2025" / "a%20b.pdf").write_bytes(b"%PDF-1.7 the other a%20b.pdf")
    # The files in path order, each by its own name (never its folder).
    in_order = [p.name for p in sorted(folder.rglob("*")) if p.is_file()]
    assert len(in_order) == len(NAMES) + 1
    async with (
        receiver() as rec,
        stack(redis_url, sandbox_config(**CONFIG), **NOTIFY) as st,
        api_site(st) as base,
    ):
        st.start_worker()
        env = {"RELAY_URL": base, "RELAY_API_KEY": API_KEY, "REDIS_URL": redis_url}
        code, out, err = await relay(
            *("submit", "--workflow", WF, "--wait", "--callback", rec.url),
            *("--callback-events", "run.completed", str(folder)),
            env=env,
        )
        assert code == 0, err
        assert "are both named 'a%20b.pdf'" in err
        batch_id = out.splitlines()[0]
        jsonl, table = tmp_path / "out.jsonl", tmp_path / "out.csv"
        for target in (jsonl, table):
            code, _, err = await relay("results", batch_id, "-o", str(target), env=env)
            assert code == 0, err
        await until(lambda: len(rec.of_type("run.completed")) == len(in_order))
        assert stored_names(st) == sorted(in_order)  # what the platform's upload stored
        by_run = await run_names(st)
    lines = [orjson.loads(x) for x in jsonl.read_bytes().splitlines()]
    with table.open(encoding="utf-8", newline="") as f:
        rows = list(csv.DictReader(f))
    told = {
        r.json["data"]["fileIndex"]: r.json["data"]["file"]["name"]
        for r in rec.of_type("run.completed")
    }
    for i, name in enumerate(in_order):
        assert by_run[i].encode() == name.encode()
        assert lines[i]["fileIndex"] == i and lines[i]["file"]["name"].encode() == name.encode()
        assert rows[i]["name"].encode() == name.encode()
        assert told[i].encode() == name.encode()
    assert str(tmp_path) not in jsonl.read_text(encoding="utf-8")  # never the local path


def curl_upload(base: str, folder: Path, name: str) -> Any:
    """curl -F as a user types it; curl writes the multipart body (and the name) itself."""
    quoted = name.replace("\\", "\\\\").replace('"', '\\"')  # curl's @"..." syntax
    auth_header = f"Authorization: Bearer {API_KEY}"
    done = subprocess.run(
        [
            "curl",
            "-sS",
            "--max-time",
            "30",
            "-H",
            auth_header,
            "-F",
            f'file=@"{quoted}"',
            base + "/v1/files",
        ],
        cwd=folder,
        capture_output=True,
        check=True,
        timeout=60,
    )
    return orjson.loads(done.stdout)


def requests_upload(base: str, name: str, content: bytes) -> Any:
    answer = requests.post(
        base + "/v1/files", files={"file": (name, content)}, headers=auth(), timeout=30
    )
    return answer.json()


def form_body(disposition: bytes, content: bytes) -> tuple[bytes, dict[str, str]]:
    """A one-part multipart body written by hand, with exactly this Content-Disposition."""
    head = b"--%s\r\nContent-Disposition: %s\r\nContent-Type: application/pdf\r\n\r\n"
    body = head % (BOUNDARY, disposition) + content + b"\r\n--%s--\r\n" % BOUNDARY
    return body, {"content-type": "multipart/form-data; boundary=" + BOUNDARY.decode()}


def rfc5987(name: str) -> bytes:
    """The name only in filename*, with a plain fallback that must lose."""
    return f'form-data; name="file"; filename="fallback.pdf"; filename*=UTF-8\'\'{quote(name, safe="")}'.encode()


async def test_clients_straight_to_files_api(redis_url: str, redis: Redis, tmp_path: Path) -> None:
    for i, name in enumerate(NAMES):
        (tmp_path / name).write_bytes(f"curl {i}".encode())
    async with (
        stack(redis_url, sandbox_config(**CONFIG)) as st,
        api_site(st) as base,
        httpx.AsyncClient(headers=auth(), timeout=30) as client,
    ):
        answers: dict[str, list[str]] = {"curl": [], "httpx": [], "requests": [], "rfc5987": []}
        for i, name in enumerate(NAMES):
            got = await asyncio.to_thread(curl_upload, base, tmp_path, name)
            answers["curl"].append(got["name"])
            files = {"file": (name, f"httpx {i}".encode())}
            answers["httpx"].append(
                (await client.post(base + "/v1/files", files=files)).json()["name"]
            )
            got = await asyncio.to_thread(requests_upload, base, name, f"requests {i}".encode())
            answers["requests"].append(got["name"])
            body, kind = form_body(rfc5987(name), f"rfc5987 {i}".encode())
            sent = await client.post(base + "/v1/files", content=body, headers=kind)
            answers["rfc5987"].append(sent.json()["name"])
        assert await uploads_seen(st) == 4 * len(NAMES)  # every content its own upload
        stored = stored_names(st)
    for client_name, names in answers.items():
        assert [n.encode() for n in names] == [n.encode() for n in NAMES], client_name
    assert stored == sorted(NAMES * 4)


UPLOAD_IN_PAGE = """async ([names, key]) => {
    const out = [];
    for (const [i, name] of names.entries()) {
        const form = new FormData();
        form.append("file", new File([`browser ${i}`], name, {type: "application/pdf"}));
        const answer = await fetch("/v1/files", {
            method: "POST", body: form, headers: {Authorization: `Bearer ${key}`},
        });
        out.push((await answer.json()).name);
    }
    return out;
}"""


@pytest.mark.skipif(
    not Path(CHROMIUM).exists() and os.environ.get("CI") != "true",
    reason="Debian's chromium is not installed (apt-get install chromium); CI always runs this",
)
async def test_browser_form_upload(redis_url: str, redis: Redis) -> None:
    """Chromium's own FormData encoder (the WHATWG form encoding) posts each name."""
    from playwright.async_api import async_playwright

    async with stack(redis_url, sandbox_config(**CONFIG)) as st, api_site(st) as base:
        async with async_playwright() as pw:
            browser = await pw.chromium.launch(executable_path=CHROMIUM, args=CHROMIUM_ARGS)
            try:
                page = await browser.new_page()
                await page.goto(base + "/")  # the relay's own origin: no CORS in the way
                answered = await page.evaluate(UPLOAD_IN_PAGE, [NAMES, API_KEY])
            finally:
                await browser.close()
        stored = stored_names(st)
    assert [n.encode() for n in answered] == [n.encode() for n in NAMES]
    assert stored == sorted(NAMES)


async def test_names_that_cannot_be_uploaded(redis_url: str, redis: Redis, tmp_path: Path) -> None:
    async with (
        stack(redis_url, sandbox_config(**CONFIG)) as st,
        api_site(st) as base,
        httpx.AsyncClient(headers=auth(), timeout=30) as client,
    ):
        url = base + "/v1/files"
        slash = await client.post(url, files={"file": ("scans/a.pdf", b"%PDF")})
        assert slash.status_code == 400 and "contains '/'" in slash.json()["error"]["message"]
        body, kind = form_body(rfc5987("a\x00b.pdf"), b"%PDF")
        nul = await client.post(url, content=body, headers=kind)
        assert nul.status_code == 400 and "U+0000" in nul.json()["error"]["message"]
        body, kind = form_body(b'form-data; name="file"; filename="caf\xe9.pdf"', b"%PDF")
        bad = await client.post(url, content=body, headers=kind)
        assert bad.status_code == 400 and "not UTF-8" in bad.json()["error"]["message"]
        # A local file whose name holds a line break: refused before anything is uploaded.
        (tmp_path / "ok.pdf").write_bytes(b"%PDF ok")
        (tmp_path / "line\nbreak.pdf").write_bytes(b"%PDF nl")
        env = {"RELAY_URL": base, "RELAY_API_KEY": API_KEY, "REDIS_URL": redis_url}
        code, _, err = await relay("submit", "--workflow", WF, str(tmp_path), env=env)
        assert code == 2 and "U+000A" in err and "break.pdf" in err
        assert await uploads_seen(st) == 0
