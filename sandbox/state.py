"""SandboxState: everything the sandbox knows, in memory, plus the event emitter."""

from __future__ import annotations

import random
from typing import Any

from sandbox.clock import Scheduler, SimClock
from sandbox.config import SandboxConfig
from sandbox.eachlabs.store import EachlabsStore
from sandbox.extend.catalog import Catalog
from sandbox.extend.models import UploadedFile
from sandbox.extend.store import RunStore
from sandbox.ids import IdFactory
from sandbox.ratelimit import RateLimiter
from sandbox.recorder import RequestLog
from sandbox.webhooks.delivery import Dispatcher
from sandbox.webhooks.events import Event, EventLog
from sandbox.xpander.store import XpanderStore


class SandboxState:
    def __init__(self, config: SandboxConfig, clock: SimClock | None = None) -> None:
        self.config = config
        self.base_url = ""
        self.clock = clock or SimClock()
        self.scheduler = Scheduler(self.clock)
        self.rng = random.Random(config.seed)
        self.ids = IdFactory(self.rng)
        self.requests = RequestLog()
        self.events = EventLog()
        self.limiter = RateLimiter(self.clock)
        self.dispatcher = Dispatcher(
            lambda: self.config, self.rng, self.clock, lambda: self.base_url
        )
        self.deploys: list[dict[str, Any]] = []
        self.runs = RunStore()
        self.files: dict[str, UploadedFile] = {}  # POST /files/upload
        self.catalog = Catalog(self.ids, self.clock)
        self.eachlabs = EachlabsStore(self.clock)
        self.xpander = XpanderStore(self.ids, self.clock)
        self._seed_workflows()

    def reset(self) -> None:
        """Forget everything but the config; seeded workflows come back as configured."""
        self.rng.seed(self.config.seed)
        self.scheduler.clear()
        self.requests.clear()
        self.events.clear()
        self.limiter.reset()
        self.dispatcher.signed.clear()
        self.deploys.clear()
        self.runs = RunStore()
        self.files.clear()
        self.catalog = Catalog(self.ids, self.clock)
        self.eachlabs = EachlabsStore(self.clock)
        self.xpander = XpanderStore(self.ids, self.clock)
        self._seed_workflows()

    def _seed_workflows(self) -> None:
        seeds = self.config.workflows
        for extend in seeds.extend:
            self.catalog.seed(extend)
        for each in seeds.eachlabs:
            self.eachlabs.seed(each)
        for xp in seeds.xpander:
            self.xpander.seed(xp)

    def emit(
        self, event_type: str, subject_id: str, payload: dict[str, Any], metadata: Any = None
    ) -> Event:
        event = Event(
            event_id=self.ids.make("evt_"),
            event_type=event_type,
            subject_id=subject_id,
            payload=payload,
            metadata=metadata if isinstance(metadata, dict) else None,
            created_at=self.clock.now(),
        )
        self.events.add(event)
        self.dispatcher.submit(event)
        return event

    def record_deploy(self, platform: str, workflow_id: str, version: str, **extra: Any) -> None:
        entry = {"platform": platform, "workflowId": workflow_id, "version": version}
        self.deploys.append({**entry, "at": self.clock.now(), **extra})
