"""The notification API's request and answer shapes (validated and documented by the routes)."""

from __future__ import annotations

from typing import Literal

from pydantic import BaseModel, ConfigDict, Field

EventName = Literal[
    "batch.completed",
    "batch.cancelled",
    "run.completed",
    "review.completed",
    "deploy.succeeded",
    "deploy.failed",
]


class SubscriptionRequest(BaseModel):
    model_config = ConfigDict(extra="forbid", frozen=True)

    url: str = Field(min_length=1, max_length=2000, description="https URL to post to")
    events: list[EventName] | None = Field(None, min_length=1, description="default: all")


class SubscriptionView(BaseModel):
    id: str
    url: str
    events: list[str]
    enabled: bool
    disabledReason: str | None = None
    createdAt: str


class SubscriptionCreated(SubscriptionView):
    secret: str = Field(description="whsec_ secret that signs its notifications (shown once)")


class SubscriptionList(BaseModel):
    subscriptions: list[SubscriptionView]


class Deleted(BaseModel):
    deleted: str


class Attempt(BaseModel):
    deliveryId: str
    messageId: str
    type: str
    attempt: int
    round: int
    at: int
    status: int | None
    error: str | None
    ms: float
    outcome: str


class AttemptList(BaseModel):
    attempts: list[Attempt]


class NotificationDeadLetter(BaseModel):
    deliveryId: str
    messageId: str
    destination: str
    type: str
    attempts: int
    lastStatus: int | None
    lastError: str | None
    payload: dict[str, object]


class NotificationDeadLetterList(BaseModel):
    deadLetters: list[NotificationDeadLetter]


class RedriveRequest(BaseModel):
    model_config = ConfigDict(extra="forbid", frozen=True)

    deliveryIds: list[str] | None = Field(None, description="default: every dead letter")


class NotificationRedriveAnswer(BaseModel):
    redriven: int
