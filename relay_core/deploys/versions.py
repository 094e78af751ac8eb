"""The version lifecycle beyond a plain deploy: step diffs (promote) and rollback requests.

A diff compares two Extend step lists by step name: steps only in the source are `added`,
only in the target `removed`, and steps in both whose definition differs are `changed`, with
the keys that differ (`config.<key>` for the step's config, else the step attribute).
"""

from __future__ import annotations

import re
from typing import Any

from relay_core.deploys.rules import Rule
from relay_core.errors import InvalidRequest
from relay_core.platforms.deploy_clients import ROLLBACK_UNSUPPORTED

_ROLLBACK_TO = re.compile(r"^(previous|[0-9]{1,9}|[A-Za-z][A-Za-z0-9_.-]{0,99})$")


def step_diff(source: list[Any], target: list[Any]) -> list[dict[str, Any]]:
    """Rows `{step, change, type, keys}` in source order, then the removed steps."""
    src, dst = _by_name(source), _by_name(target)
    rows: list[dict[str, Any]] = []
    for name, step in src.items():
        if name not in dst:
            rows.append({"step": name, "change": "added", "type": step.get("type"), "keys": []})
        elif step != dst[name]:
            keys = changed_keys(dst[name], step)
            rows.append({"step": name, "change": "changed", "type": step.get("type"), "keys": keys})
    for name, step in dst.items():
        if name not in src:
            rows.append({"step": name, "change": "removed", "type": step.get("type"), "keys": []})
    return rows


def changed_keys(old: dict[str, Any], new: dict[str, Any]) -> list[str]:
    keys: list[str] = []
    for attr in sorted(set(old) | set(new)):
        if old.get(attr) == new.get(attr):
            continue
        before, after = old.get(attr), new.get(attr)
        if attr == "config" and isinstance(before, dict) and isinstance(after, dict):
            keys += [
                f"config.{k}"
                for k in sorted(set(before) | set(after))
                if before.get(k) != after.get(k)
            ]
        else:
            keys.append(attr)
    return keys


def _by_name(steps: list[Any]) -> dict[str, dict[str, Any]]:
    return {str(s.get("name")): s for s in steps if isinstance(s, dict)}


def check_rollback(rule: Rule, body: Any) -> str:
    """The `to` of a rollback request for this rule; InvalidRequest says why not."""
    reason = ROLLBACK_UNSUPPORTED.get(rule.deploy.provider)
    if reason is not None:
        raise InvalidRequest(f"rule {rule.name!r} cannot roll back: {reason}", code="unsupported")
    to = body.get("to") if isinstance(body, dict) else None
    if isinstance(to, int) and not isinstance(to, bool):
        to = str(to)
    if not isinstance(to, str) or not _ROLLBACK_TO.match(to):
        raise InvalidRequest(
            'to must be "previous", a version number such as "3", or a version id',
            code="invalid_to",
        )
    return to
