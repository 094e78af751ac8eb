"""Sign test deliveries the way Extend's SDK verifies them (written here, independent of
relay_core.runs.signing, so a shared misunderstanding cannot hide); cross-checked in
test_signing."""

from __future__ import annotations

import hashlib
import hmac
import time

import orjson

SECRET = "wss_test_primary_secret"
OTHER_SECRET = "wss_test_rotated_secret"


def extend_headers(
    body: bytes, secret: str = SECRET, timestamp: int | None = None
) -> dict[str, str]:
    ts = str(int(time.time()) if timestamp is None else timestamp)
    message = f"v0:{ts}:".encode() + body
    signature = hmac.new(secret.encode("utf-8"), message, hashlib.sha256).hexdigest()
    return {
        "x-extend-request-timestamp": ts,
        "x-extend-request-signature": signature,
        "content-type": "application/json",
    }


def run_payload(
    run_id: str,
    status: str,
    *,
    workflow_id: str = "workflow_test",
    version: str = "1",
    dialect: str = "2026-02-09",
    metadata: dict[str, object] | None = None,
    **extra: object,
) -> dict[str, object]:
    """A WorkflowRun as the given API dialect shapes it."""
    run: dict[str, object] = {
        "object": "workflow_run",
        "id": run_id,
        "status": status,
        "metadata": metadata or {},
        "batchId": extra.pop("batchId", None),
        "files": [],
        "reviewed": False,
    }
    if dialect == "2026-02-09":
        run["workflow"] = {"object": "workflow", "id": workflow_id, "name": "Test"}
        run["workflowVersion"] = {"object": "workflow_version", "id": "wv_1", "version": version}
        run["dashboardUrl"] = f"https://dashboard.invalid/{run_id}"
    else:
        run["workflow"] = {"object": "workflow", "id": workflow_id, "version": version, "name": "T"}
        run["name"] = run_id
        run["url"] = f"https://dashboard.invalid/{run_id}"
        run["outputs"] = []
    run.update(extra)
    return run


def event(event_id: str, event_type: str, payload: dict[str, object]) -> bytes:
    return orjson.dumps({"eventId": event_id, "eventType": event_type, "payload": payload})
