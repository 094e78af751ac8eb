"""The /v1/batches request and answer, shared by the HTTP API and the Python producer.

Validation errors name the field and, for a file, its index (`files[12].url: ...`), so a
caller with 100,000 files can find the bad one.
"""

from __future__ import annotations

import re
from typing import Any, Literal
from urllib.parse import urlsplit

from pydantic import BaseModel, ConfigDict, Field, ValidationError, field_validator, model_validator

from relay_core.batches.filenames import MAX_NAME_LENGTH
from relay_core.batches.metadata import LIMIT, check_metadata, metadata_size
from relay_core.errors import InvalidRequest

MAX_FILES = 100_000
_VERSION = re.compile(r"^(draft|latest|[0-9]{1,9}|workflow_version_[A-Za-z0-9_-]{1,100})$")


class _Strict(BaseModel):
    model_config = ConfigDict(extra="forbid", frozen=True)


class BatchFile(_Strict):
    """Exactly one of url, id or text; name and metadata optional."""

    url: str | None = None
    id: str | None = Field(None, min_length=1, max_length=200)
    text: str | None = Field(None, min_length=1)
    name: str | None = Field(None, min_length=1, max_length=MAX_NAME_LENGTH)
    metadata: dict[str, Any] | None = None

    @field_validator("url")
    @classmethod
    def _http_url(cls, value: str | None) -> str | None:
        if value is None:
            return None
        parts = urlsplit(value)
        if parts.scheme not in ("http", "https") or not parts.netloc:
            raise ValueError("must be an http(s) URL")
        return value

    @field_validator("metadata")
    @classmethod
    def _small(cls, value: dict[str, Any] | None) -> dict[str, Any] | None:
        return check_metadata(value)

    @model_validator(mode="after")
    def _one_source(self) -> BatchFile:
        given = [k for k in ("url", "id", "text") if getattr(self, k) is not None]
        if len(given) != 1:
            raise ValueError("each file needs exactly one of url, id or text")
        return self

    @property
    def kind(self) -> Literal["url", "id", "text"]:
        return "url" if self.url is not None else "id" if self.id is not None else "text"

    def stored(self) -> dict[str, Any]:
        return self.model_dump(exclude_none=True)


CallbackEvent = Literal["batch.completed", "batch.cancelled", "run.completed", "review.completed"]


class BatchHead(_Strict):
    """Everything of a batch request but its files (validated on its own for big bodies)."""

    workflowId: str = Field(min_length=1, max_length=200)
    version: str | None = None
    priority: int | None = Field(None, ge=1, le=100)
    weight: float | None = Field(
        None, ge=0.01, le=1000, description="share among the producer's batches (default 1)"
    )
    metadata: dict[str, Any] | None = None
    chunkSize: int | None = Field(None, ge=1, le=50)
    callbackUrl: str | None = Field(
        None, max_length=2000, description="https URL told about this batch (signed webhooks)"
    )
    callbackEvents: list[CallbackEvent] | None = Field(
        None, min_length=1, description="default: batch.completed and batch.cancelled"
    )

    @field_validator("callbackUrl")
    @classmethod
    def _callback_url(cls, value: str | None) -> str | None:
        # Syntax only here; the SSRF guard needs the settings (the producer applies it).
        if value is not None:
            parts = urlsplit(value)
            if parts.scheme not in ("http", "https") or not parts.hostname:
                raise ValueError("must be an https URL")
        return value

    @field_validator("version", mode="before")
    @classmethod
    def _version(cls, value: object) -> object:
        if isinstance(value, int) and not isinstance(value, bool):
            value = str(value)
        if value is not None and (not isinstance(value, str) or not _VERSION.match(value)):
            raise ValueError('must be "draft", a version number such as "3", or null')
        return value

    @field_validator("metadata")
    @classmethod
    def _small(cls, value: dict[str, Any] | None) -> dict[str, Any] | None:
        return check_metadata(value)


class BatchRequest(BatchHead):
    files: list[BatchFile] = Field(min_length=1, max_length=MAX_FILES)

    @model_validator(mode="after")
    def _merged_metadata_fits(self) -> BatchRequest:
        check_merged_metadata(self.metadata, self.files)
        return self


