"""Eachlabs workflow versions (seed 003): `PUT /workflows/{id}/versions/{versionID}`.

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

from relay_core.platforms.deployer import Facts, Outcome, render
from relay_core.platforms.http import PlatformClient, PlatformError
from relay_core.rules import EachlabsDeploy

_NUMBERED = re.compile(r"^v(\d+)$")


class EachlabsVersions:
    def __init__(self, client: PlatformClient, target: EachlabsDeploy) -> None:
        self.client = client
        self.target = target
        self.path = f"/workflows/{quote(target.workflow, safe='')}"

    def _body(self, version_id: str, definition: Any) -> dict[str, Any]:
        return {
            "version_id": version_id,
            "definition": definition,
            "locked": self.target.locked,
            "production": self.target.production,
            "allowed_to_share": self.target.allowed_to_share,
        }

    def preview(self, values: dict[str, str]) -> dict[str, Any]:
        version_id = render(self.target.version_id, values)
        definition = self.target.definition or {"from": self.target.definition_from}
        path = f"{self.path}/versions/{version_id}"
        return {"method": "PUT", "path": path, "body": self._body(version_id, definition)}

    async def prepare(self, values: dict[str, str]) -> Facts:
        workflow = await self._workflow()
        versions = _versions(workflow)
        version_id = render(self.target.version_id, {**values, "next": _next(versions)})
        before = versions.get(version_id)
        return {
            "versionId": version_id,
            "definition": await self._definition(workflow, version_id),
            "existedBefore": before is not None,
            "updatedAtBefore": (before or {}).get("updated_at"),
        }

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
        answer = await self.client.request("GET", f"{self.path}/versions/{quote(latest, safe='')}")
        definition = copy.deepcopy(answer.get("definition") if isinstance(answer, dict) else None)
        # The definition names its own version; the copy is the new version, not the old one.
        if isinstance(definition, dict) and "version" in definition:
            definition["version"] = version_id
        return definition if definition is not None else {}


def _versions(workflow: dict[str, Any]) -> dict[str, dict[str, Any]]:
    raw = workflow.get("versions")
    items = raw if isinstance(raw, list) else []
    return {str(v["version_id"]): v for v in items if isinstance(v, dict) and "version_id" in v}


def _next(versions: dict[str, dict[str, Any]]) -> str:
    numbers = [int(m.group(1)) for vid in versions if (m := _NUMBERED.match(vid))]
    return str(max(numbers, default=0) + 1)
