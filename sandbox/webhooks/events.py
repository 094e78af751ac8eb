"""The log of every webhook event the sandbox emitted and every attempt to deliver it."""

from __future__ import annotations

from dataclasses import dataclass, field
from typing import Any

Json = dict[str, Any]


@dataclass(slots=True)
class Attempt:
    url: str
    at: float  # wall-clock seconds: receivers check signature timestamps against real time
    status: int | None
    error: str | None = None
    duration_ms: float = 0.0


@dataclass(slots=True)
class Event:
    event_id: str
    event_type: str
    subject_id: str  # the run id (or workflow id) the event is about
    payload: Json
    metadata: Json | None
    created_at: float
    attempts: list[Attempt] = field(default_factory=list)
    delivered_urls: set[str] = field(default_factory=set)
    dropped_urls: set[str] = field(default_factory=set)
    signed_url: str | None = None
    body: bytes | None = None  # serialized envelope, fixed at first send so retries match

    @property
    def run_id(self) -> str | None:
        return self.subject_id if self.subject_id.startswith("workflow_run_") else None

    def to_json(self) -> Json:
        return {
            "eventId": self.event_id,
            "eventType": self.event_type,
            "runId": self.run_id,
            "subjectId": self.subject_id,
            "createdAt": self.created_at,
            "delivered": bool(self.delivered_urls),
            "deliveredUrls": sorted(self.delivered_urls),
            "dropped": bool(self.dropped_urls),
            "signedUrl": self.signed_url,
            "attempts": [
                {
                    "url": a.url,
                    "at": a.at,
                    "status": a.status,
                    "error": a.error,
                    "durationMs": round(a.duration_ms, 2),
                }
                for a in self.attempts
            ],
        }


class EventLog:
    def __init__(self) -> None:
        self.events: list[Event] = []
        self.by_subject: dict[str, list[Event]] = {}

    def add(self, event: Event) -> None:
        self.events.append(event)
        self.by_subject.setdefault(event.subject_id, []).append(event)

    def latest_for(self, subject_id: str) -> Event | None:
        found = self.by_subject.get(subject_id)
        return found[-1] if found else None

    def clear(self) -> None:
        self.events.clear()
        self.by_subject.clear()
