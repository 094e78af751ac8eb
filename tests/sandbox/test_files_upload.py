"""POST /files/upload as the official SDK's files.upload sends it: the File it answers, the
size limit, the errors, the WRITE bucket; a run on an uploaded text file extracts from it."""

from __future__ import annotations

from collections.abc import AsyncIterator
from typing import Any

import aiohttp
import httpx
import pytest
from extend_ai import AsyncExtend
from extend_ai.core.api_error import ApiError
from extend_ai.core.request_options import RequestOptions
from extend_ai.errors import BadRequestError, TooManyRequestsError, UnauthorizedError
from extend_ai.types import File

from sandbox import Sandbox
from tests.sandbox.support import V2025, WF, headers
from tests.support.names import NAMES

NO_RETRY: RequestOptions = {"max_retries": 0}


@pytest.fixture
async def client(sb: Sandbox) -> AsyncIterator[AsyncExtend]:
    async with httpx.AsyncClient() as transport:
        yield AsyncExtend(token="sk_sandbox", base_url=sb.base_url, httpx_client=transport)


def configure(sb: Sandbox, patch: dict[str, Any]) -> None:
    sb.state.config = sb.state.config.patched(patch)


async def test_sdk_upload_answers_a_file(client: AsyncExtend, sb: Sandbox) -> None:
    made = await client.files.upload(file=("inv.txt", b"number: U-1\ntotal: 9", "text/plain"))
    assert isinstance(made, File)
    assert made.id.startswith("file_") and made.name == "inv.txt" and made.type == "TXT"
    (logged,) = sb.state.requests.select("/files/upload", "POST")
    assert logged.headers["content-type"].startswith("multipart/form-data")
    converted = await client.files.upload(file=("deck.pptx", b"PK..", "application/x"))
    assert converted.name == "deck.pdf" and converted.type == "PDF"
    asked = await client.files.upload(file=("scan.png", b"\x89PNG"), convert_to_pdf=True)
    assert asked.name == "scan.pdf"

    run = await client.workflow_runs.create(workflow={"id": WF}, file={"id": made.id})
    assert run.files[0].name == "inv.txt"
    async with (
        aiohttp.ClientSession() as http,
        http.post(sb.base_url + "/_sandbox/clock", json={"advance": 5}) as r,
    ):
        assert r.status == 200
    done = await client.workflow_runs.retrieve(run.id)
    (extract,) = [s for s in done.step_runs or [] if s.step_type == "EXTRACT"]
    assert extract.result.extract_run.output.value == {"number": "U-1", "total": 9}  # type: ignore[union-attr]


async def test_sdk_names_stored_as_sent(client: AsyncExtend, sb: Sandbox) -> None:
    """The SDK (httpx) writes each name raw, `"` as %22, `\\` doubled; python-multipart reads
    them back: the sandbox stores and answers the name the SDK was given, byte for byte."""
    for i, name in enumerate(NAMES):
        made = await client.files.upload(file=(name, f"%PDF {i}".encode(), "application/pdf"))
        assert made.name.encode() == name.encode()
        assert sb.state.files[made.id].name.encode() == name.encode()
    run = await client.workflow_runs.create(workflow={"id": WF}, file={"id": made.id})
    assert run.files[0].name == NAMES[-1]


async def test_sdk_upload_errors(client: AsyncExtend, sb: Sandbox) -> None:
    configure(sb, {"files": {"max_upload_bytes": 10}})
    with pytest.raises(ApiError) as err:
        await client.files.upload(file=("big.pdf", b"x" * 11), request_options=NO_RETRY)
    assert err.value.status_code == 413
    assert err.value.body["code"] == "FILE_TOO_LARGE"
    assert (await client.files.upload(file=("ok.pdf", b"x" * 10))).id  # at the limit: fine
    with pytest.raises(BadRequestError, match="empty"):
        await client.files.upload(file=("none.pdf", b""), request_options=NO_RETRY)
    async with httpx.AsyncClient() as transport:
        bad = AsyncExtend(token="sk_wrong", base_url=sb.base_url, httpx_client=transport)
        with pytest.raises(UnauthorizedError):
            await bad.files.upload(file=("a.pdf", b"%PDF"), request_options=NO_RETRY)
    configure(sb, {"rate_limits": {"write_rps": 1}})
    await client.files.upload(file=("a.pdf", b"%PDF"))
    with pytest.raises(TooManyRequestsError):
        await client.files.upload(file=("b.pdf", b"%PDF"), request_options=NO_RETRY)


async def test_raw_requests_without_a_file_part_and_2025_shape(sb: Sandbox) -> None:
    url = sb.base_url + "/files/upload"
    async with aiohttp.ClientSession() as http:
        async with http.post(url, json={"file": "x"}, headers=headers()) as r:
            assert r.status == 400 and (await r.json())["code"] == "INVALID_REQUEST"
        form = aiohttp.FormData()
        form.add_field("password", "secret")
        async with http.post(url, data=form, headers=headers()) as r:
            assert r.status == 400 and "file part" in (await r.json())["message"]
        form = aiohttp.FormData()
        form.add_field("file", b"%PDF-1.7", filename="old.pdf")
        async with http.post(url, data=form, headers=headers(V2025)) as r:
            body = await r.json()
    assert body["success"] is True and body["file"]["object"] == "file"
    assert body["file"]["name"] == "old.pdf"
