"""Extend's file upload: POST /files/upload, multipart/form-data, as the SDK's files.upload sends.

A `file` part (its filename names the file, stored as python-multipart reads it: see
sandbox.extend.formparts), an optional `password` part, `?convertToPdf=true`.
Counted in the WRITE bucket. Answers the File object (2025-04-21 wraps it as {success, file}).
Errors: no multipart body or no `file` part 400, an empty file 400, a file over
`files.max_upload_bytes` 413 (Extend's limit is UNCONFIRMED; the status is a careful choice).
Word and PowerPoint files come back as PDFs, as Extend converts them.
"""

from __future__ import annotations

import posixpath

from aiohttp import web

from sandbox.appkeys import STATE
from sandbox.errors import ApiError, bad_request
from sandbox.extend.formparts import MalformedForm, parse_form
from sandbox.extend.gate import gate
from sandbox.extend.inputs import file_type
from sandbox.extend.models import Dialect, UploadedFile
from sandbox.ids import iso

_CONVERTED = {".doc", ".docx", ".ppt", ".pptx"}
_TEXT = {".txt", ".json", ".csv", ".md", ".xml", ".html"}


async def _parts(request: web.Request) -> dict[str, tuple[str | None, bytes]]:
    """The form's parts by name (the first of each), read by python-multipart
    (sandbox.extend.formparts). The middleware has read the body already."""
    if not request.content_type.startswith("multipart/"):
        raise bad_request("This endpoint requires multipart/form-data with a file part")
    try:
        parts = parse_form(request.headers["Content-Type"], await request.read())
    except MalformedForm as exc:
        raise bad_request(f"Malformed multipart body: {exc}") from None
    found: dict[str, tuple[str | None, bytes]] = {}
    for part in parts:
        if part.name:
            found.setdefault(part.name, (part.filename, bytes(part.data)))
    return found


async def upload_file(request: web.Request) -> web.Response:
    dialect = gate(request, "WRITE")
    state = request.app[STATE]
    parts = await _parts(request)
    if "file" not in parts:
        raise bad_request("A file part is required")
    filename, content = parts["file"]
    limit = state.config.files.max_upload_bytes
    if len(content) > limit:
        raise ApiError(413, f"File is larger than {limit} bytes", code="FILE_TOO_LARGE")
    if not content:
        raise bad_request("The file is empty")
    name = filename or "file"  # kept as the parser gave it
    ext = posixpath.splitext(name.lower())[1]
    if ext in _CONVERTED or request.query.get("convertToPdf") == "true":
        name = posixpath.splitext(name)[0] + ".pdf"
    text = None
    if ext in _TEXT and len(content) <= state.config.files.keep_text_bytes:
        text = content.decode("utf-8", errors="replace")
    f = UploadedFile(
        state.ids.make("file_"), name, file_type(name), len(content), state.clock.now(), text
    )
    state.files[f.id] = f
    body = file_json(f)
    return web.json_response({"success": True, "file": body} if dialect is Dialect.V2025 else body)


def file_json(f: UploadedFile) -> dict[str, object]:
    return {
        "object": "file",
        "id": f.id,
        "name": f.name,
        "type": f.type,
        "parentFileId": None,
        "contents": None,
        "metadata": {},
        "createdAt": iso(f.created_at),
        "updatedAt": iso(f.created_at),
    }


def add_routes(router: web.UrlDispatcher) -> None:
    router.add_post("/files/upload", upload_file)
