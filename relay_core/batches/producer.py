"""The Python producer: enqueue a batch without HTTP, with the API's validation and answer.

    producer = Producer(redis, settings)
    accepted = await producer.submit({"workflowId": "workflow_x", "files": [{"url": ...}]})

POST /v1/batches is a thin wrapper over this class, so both paths give the same result.
`upload_files` turns local files into Extend files first, as `relay submit` does.
"""

from __future__ import annotations

from collections.abc import Iterable
from pathlib import Path
from typing import Any

import aiohttp
from redis.asyncio import Redis

from relay_core import keys
from relay_core.batches import store as batches
from relay_core.batches.models import BatchAccepted, BatchRequest, parse_batch_request
from relay_core.batches.uploads import Uploads, expand
from relay_core.errors import InvalidRequest
from relay_core.notify import ssrf
from relay_core.notify.store import callback_fields
from relay_core.ops import retention
from relay_core.platforms.extend_runs import V2025
from relay_core.redis import queue
from relay_core.settings import Settings

MAX_IDEMPOTENCY_KEY = 200


def _one_metadata(request: BatchRequest) -> None:
    """2025-04-21 runs take one metadata per request (a chunk), so a file's own would be lost."""
    for i, file in enumerate(request.files):
        if file.metadata:
            raise InvalidRequest(
                f"files[{i}].metadata: the 2025-04-21 API takes one metadata per request, not "
                "per file: give it in the batch's metadata, or use the 2026-02-09 API"
            )


class Producer:
    def __init__(self, redis: Redis, settings: Settings) -> None:
        self.redis = redis
        self.settings = settings

    def validate(self, body: BatchRequest | dict[str, Any]) -> BatchRequest:
        if isinstance(body, BatchRequest):  # validated already (the API's sliced intake)
            if len(body.files) > self.settings.batches.max_files:
                raise InvalidRequest(f"files: at most {self.settings.batches.max_files} files")
            request = body
        else:
            request = parse_batch_request(body, self.settings.batches.max_files)
        if self.settings.platforms.extend.api_version == V2025:
            _one_metadata(request)
        return request

    async def upload_files(
        self, paths: Iterable[str | Path], *, concurrency: int = 4
    ) -> list[dict[str, str]]:
        """Local files, folders (recursively) and globs uploaded to Extend, each content once
        (a re-run skips what an interrupted one uploaded): the batch's `files` entries.

            files = await producer.upload_files(["invoices/"])
            await producer.submit({"workflowId": "workflow_x", "files": files})
        """
        found = expand(paths)
        async with aiohttp.ClientSession() as session:
            done = await Uploads(self.redis, self.settings, session).upload_paths(
                found, concurrency
            )
        return [{"id": u.file_id, "name": u.name} for u in done]

    def chunk_size(self, request: BatchRequest) -> int:
        # A chunk must fit in the files-per-minute window, or it could never be sent.
        wanted = request.chunkSize or self.settings.batches.chunk_size
        return max(1, min(wanted, self.settings.platforms.extend.files_per_minute))

    async def submit(
        self,
        body: BatchRequest | dict[str, Any],
        *,
        idempotency_key: str | None = None,
        scope: str = "producer",
        producer: str = "python",
    ) -> BatchAccepted:
        """Store the batch and queue it for sending; a repeated idempotency key gives the first
        answer. `producer` names who submits: producers share the limit equally."""
        accepted, _ = await self.submit_once(
            body, idempotency_key=idempotency_key, scope=scope, producer=producer
        )
        return accepted

    async def submit_once(
        self,
        body: BatchRequest | dict[str, Any],
        *,
        idempotency_key: str | None = None,
        scope: str = "producer",
        producer: str = "python",
    ) -> tuple[BatchAccepted, bool]:
        """Like submit(); also says whether this call created the batch."""
        request = self.validate(body)
        idem = None
        if idempotency_key is not None:
            if not 1 <= len(idempotency_key) <= MAX_IDEMPOTENCY_KEY:
                raise InvalidRequest(
                    f"Idempotency-Key must be 1 to {MAX_IDEMPOTENCY_KEY} characters"
                )
            idem = batches.idempotency_key(scope, idempotency_key)
        callback = None
        if request.callbackUrl is not None:
            allowed = self.settings.notify.allowed_hosts
            await ssrf.check_url_resolved(request.callbackUrl, allowed, "callbackUrl")
            callback = callback_fields(request.callbackUrl, request.callbackEvents)
        answer = await batches.create_batch(
            self.redis,
            request,
            chunk_size=self.chunk_size(request),
            dialect=self.settings.platforms.extend.api_version,
            producer=producer,
            idempotency=idem,
            callback=callback,
        )
        # The listing index is trimmed by time and expires a retention after its last batch.
        await retention.touch_indexes(
            self.redis, [keys.BATCH_INDEX], queue.now_ms(), self.settings.retention.ms
        )
        return answer
