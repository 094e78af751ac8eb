"""Files in: local files become Extend files (POST /files/upload), each content uploaded once.

The sha256 of a file's content maps to the Extend file id it became, kept in Redis for the
retention period (30 days when RETENTION_DAYS keeps everything), so a re-run of an interrupted
upload of thousands of files skips those already uploaded. Every upload takes a slot of the
fleet-wide WRITE limit (relay_core.scheduler.ratelimit) and retries 429s and transient errors.
"""

from __future__ import annotations

import asyncio
import glob
import hashlib
from collections.abc import Iterable
from dataclasses import dataclass
from pathlib import Path
from typing import Any

import aiohttp
from redis.asyncio import Redis

from relay_core import keys, retry
from relay_core.batches import filenames
from relay_core.platforms.extend_runs import extend_client
from relay_core.platforms.http import PlatformError
from relay_core.scheduler.ratelimit import Limits, RateLimiter
from relay_core.settings import Settings

DEFAULT_TTL_MS = 30 * 86_400_000
GLOB_CHARS = frozenset("*?[")


@dataclass(frozen=True, slots=True)
class Uploaded:
    sha256: str
    file_id: str
    name: str
    reused: bool


def sha256_of(path: Path) -> str:
    digest = hashlib.sha256()
    with path.open("rb") as f:
        while chunk := f.read(1 << 20):
            digest.update(chunk)
    return digest.hexdigest()


def expand(args: Iterable[str | Path]) -> list[tuple[Path, str]]:
    """Local files named by paths, folders (recursively, hidden entries skipped) and globs,
    each with the name it is given in the batch and on the platform: the file's own name, as
    it is on disk (never its folder, never encoded). ValueError names a file whose name
    cannot be uploaded (relay_core.batches.filenames.check_name), before anything is sent."""
    out: list[tuple[Path, str]] = []
    for arg in args:
        text = str(arg)
        if GLOB_CHARS & set(text):
            found = sorted(Path(p) for p in glob.glob(text, recursive=True))
            out += [(p, p.name) for p in found if p.is_file()]
            continue
        path = Path(text)
        if path.is_dir():
            for p in sorted(path.rglob("*")):
                rel = p.relative_to(path)
                if p.is_file() and not any(part.startswith(".") for part in rel.parts):
                    out.append((p, p.name))
        elif path.is_file():
            out.append((path, path.name))
        else:
            raise FileNotFoundError(f"no such file or folder: {text}")
    for path, name in out:
        try:
            filenames.check_name(name)
        except ValueError as exc:
            raise ValueError(f"{path}: {exc}") from None
    return out


async def known(redis: Redis, hashes: list[str]) -> dict[str, str]:
    """The contents uploaded already under some name, with a file id (no platform call).
    Deprecated with the sha256-only lookup: that file may carry another name."""
    if not hashes:
        return {}
    found = await redis.mget([keys.upload(h) for h in hashes])
    return {h: v.decode() for h, v in zip(hashes, found, strict=True) if v is not None}


async def known_named(redis: Redis, files: list[tuple[str, str]]) -> list[str | None]:
    """For each (sha256, name): the Extend file id it was uploaded as, or None."""
    if not files:
        return []
    found = await redis.mget([keys.upload_named(h, name) for h, name in files])
    return [None if v is None else v.decode() for v in found]


class Uploads:
    def __init__(self, redis: Redis, settings: Settings, session: aiohttp.ClientSession) -> None:
        self.redis = redis
        self.client = extend_client(session, settings)  # ConfigError without EXTEND_API_KEY
        self.limiter = RateLimiter(redis, Limits.of(settings))
        self.ttl_ms = settings.retention.ms or DEFAULT_TTL_MS

    async def upload(self, name: str, content: bytes, sha256: str | None = None) -> Uploaded:
        filenames.check_name(name)
        digest = hashlib.sha256(content).hexdigest()
        if sha256 is not None and sha256 != digest:
            raise ValueError("the content does not match its sha256")
        seen = await self.redis.get(keys.upload_named(digest, name))
        if seen is not None:
            return Uploaded(digest, seen.decode(), name, True)
        answer = await self._post(name, content)
        # 2025-04-21 wraps the File as {success, file}; 2026-02-09 answers it bare.
        inner = answer.get("file")
        file: dict[str, Any] = inner if isinstance(inner, dict) else answer
        file_id = file.get("id")
        if not isinstance(file_id, str):
            raise PlatformError("extend upload answer has no file id", body=answer)
        async with self.redis.pipeline(transaction=False) as pipe:
            pipe.set(keys.upload_named(digest, name), file_id, px=self.ttl_ms)
            pipe.set(keys.upload(digest), file_id, px=self.ttl_ms)
            await pipe.execute()
        return Uploaded(digest, file_id, str(file.get("name") or name), False)

    async def _post(self, name: str, content: bytes) -> dict[str, Any]:
        for attempt in range(1, retry.UPLOAD.attempts + 1):
            await self.limiter.acquire_blocking("WRITE")
            form = filenames.file_form(content, name)
            try:
                body = await self.client.request("POST", "/files/upload", form=form)
            except PlatformError as exc:
                if exc.status == 429:
                    await self.limiter.pause(exc.retry_after)
                if not exc.retryable or attempt == retry.UPLOAD.attempts:
                    raise
                await asyncio.sleep(retry.UPLOAD.backoff.delay(attempt))
                continue
            await self.limiter.clear_strikes()
            return body if isinstance(body, dict) else {}
        raise AssertionError("unreachable")

    async def upload_paths(
        self, files: list[tuple[Path, str]], concurrency: int = 4
    ) -> list[Uploaded]:
        """Upload local files, those already known (same content, same name) skipped,
        several at a time, in order."""
        hashes = [await asyncio.to_thread(sha256_of, p) for p, _ in files]
        pairs = [(digest, name) for (_, name), digest in zip(files, hashes, strict=True)]
        found = dict(zip(pairs, await known_named(self.redis, pairs), strict=True))
        gate = asyncio.Semaphore(concurrency)
        # One upload per distinct content and name, even when given twice in this call.
        first: dict[tuple[str, str], Path] = {}
        for (path, _), pair in zip(files, pairs, strict=True):
            if found[pair] is None:
                first.setdefault(pair, path)

        async def send(pair: tuple[str, str], path: Path) -> None:
            async with gate:
                content = await asyncio.to_thread(path.read_bytes)
                found[pair] = (await self.upload(pair[1], content, pair[0])).file_id

        await asyncio.gather(*(send(pair, path) for pair, path in first.items()))
        return [
            Uploaded(digest, str(found[(digest, name)]), name, (digest, name) not in first)
            for digest, name in pairs
        ]
