"""Webhook delivery: signed POSTs with retries, plus the configured delivery faults.

Each (event, url) pair is a job on one queue drained by a few workers. A failed or timed-out
attempt is re-queued after an exponential backoff with the same eventId and body and a fresh
timestamp and signature. Faults (drop, duplicate, delay, reorder) are decided when an event is
submitted, from the sandbox's seeded RNG.
"""

from __future__ import annotations

import asyncio
import contextlib
import logging
import random
import secrets
import time
from collections.abc import Callable
from dataclasses import dataclass

import aiohttp
import orjson

from sandbox.clock import SimClock
from sandbox.config import SandboxConfig
from sandbox.webhooks.events import Attempt, Event
from sandbox.webhooks.signing import signed_headers

log = logging.getLogger(__name__)


@dataclass(slots=True)
class SignedPayload:
    body: bytes
    expires_at: float  # simulated time


@dataclass(slots=True)
class _Job:
    event: Event
    url: str
    attempt: int = 1


class Dispatcher:
    def __init__(
        self,
        config: Callable[[], SandboxConfig],
        rng: random.Random,
        clock: SimClock,
        base_url: Callable[[], str],
    ) -> None:
        self._config = config
        self._rng = rng
        self._clock = clock
        self._base_url = base_url
        self.signed: dict[str, SignedPayload] = {}
        self._queue: asyncio.Queue[_Job] = asyncio.Queue()
        self._timers: set[asyncio.TimerHandle] = set()
        self._buffer: list[_Job] = []
        self._flush_timer: asyncio.TimerHandle | None = None
        self._workers: list[asyncio.Task[None]] = []
        self._session: aiohttp.ClientSession | None = None
        self._in_flight = 0

    async def start(self) -> None:
        self._session = aiohttp.ClientSession()
        count = self._config().webhooks.concurrency
        loop = asyncio.get_running_loop()
        self._workers = [
            loop.create_task(self._work(), name="sandbox-webhook") for _ in range(count)
        ]

    async def close(self) -> None:
        for timer in self._timers:
            timer.cancel()
        if self._flush_timer is not None:
            self._flush_timer.cancel()
        for worker in self._workers:
            worker.cancel()
        for worker in self._workers:
            with contextlib.suppress(asyncio.CancelledError):
                await worker
        if self._session is not None:
            await self._session.close()

    @property
    def idle(self) -> bool:
        """Nothing queued, buffered, waiting on a timer or in flight."""
        return not (self._queue.qsize() or self._buffer or self._timers or self._in_flight)

    def submit(self, event: Event, *, redelivery: bool = False) -> None:
        cfg = self._config().webhooks
        types = cfg.event_types
        if types is not None and event.event_type not in types:
            return
        for url in self._config().webhook_urls:
            if not redelivery and self._rng.random() < cfg.p_drop:
                event.dropped_urls.add(url)
                continue
            copies = 2 if not redelivery and self._rng.random() < cfg.p_duplicate else 1
            for _ in range(copies):
                self._later(cfg.delivery_delay_seconds, self._admit, _Job(event, url))

    def _later(self, delay: float, fn: Callable[[_Job], None], job: _Job) -> None:
        if delay <= 0:
            fn(job)
            return

        def fire() -> None:
            self._timers.discard(handle)
            fn(job)

        handle = asyncio.get_running_loop().call_later(delay, fire)
        self._timers.add(handle)

    def _admit(self, job: _Job) -> None:
        window = self._config().webhooks.reorder_window
        if window <= 1:
            self._queue.put_nowait(job)
            return
        self._buffer.append(job)
        if len(self._buffer) >= window:
            self._flush()
        elif self._flush_timer is None:
            flush_after = self._config().webhooks.reorder_flush_seconds
            self._flush_timer = asyncio.get_running_loop().call_later(flush_after, self._flush)

    def _flush(self) -> None:
        if self._flush_timer is not None:
            self._flush_timer.cancel()
            self._flush_timer = None
        jobs, self._buffer = self._buffer, []
        shuffled = jobs[:]
        self._rng.shuffle(shuffled)
        if len(jobs) > 1 and shuffled == jobs:
            # A window exists to produce disorder; an identity shuffle would test nothing.
            shuffled = jobs[1:] + jobs[:1]
        for job in shuffled:
            self._queue.put_nowait(job)

    async def _work(self) -> None:
        while True:
            job = await self._queue.get()
            self._in_flight += 1
            try:
                await self._attempt(job)
            except Exception:
                log.exception("webhook attempt crashed for %s", job.event.event_id)
            finally:
                self._in_flight -= 1

    async def _attempt(self, job: _Job) -> None:
        assert self._session is not None
        cfg = self._config()
        body = self._body(job.event)
        headers = signed_headers(cfg.webhook_secret, int(time.time()), body)
        started = time.monotonic()
        status: int | None = None
        error: str | None = None
        timeout = aiohttp.ClientTimeout(total=cfg.webhooks.timeout_seconds)
        try:
            async with self._session.post(
                job.url, data=body, headers=headers, timeout=timeout
            ) as resp:
                await resp.read()
                status = resp.status
        except (TimeoutError, aiohttp.ClientError, OSError) as exc:
            error = type(exc).__name__
        elapsed = (time.monotonic() - started) * 1000
        job.event.attempts.append(Attempt(job.url, time.time(), status, error, elapsed))
        if status is not None and 200 <= status < 300:
            job.event.delivered_urls.add(job.url)
            return
        self._retry(job)

    def _retry(self, job: _Job) -> None:
        cfg = self._config().webhooks
        if job.attempt >= cfg.max_attempts:
            log.info(
                "webhook %s to %s gave up after %d attempts",
                job.event.event_id,
                job.url,
                job.attempt,
            )
            return
        delay = min(cfg.backoff_base_seconds * 2 ** (job.attempt - 1), cfg.backoff_max_seconds)
        retry = _Job(job.event, job.url, job.attempt + 1)
        self._later(max(delay, 1e-6), self._queue.put_nowait, retry)

    def _body(self, event: Event) -> bytes:
        if event.body is None:
            event.body = self._envelope(event)
        return event.body

    def _envelope(self, event: Event) -> bytes:
        envelope = {
            "eventId": event.event_id,
            "eventType": event.event_type,
            "payload": event.payload,
        }
        body = orjson.dumps(envelope)
        threshold = self._config().webhooks.signed_url_threshold_bytes
        if threshold is None or len(body) <= threshold:
            return body
        token = secrets.token_urlsafe(24)
        ttl = self._config().webhooks.signed_url_ttl_seconds
        self.signed[token] = SignedPayload(orjson.dumps(event.payload), self._clock.now() + ttl)
        event.signed_url = f"{self._base_url()}/_sandbox/signed/{token}"
        pointer: dict[str, object] = {
            "object": "signed_data_url",
            "id": event.subject_id,
            "data": event.signed_url,
        }
        if event.metadata is not None:
            pointer["metadata"] = event.metadata
        envelope["payload"] = pointer
        return orjson.dumps(envelope)
