"""Files in: POST /v1/files passes one local file on to Extend's upload (once per content);
POST /v1/files/lookup says which files (content and name) are uploaded already (a resumed upload skips them).

The relay uploads, not the caller, so every producer's uploads share the fleet's WRITE limit
and its memory of what was uploaded (relay_core.batches.uploads).
"""

from __future__ import annotations

import re
from collections.abc import Callable

import aiohttp
import orjson
from aiohttp import web
from pydantic import BaseModel, Field, ValidationError

from ingest.appkeys import PLATFORM_HTTP, REDIS, SETTINGS
from ingest.auth import require_api_key
from ingest.responses import json_response
from relay_core.batches import uploads
from relay_core.batches.filenames import read_disposition
from relay_core.batches.models import describe
from relay_core.batches.uploads import Uploads
from relay_core.errors import ApiError, InvalidRequest, PayloadTooLarge, Unavailable
from relay_core.platforms.http import PlatformError
from relay_core.settings import ConfigError

MAX_LOOKUP = 1000
_SHA = re.compile(r"^[0-9a-f]{64}$")


class NamedFile(BaseModel):
    sha256: str = Field(description="hex sha256 of the content")
    name: str = Field(description="the file's name, exactly as it is uploaded")


class LookupRequest(BaseModel):
    named: list[NamedFile] = Field(
        default_factory=list,
        max_length=MAX_LOOKUP,
        description="content and name of each file: found only when uploaded under that name",
    )
    sha256: list[str] = Field(
        default_factory=list,
        max_length=MAX_LOOKUP,
        description="Deprecated (kept for one release): by content alone, whatever the name "
        "it was uploaded under; use `named`.",
    )


class LookupAnswer(BaseModel):
    named: list[str | None] = Field(
        description="for each `named` entry, in order: its Extend file id, or null"
    )
    files: dict[str, str] = Field(
        description="for the deprecated `sha256` list: sha256 -> a file id of that content"
    )


class FileAnswer(BaseModel):
    id: str
    name: str
    sha256: str
    reused: bool


def _uploads(request: web.Request) -> Uploads:
    try:
        return Uploads(request.app[REDIS], request.app[SETTINGS], request.app[PLATFORM_HTTP])
    except ConfigError as exc:
        raise Unavailable(str(exc), code="not_configured") from None


async def upload_file(request: web.Request) -> web.Response:
    """Upload one file to Extend (skipped when the same content was uploaded before). The
    `file` part's filename (raw UTF-8, or filename*=UTF-8''...) names it, byte for byte."""
    require_api_key(request, "submit")
    limit = request.app[SETTINGS].batches.upload_max_bytes
    if not request.content_type.startswith("multipart/"):
        raise InvalidRequest("send multipart/form-data with a `file` part")
    try:
        name, content = await _file_part(request, limit)
    except (ValueError, AssertionError, aiohttp.ClientPayloadError) as exc:
        raise InvalidRequest(f"malformed multipart body: {exc}") from None
    if name is None:
        raise InvalidRequest("a `file` part is required")
    if not content:
        raise InvalidRequest("the file is empty")
    try:
        done = await _uploads(request).upload(name, content, request.query.get("sha256"))
    except ValueError as exc:
        raise InvalidRequest(str(exc)) from None
    except PlatformError as exc:
        if exc.retryable:
            raise Unavailable(f"Extend's upload is failing: {exc}") from None
        raise ApiError(str(exc), code="upload_rejected", status=422) from None
    body = {"id": done.file_id, "name": done.name, "sha256": done.sha256, "reused": done.reused}
    return json_response(body)


async def _file_part(request: web.Request, limit: int) -> tuple[str | None, bytes]:
    """The `file` part's name and content. The name is read by relay_core.batches.filenames, not by
    aiohttp (which strips leading slashes and misreads a quoted `;`): raw UTF-8 as browsers,
    curl and httpx send it, or RFC 5987's filename*; never percent-decoded."""
    name, content = None, b""
    reader = await request.multipart()
    while (part := await reader.next()) is not None:
        if not isinstance(part, aiohttp.BodyPartReader):
            continue
        try:
            field, filename = read_disposition(part.headers.get("Content-Disposition", ""))
        except ValueError as exc:
            raise InvalidRequest(str(exc)) from None
        if field == "file":
            name = "file" if filename is None else filename
            data = bytearray()
            while chunk := await part.read_chunk():
                data += chunk
                if len(data) > limit:  # stop reading at once: the rest is never held
                    raise PayloadTooLarge(f"a file may have at most {limit} bytes")
            content = bytes(data)
    return name, content


async def lookup_files(request: web.Request) -> web.Response:
    """Which of these files (content and name) are uploaded already, with their file ids."""
    require_api_key(request, "submit")
    try:
        body = LookupRequest.model_validate(orjson.loads(await request.read() or b"{}"))
    except orjson.JSONDecodeError:
        raise InvalidRequest("body must be a JSON object") from None
    except ValidationError as exc:
        raise InvalidRequest(describe(exc)) from None
    bad = next((h for h in body.sha256 if not _SHA.match(h)), None)
    if bad is not None:
        raise InvalidRequest(f"sha256: {bad!r} is not a lowercase hex sha256")
    for i, item in enumerate(body.named):
        if not _SHA.match(item.sha256):
            raise InvalidRequest(
                f"named[{i}].sha256: {item.sha256!r} is not a lowercase hex sha256"
            )
    redis = request.app[REDIS]
    pairs = [(item.sha256, item.name) for item in body.named]
    named = await uploads.known_named(redis, pairs)
    return json_response({"named": named, "files": await uploads.known(redis, body.sha256)})


def add_files_routes(add: Callable[..., None]) -> None:
    add(
        "POST /v1/files",
        upload_file,
        "files",
        FileAnswer,
        errors=(400, 413, 422, 503),
    )
    add(
        "POST /v1/files/lookup",
        lookup_files,
        "files-lookup",
        LookupAnswer,
        body=LookupRequest,
        errors=(400, 503),
    )
