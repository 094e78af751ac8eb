"""What every provider's deploy client offers: prepare, look, deploy.

`prepare` reads the platform and returns the pre-call facts (JSON) the deploy records before
calling; `look` answers, from those facts alone, whether an earlier call that may or may not
have reached the platform did deploy; `deploy` makes the one write. The platforms have no
idempotency keys, so `look` is what makes a retry safe.
"""

from __future__ import annotations

import string
from dataclasses import dataclass
from datetime import UTC, datetime
from typing import Any, Protocol

Facts = dict[str, Any]


@dataclass(slots=True, frozen=True)
class Outcome:
    version_id: str | None
    version_number: str | None
    version_name: str | None = None


@dataclass(slots=True, frozen=True)
class Placeholders:
    rule: str
    subject: str
    workflow: str
    batch_id: str = ""
    run_id: str = ""

    def values(self) -> dict[str, str]:
        return {
            "rule": self.rule,
            "subject": self.subject,
            "workflow": self.workflow,
            "batch_id": self.batch_id,
            "run_id": self.run_id,
            "date": datetime.now(UTC).strftime("%Y-%m-%d"),
        }


def render(template: str, values: dict[str, str]) -> str:
    """Fill {placeholders}; ones not given (such as {next} before it is known) stay as written."""
    out = []
    for literal, field, spec, conv in string.Formatter().parse(template):
        out.append(literal)
        if field is None:
            continue
        if field in values:
            out.append(format(values[field], spec or ""))
        else:
            out.append(
                "{" + field + (("!" + conv) if conv else "") + ((":" + spec) if spec else "") + "}"
            )
    return "".join(out)


class Deployer(Protocol):
    def preview(self, values: dict[str, str]) -> dict[str, Any]:
        """The request a dry run records (nothing is called)."""
        ...

    async def prepare(self, values: dict[str, str]) -> Facts: ...

    async def look(self, facts: Facts) -> Outcome | None: ...

    async def deploy(self, facts: Facts) -> Outcome: ...

    async def read_back(self, outcome: Outcome, facts: Facts) -> dict[str, Any]:
        """After the deploy: `verified` (ours is what runs), else maybe `superseded`."""
        ...
