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
