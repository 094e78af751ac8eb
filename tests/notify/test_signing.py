"""Standard Webhooks signing, checked against the specification's reference library."""

from __future__ import annotations

import time

import pytest
from standardwebhooks import Webhook
from standardwebhooks.webhooks import WebhookVerificationError

from relay_core.notify import signing
from relay_core.notify.events import body


def test_our_signature_verifies_with_the_reference_library() -> None:
    secret = signing.new_secret()
    assert secret.startswith("whsec_")
    payload = body("batch.completed", {"batchId": "rbatch_1", "runs": {"PROCESSED": 3}}, 0)
    headers = signing.headers(secret, "msg_abc", payload)
    assert headers["webhook-signature"].startswith("v1,")
    assert Webhook(secret).verify(payload, headers)["data"]["batchId"] == "rbatch_1"


def test_a_changed_body_or_other_secret_fails() -> None:
    secret = signing.new_secret()
    payload = body("run.completed", {"runId": "r1"}, 0)
    headers = signing.headers(secret, "msg_abc", payload)
    with pytest.raises(WebhookVerificationError):
        Webhook(secret).verify(payload.replace(b"r1", b"r2"), headers)
    with pytest.raises(WebhookVerificationError):
        Webhook(signing.new_secret()).verify(payload, headers)
    with pytest.raises(signing.SignatureError):
        signing.verify(signing.new_secret(), headers, payload)


def test_we_verify_what_the_reference_library_signs() -> None:
    secret = signing.new_secret()
    payload = b'{"type":"deploy.failed","timestamp":"2026-01-01T00:00:00Z","data":{}}'
    from datetime import UTC, datetime

    now = datetime.now(UTC)
    sig = Webhook(secret).sign("msg_1", now, payload.decode())
    headers = {
        "webhook-id": "msg_1",
        "webhook-timestamp": str(int(now.timestamp())),
        "webhook-signature": "v1,bm90IGl0 " + sig,  # several signatures: one must match
    }
    signing.verify(secret, headers, payload)
    stale = {**headers, "webhook-timestamp": str(int(time.time()) - 3600)}
    with pytest.raises(signing.SignatureError, match="tolerance"):
        signing.verify(secret, stale, payload)


def test_body_shape() -> None:
    import orjson

    data = orjson.loads(body("review.completed", {"runId": "r"}, 1_767_225_600_000))
    assert data == {
        "type": "review.completed",
        "timestamp": "2026-01-01T00:00:00.000Z",
        "data": {"runId": "r"},
    }
