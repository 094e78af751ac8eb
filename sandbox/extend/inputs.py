"""Validation of run and batch request bodies in both dialects, down to a list of RunSpecs."""

from __future__ import annotations

import posixpath
import re
from dataclasses import dataclass, field
from typing import Any
from urllib.parse import unquote, urlsplit

import orjson

from sandbox.errors import bad_request

MAX_RUN_FILES = 50
MAX_BATCH_INPUTS = 1000
MAX_METADATA_BYTES = 10 * 1024
_TYPES = {
    ".pdf": "PDF",
    ".csv": "CSV",
    ".txt": "TXT",
    ".docx": "DOCX",
    ".doc": "DOCX",
    ".xlsx": "EXCEL",
    ".xls": "EXCEL",
    ".xml": "XML",
    ".html": "HTML",
    ".htm": "HTML",
    **{ext: "IMG" for ext in (".png", ".jpg", ".jpeg", ".gif", ".tif", ".tiff", ".webp", ".bmp")},
}
_TAG_JUNK = re.compile(r"[^A-Za-z0-9_-]")


@dataclass(slots=True)
class FileSpec:
    name: str | None
    url: str | None = None
    file_id: str | None = None
    text: str | None = None


@dataclass(slots=True)
class RunSpec:
    files: list[FileSpec]
    metadata: dict[str, Any] = field(default_factory=dict)


@dataclass(slots=True)
class RunRequest:
    workflow_id: str
    version: str | None
    priority: int
    specs: list[RunSpec]


def file_type(name: str) -> str | None:
    return _TYPES.get(posixpath.splitext(name.lower())[1])


def name_from_url(url: str) -> str:
    return unquote(posixpath.basename(urlsplit(url).path)) or "file"


def _obj(value: Any, what: str) -> dict[str, Any]:
    if not isinstance(value, dict):
        raise bad_request(f"{what} must be an object")
    return value


def _opt_str(body: dict[str, Any], key: str, what: str) -> str | None:
    value = body.get(key)
    if value is not None and not isinstance(value, str):
        raise bad_request(f"{what}.{key} must be a string")
    return value


def check_url(url: Any, what: str) -> str:
    parts = urlsplit(url) if isinstance(url, str) else None
    if parts is None or parts.scheme not in ("http", "https") or not parts.netloc:
        raise bad_request(f"{what} must be an http(s) URL")
    return str(url)


def check_file_id(file_id: Any, what: str) -> str:
    if not isinstance(file_id, str) or not file_id.startswith("file_") or len(file_id) < 6:
        raise bad_request(f"{what} is not a valid file id")
    return file_id


def metadata_of(body: dict[str, Any], what: str = "metadata") -> dict[str, Any]:
    value = body.get("metadata")
    if value is None:
        return {}
    if not isinstance(value, dict):
        raise bad_request(f"{what} must be an object")
    if len(orjson.dumps(value)) > MAX_METADATA_BYTES:
        raise bad_request(f"{what} is larger than {MAX_METADATA_BYTES} bytes")
    tags = value.get("extend:usage_tags")
    if isinstance(tags, list):
        cleaned = [_TAG_JUNK.sub("", t) for t in tags if isinstance(t, str)]
        value = {**value, "extend:usage_tags": cleaned}
    return value


def priority_of(body: dict[str, Any], default: int) -> int:
    value = body.get("priority", default)
    if value is None:
        return default
    if not isinstance(value, int) or isinstance(value, bool) or not 1 <= value <= 100:
        raise bad_request("priority must be an integer from 1 to 100")
    return value


def version_of(value: Any) -> str | None:
    if value is not None and not isinstance(value, str):
        raise bad_request('version must be a string such as "3" or "draft"')
    return value


def file_2026(raw: Any, what: str, *, allow_text: bool = True) -> FileSpec:
    """``{url, name?}``, ``{id}`` or ``{text, name?}``: exactly one source."""
    body = _obj(raw, what)
    sources = [k for k in ("url", "id", "text") if body.get(k) is not None]
    if len(sources) != 1 or (sources[0] == "text" and not allow_text):
        allowed = "url, id or text" if allow_text else "url or id"
        raise bad_request(f"{what} must have exactly one of {allowed}")
    name = _opt_str(body, "name", what)
    if sources == ["url"]:
        return FileSpec(name, url=check_url(body["url"], f"{what}.url"))
    if sources == ["id"]:
        return FileSpec(name, file_id=check_file_id(body["id"], f"{what}.id"))
    if not isinstance(body["text"], str):
        raise bad_request(f"{what}.text must be a string")
    return FileSpec(name, text=body["text"])


def file_2025(raw: Any, what: str) -> FileSpec:
    """``{fileName?, fileUrl?}`` or ``{fileName?, fileId?}``."""
    body = _obj(raw, what)
    url, file_id = body.get("fileUrl"), body.get("fileId")
    if (url is None) == (file_id is None):
        raise bad_request(f"{what} must have exactly one of fileUrl or fileId")
    name = _opt_str(body, "fileName", what)
    if url is not None:
        return FileSpec(name, url=check_url(url, f"{what}.fileUrl"))
    return FileSpec(name, file_id=check_file_id(file_id, f"{what}.fileId"))


def text_spec(raw: Any, what: str) -> FileSpec:
    if not isinstance(raw, str):
        raise bad_request(f"{what} must be a string")
    return FileSpec(None, text=raw)


def workflow_ref(body: dict[str, Any]) -> tuple[str, str | None]:
    ref = _obj(body.get("workflow"), "workflow")
    if not isinstance(ref.get("id"), str) or not ref["id"]:
        raise bad_request("workflow.id is required")
    return ref["id"], version_of(ref.get("version"))


def workflow_id_2025(body: dict[str, Any]) -> tuple[str, str | None]:
    if not isinstance(body.get("workflowId"), str) or not body["workflowId"]:
        raise bad_request("workflowId is required")
    return body["workflowId"], version_of(body.get("version"))
