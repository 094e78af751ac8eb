"""xpander workflows: `PUT /v1/workflows/{id}` with no body deploys the draft (xpander's API
page "Deploy Workflow").

Each deploy increments the integer `version`, so the version read just before the call is
the pre-call fact; a retry after an unknown outcome reads the workflow again and counts a
higher version as our deploy. (A deploy made by someone else in that window would be taken
for ours: xpander offers nothing finer to tell them apart.)
"""

from __future__ import annotations

from typing import Any
from urllib.parse import quote

from relay_core.deploys.rules import XpanderDeploy
from relay_core.platforms.deployer import Facts, Outcome
from relay_core.platforms.http import PlatformClient


class XpanderWorkflows:
    def __init__(self, client: PlatformClient, target: XpanderDeploy) -> None:
        self.client = client
        self.target = target
        self.path = f"/v1/workflows/{quote(target.workflow, safe='')}"

    def preview(self, values: dict[str, str]) -> dict[str, Any]:
        return {"method": "PUT", "path": self.path, "body": None}

    async def prepare(self, values: dict[str, str]) -> Facts:
        return {"versionBefore": _version(await self.client.request("GET", self.path))}

    async def look(self, facts: Facts) -> Outcome | None:
        version = _version(await self.client.request("GET", self.path))
        if version > int(facts["versionBefore"]):
            return Outcome(self.target.workflow, str(version))
        return None

    async def deploy(self, facts: Facts) -> Outcome:
        answer = await self.client.request("PUT", self.path)
        return Outcome(self.target.workflow, str(_version(answer)))

    async def read_back(self, outcome: Outcome, facts: Facts) -> dict[str, Any]:
        """The workflow's version and status now: verified while ours is the deployed one."""
        workflow = await self.client.request("GET", self.path)
        now = _version(workflow)
        status = workflow.get("status") if isinstance(workflow, dict) else None
        ours = int(outcome.version_number or 0)
        report: dict[str, Any] = {
            "verified": now == ours and status == "ACTIVE",
            "version": {"version": now, "status": status},
        }
        if now > ours:
            report["superseded"] = {"number": str(now)}
        return report


def _version(workflow: Any) -> int:
    raw = workflow.get("version") if isinstance(workflow, dict) else None
    return raw if isinstance(raw, int) and not isinstance(raw, bool) else 0
