"""Bodies of the version lifecycle and evaluation routes (their OpenAPI contract)."""

from __future__ import annotations

from typing import Any

from pydantic import Field

from ingest.schemas import Model


class RollbackRequest(Model):
    to: str = Field(examples=["previous", "3"])
    subject: str | None = Field(None, pattern=r"^[A-Za-z0-9_.:-]{1,200}$")


class DiffRow(Model):
    step: str
    change: str = Field(examples=["added", "removed", "changed"])
    type: str | None
    keys: list[str]


class DiffView(Model):
    rule: str
    source: dict[str, Any]
    target: dict[str, Any]
    steps: list[DiffRow]


class EvalView(Model):
    id: str | None
    rule: str | None
    deployId: str | None
    state: str | None = Field(examples=["running", "passed", "failed"])
    reason: str | None
    candidate: dict[str, Any] | None
    baseline: dict[str, Any] | None
    accuracy: float | None
    baselineAccuracy: float | None
    files: int
    createdAt: str | None
    finishedAt: str | None
    report: dict[str, Any] | None = None


class EvalList(Model):
    evals: list[EvalView]


class EvalListQuery(Model):
    limit: int | None = Field(None, ge=1, le=200)