def check_merged_metadata(
    base: dict[str, Any] | None, files: list[BatchFile], offset: int = 0
) -> None:
    """Each file's metadata, merged over the batch's, must still fit the platform's limit."""
    if not base:
        return
    for index, file in enumerate(files, offset):
        if file.metadata:
            merged = {**base, **file.metadata}
            if metadata_size(merged) > LIMIT:
                raise ValueError(
                    f"files[{index}].metadata: with the batch metadata it is too large"
                )


class BatchAccepted(BaseModel):
    batchId: str
    files: int
    chunks: int
    statusUrl: str
    callbackSecret: str | None = Field(
        None, description="whsec_ secret signing this batch's notifications (shown once)"
    )


def parse_batch_request(data: object, max_files: int = MAX_FILES) -> BatchRequest:
    """Validate a decoded JSON body; InvalidRequest names the first bad field."""
    try:
        request = BatchRequest.model_validate(data)
    except ValidationError as exc:
        raise InvalidRequest(describe(exc)) from None
    if len(request.files) > max_files:
        raise InvalidRequest(f"files: at most {max_files} files per batch")
    return request


def describe(exc: ValidationError, loc: list[Any] | None = None) -> str:
    """`files[12].url: must be an http(s) URL`: the first error, where it is (or at `loc`)."""
    first = exc.errors()[0]
    path = first["loc"] if loc is None else loc
    where = "".join(f"[{p}]" if isinstance(p, int) else f".{p}" for p in path).lstrip(".")
    message = str(first["msg"]).removeprefix("Value error, ")
    if first["type"] == "extra_forbidden":
        message = "unknown field"
    return f"{where}: {message}" if where else message


class _Open(BaseModel):
    model_config = ConfigDict(extra="allow")


class ChunkCounts(_Open):
    total: int
    submitted: int
    failed: int


class BatchView(_Open):
    """GET /v1/batches/{id}: read from counters, never by scanning the runs."""

    batchId: str
    workflowId: str | None
    version: str | None
    priority: int = Field(description="1 (first) to 100; 90 when none was given")
    weight: float
    producer: str
    state: Literal["submitting", "running", "completed", "cancelled"]
    files: int
    chunks: ChunkCounts
    runs: dict[str, int]
    notSubmitted: int
    createdAt: str | None
    completedAt: str | None
    deploys: list[dict[str, Any]] = Field(
        default_factory=list, description="deploys this batch triggered (GET /v1/batches/{id})"
    )


class BatchList(_Open):
    batches: list[BatchView]
    nextCursor: str | None


class BatchListQuery(BaseModel):
    limit: int | None = Field(None, ge=1, le=1000)
    cursor: str | None = Field(None, pattern=r"^[0-9]+$")


class BatchRunItem(_Open):
    fileIndex: int
    file: dict[str, Any]
    runId: str | None
    status: str
    error: str | None = None


class BatchRunsPage(_Open):
    runs: list[BatchRunItem]
    nextCursor: str | None


class BatchRunsQuery(BaseModel):
    status: str | None = None
    cursor: str | None = None
    limit: int | None = Field(None, ge=1, le=1000)


class BatchPatch(_Strict):
    """PATCH /v1/batches/{id}: re-prioritise (or re-weight) the batch's unsent files."""

    priority: int | None = Field(None, ge=1, le=100)
    weight: float | None = Field(None, ge=0.01, le=1000)

    @model_validator(mode="after")
    def _something(self) -> BatchPatch:
        if self.priority is None and self.weight is None:
            raise ValueError("give priority (1-100) or weight (0.01-1000), or both")
        return self


class QueueItem(_Open):
    batchId: str
    producer: str
    priority: int
    weight: float
    share: float
    filesLeft: int
    eta: str | None


class QueueView(_Open):
    """GET /v1/queue: the batches with files left to send, in send order."""

    filesPerMinute: int
    batches: list[QueueItem]


class BatchCancelAnswer(_Open):
    outcome: Literal["cancelled", "already_cancelled", "already_completed"]
    batch: BatchView
