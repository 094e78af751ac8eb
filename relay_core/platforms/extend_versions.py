"""Extend workflow versions (seeds 000, 001): deploy with `POST /workflows/{id}/versions`.

Extend has no idempotency key, so a deploy is recognised by its name: before the call we note
the highest published version number, and a retry after an unknown outcome looks for a newer
version with our name (`GET /workflows/{id}/versions`) instead of deploying a second one.
"""

from __future__ import annotations

from typing import Any
from urllib.parse import quote

from relay_core.params import is_digits
from relay_core.platforms.deployer import Facts, Outcome, render
from relay_core.platforms.http import PlatformClient
from relay_core.rules import ExtendDeploy

PAGE_SIZE = "100"
MAX_PAGES = 50


class ExtendVersions:
    def __init__(self, client: PlatformClient, target: ExtendDeploy) -> None:
        self.client = client
        self.target = target
        self.path = f"/workflows/{quote(target.workflow, safe='')}/versions"

    def _body(self, name: str) -> dict[str, Any]:
        body: dict[str, Any] = {"name": name}
        if self.target.steps is not None:
            body["steps"] = self.target.steps
        return body

    def preview(self, values: dict[str, str]) -> dict[str, Any]:
        body = self._body(render(self.target.name, values))
        return {"method": "POST", "path": self.path, "body": body}

    async def prepare(self, values: dict[str, str]) -> Facts:
        versions = await self._versions()
        return {"name": render(self.target.name, values), "maxBefore": _max_number(versions)}

    async def look(self, facts: Facts) -> Outcome | None:
        for version in await self._versions():
            number = _number(version)
            if version.get("name") == facts["name"] and number > int(facts["maxBefore"]):
                return _outcome(version)
        return None

    async def deploy(self, facts: Facts) -> Outcome:
        answer = await self.client.request("POST", self.path, json=self._body(facts["name"]))
        return _outcome(_unwrap(answer, "workflowVersion"))

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
