"""Extend workflow versions: deploy with `POST /workflows/{id}/versions` (Extend's Create and
Get Workflow Version API).

Extend has no idempotency key, so a deploy is recognised by its name: before the call we note
the highest published version number, and a retry after an unknown outcome looks for a newer
version with our name (`GET /workflows/{id}/versions`) instead of deploying a second one.

Steps that come from another version (a promotion's `steps_from`, or a rollback's earlier
version) are read with Get Workflow Version before the call and recorded in the
facts, so every retry deploys exactly what was read first. After the deploy the version is
read back by its id, and `latest` tells whether ours is what runs now.
"""

from __future__ import annotations

from typing import Any
from urllib.parse import quote

from relay_core.deploys.rules import ExtendDeploy
from relay_core.params import is_digits
from relay_core.platforms.deployer import Facts, Outcome, render
from relay_core.platforms.http import PlatformClient, PlatformError

PAGE_SIZE = "100"
MAX_PAGES = 50


class ExtendVersions:
    def __init__(
        self, client: PlatformClient, target: ExtendDeploy, rollback_to: str | None = None
    ) -> None:
        self.client = client
        self.target = target
        self.rollback_to = rollback_to
        self.path = versions_path(target.workflow)

    def _body(self, name: str, steps: Any) -> dict[str, Any]:
        body: dict[str, Any] = {"name": name}
        if steps is not None:
            body["steps"] = steps
        return body

    def preview(self, values: dict[str, str]) -> dict[str, Any]:
        steps: Any = self.target.steps
        if self.rollback_to is not None:
            steps = {"from": {"workflow": self.target.workflow, "version": self.rollback_to}}
        elif self.target.steps_from is not None:
            steps = {"from": self.target.steps_from.model_dump()}
        body = self._body(render(self.target.name, values), steps)
        return {"method": "POST", "path": self.path, "body": body}

    async def prepare(self, values: dict[str, str]) -> Facts:
        versions = await self._versions()
        facts: Facts = {
            "name": render(self.target.name, values),
            "maxBefore": _max_number(versions),
        }
        source = await self._source(versions)
        if source is not None:
            facts["steps"] = source.get("steps")
            facts["source"] = {**summary(source), "workflow": self._source_workflow()}
            if self.rollback_to is not None:
                facts["name"] = f"rollback to v{source.get('version')}: {facts['name']}"[:200]
        return facts

    def _source_workflow(self) -> str:
        if self.rollback_to is None and self.target.steps_from is not None:
            return self.target.steps_from.workflow
        return self.target.workflow

    async def _source(self, versions: list[dict[str, Any]]) -> dict[str, Any] | None:
        if self.rollback_to is not None:
            ref = self.rollback_to
            if ref == "previous":
                latest = _max_number(versions)
                if latest < 2:
                    raise PlatformError(
                        f"workflow {self.target.workflow} has no published version before v{latest}"
                    )
                ref = str(latest - 1)
            return await get_version(self.client, self.target.workflow, ref)
        if self.target.steps_from is not None:
            src = self.target.steps_from
            return await get_version(self.client, src.workflow, src.version)
        return None

    async def look(self, facts: Facts) -> Outcome | None:
        for version in await self._versions():
            number = _number(version)
            if version.get("name") == facts["name"] and number > int(facts["maxBefore"]):
                return _outcome(version)
        return None

    async def deploy(self, facts: Facts) -> Outcome:
        steps = facts.get("steps", self.target.steps)
        answer = await self.client.request("POST", self.path, json=self._body(facts["name"], steps))
        return _outcome(_unwrap(answer, "workflowVersion"))

    async def read_back(self, outcome: Outcome, facts: Facts) -> dict[str, Any]:
        """Ours by id (or number), then `latest`: verified when latest is ours."""
        ref = outcome.version_id or outcome.version_number or "latest"
        ours = await get_version(self.client, self.target.workflow, ref)
        latest = await get_version(self.client, self.target.workflow, "latest")
        verified = bool(ours.get("id")) and latest.get("id") == ours.get("id")
        report: dict[str, Any] = {
            "verified": verified,
            "version": summary(ours),
            "latest": summary(latest),
        }
        if "steps" in facts:
            report["stepsMatch"] = ours.get("steps") == facts["steps"]
        if not verified and _number(latest) > _number(ours):
            report["superseded"] = summary(latest)
        return report

    async def _versions(self) -> list[dict[str, Any]]:
        found: list[dict[str, Any]] = []
        params = {"maxPageSize": PAGE_SIZE}
        for _ in range(MAX_PAGES):
            answer = await self.client.request("GET", self.path, params=params)
            page: dict[str, Any] = answer if isinstance(answer, dict) else {}
            # 2026-02-09 lists in `data`; the wrapped 2025-04-21 shape is tolerated too.
            data = page.get("data", page.get("workflowVersions"))
            found.extend(v for v in data or [] if isinstance(v, dict))
            token = page.get("nextPageToken")
            if not isinstance(token, str) or not token:
                break
            params = {"maxPageSize": PAGE_SIZE, "nextPageToken": token}
        return found


def versions_path(workflow: str) -> str:
    return f"/workflows/{quote(workflow, safe='')}/versions"


async def get_version(client: PlatformClient, workflow: str, ref: str) -> dict[str, Any]:
    """Get Workflow Version: `draft`, `latest`, a number or a version id."""
    answer = await client.request("GET", f"{versions_path(workflow)}/{quote(ref, safe='')}")
    return _unwrap(answer, "workflowVersion")


def summary(version: dict[str, Any]) -> dict[str, Any]:
    return {k: version.get(k) for k in ("id", "version", "name")}


def _unwrap(answer: Any, key: str) -> dict[str, Any]:
    # 2025-04-21 wraps objects as {"success": true, key: {...}}; 2026-02-09 answers bare.
    if isinstance(answer, dict) and isinstance(answer.get(key), dict):
        return dict(answer[key])
    return answer if isinstance(answer, dict) else {}


def _number(version: dict[str, Any]) -> int:
    raw = version.get("version")
    return int(raw) if isinstance(raw, str | int) and is_digits(str(raw)) else 0


def _max_number(versions: list[dict[str, Any]]) -> int:
    return max((_number(v) for v in versions), default=0)


def _outcome(version: dict[str, Any]) -> Outcome:
    vid, number, name = version.get("id"), version.get("version"), version.get("name")
    return Outcome(
        str(vid) if vid is not None else None,
        str(number) if number is not None else None,
        name if isinstance(name, str) else None,
    )
