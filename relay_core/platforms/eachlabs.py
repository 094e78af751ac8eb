"""Eachlabs workflow versions: `PUT /workflows/{id}/versions/{versionID}` (Eachlabs' API page
"Create or update workflow version").

`version_id` is resolved before the call (`v{next}` = one above the highest `v<n>` the workflow
has) and recorded, together with whether that version already existed and its `updated_at`.
A retry after an unknown outcome reads the workflow (`GET /workflows/{id}`): the version is
there (and, if it existed before, was updated since) means the first PUT landed.
"""

from __future__ import annotations

import copy
import re
from typing import Any
from urllib.parse import quote

from relay_core.deploys.rules import EachlabsDeploy
from relay_core.platforms.deployer import Facts, Outcome, render
from relay_core.platforms.http import PlatformClient, PlatformError

_NUMBERED = re.compile(r"^v(\d+)$")


class EachlabsVersions:
    def __init__(
        self, client: PlatformClient, target: EachlabsDeploy, rollback_to: str | None = None
    ) -> None:
        self.client = client
        self.target = target
        self.rollback_to = rollback_to
        self.path = f"/workflows/{quote(target.workflow, safe='')}"

    def _body(self, version_id: str, definition: Any) -> dict[str, Any]:
        return {
            "version_id": version_id,
            "definition": definition,
            "locked": self.target.locked,
            # A rollback makes the earlier definition the production version again.
            "production": self.target.production or self.rollback_to is not None,
            "allowed_to_share": self.target.allowed_to_share,
        }

    def preview(self, values: dict[str, str]) -> dict[str, Any]:
        version_id = render(self.target.version_id, values)
        definition = self.target.definition or {"from": self.target.definition_from}
        if self.rollback_to is not None:
            definition = {"from": self.rollback_to}
        path = f"{self.path}/versions/{version_id}"
        return {"method": "PUT", "path": path, "body": self._body(version_id, definition)}

    async def prepare(self, values: dict[str, str]) -> Facts:
        workflow = await self._workflow()
        versions = _versions(workflow)
        version_id = render(self.target.version_id, {**values, "next": _next(versions)})
        before = versions.get(version_id)
        facts: Facts = {
            "versionId": version_id,
            "existedBefore": before is not None,
            "updatedAtBefore": (before or {}).get("updated_at"),
        }
        if self.rollback_to is not None:
            source = _rollback_source(workflow, versions, self.rollback_to)
            facts["source"] = {"id": source}
            facts["definition"] = await self._copy_of(source, version_id)
        else:
            facts["definition"] = await self._definition(workflow, version_id)
        return facts

    async def look(self, facts: Facts) -> Outcome | None:
        found = _versions(await self._workflow()).get(facts["versionId"])
        if found is None:
            return None
        if facts["existedBefore"] and found.get("updated_at") == facts["updatedAtBefore"]:
            return None
        return Outcome(facts["versionId"], None)

    async def deploy(self, facts: Facts) -> Outcome:
        version_id = facts["versionId"]
        path = f"{self.path}/versions/{quote(version_id, safe='')}"
        answer = await self.client.request(
            "PUT", path, json=self._body(version_id, facts["definition"])
        )
        got = answer.get("version_id") if isinstance(answer, dict) else None
        return Outcome(str(got or version_id), None)

    async def _workflow(self) -> dict[str, Any]:
        answer = await self.client.request("GET", self.path)
        return answer if isinstance(answer, dict) else {}

    async def _definition(self, workflow: dict[str, Any], version_id: str) -> Any:
        if self.target.definition is not None:
            return self.target.definition
        latest = workflow.get("latest_version_id")
        if not isinstance(latest, str) or not latest:
            raise PlatformError(f"eachlabs workflow {self.target.workflow} has no latest version")
        return await self._copy_of(latest, version_id)

    async def _copy_of(self, source: str, version_id: str) -> Any:
        answer = await self.client.request("GET", f"{self.path}/versions/{quote(source, safe='')}")
        definition = copy.deepcopy(answer.get("definition") if isinstance(answer, dict) else None)
        # The definition names its own version; the copy is the new version, not the old one.
        if isinstance(definition, dict) and "version" in definition:
            definition["version"] = version_id
        return definition if definition is not None else {}

    async def read_back(self, outcome: Outcome, facts: Facts) -> dict[str, Any]:
        """The version as stored now, and whether it is still the workflow's latest."""
        vid = outcome.version_id or facts["versionId"]
        answer = await self.client.request("GET", f"{self.path}/versions/{quote(vid, safe='')}")
        ours = answer if isinstance(answer, dict) else {}
        latest = (await self._workflow()).get("latest_version_id")
        verified = ours.get("version_id") == vid and latest == vid
        report: dict[str, Any] = {
            "verified": verified,
            "version": {k: ours.get(k) for k in ("version_id", "production", "status")},
            "latest": {"version_id": latest},
            "definitionMatch": ours.get("definition") == facts.get("definition"),
        }
        if not verified and isinstance(latest, str) and latest != vid:
            report["superseded"] = {"id": latest}
        return report


def _rollback_source(workflow: dict[str, Any], versions: dict[str, dict[str, Any]], to: str) -> str:
    """`previous` (the version before the latest) or a version id (`3` also finds `v3`)."""
    if to != "previous":
        for candidate in (to, f"v{to}"):
            if candidate in versions:
                return candidate
        raise PlatformError(f"eachlabs workflow has no version {to!r}", status=404)
    ordered = sorted(versions.values(), key=_order)
    ids = [str(v["version_id"]) for v in ordered]
    latest = workflow.get("latest_version_id")
    position = ids.index(latest) if latest in ids else len(ids) - 1
    if position < 1:
        raise PlatformError(f"eachlabs workflow has no version before {latest}")
    return ids[position - 1]


def _order(version: dict[str, Any]) -> tuple[str, int, str]:
    match = _NUMBERED.match(str(version["version_id"]))
    number = int(match.group(1)) if match else 0
    return (str(version.get("created_at") or ""), number, str(version["version_id"]))


def _versions(workflow: dict[str, Any]) -> dict[str, dict[str, Any]]:
    raw = workflow.get("versions")
    items = raw if isinstance(raw, list) else []
    return {str(v["version_id"]): v for v in items if isinstance(v, dict) and "version_id" in v}


def _next(versions: dict[str, dict[str, Any]]) -> str:
    numbers = [int(m.group(1)) for vid in versions if (m := _NUMBERED.match(vid))]
    return str(max(numbers, default=0) + 1)
