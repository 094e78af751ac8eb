"""relay_core.runs.signing against the official SDK and against the test helper."""

from __future__ import annotations

import time

import pytest
from extend_ai import Extend

from relay_core.runs import signing
from tests.support.signing import SECRET, event, extend_headers, run_payload

BODY = event("evt_1", "workflow_run.completed", run_payload("workflow_run_1", "PROCESSED"))


def test_helper_signature_is_accepted_by_the_official_sdk() -> None:
    sdk = Extend(token="unused", base_url="http://127.0.0.1:9")
    parsed = sdk.webhooks.verify_and_parse(BODY, extend_headers(BODY), SECRET)
    # The SDK returns its typed model when it knows the shape, else the raw dict.
    event_id = parsed["eventId"] if isinstance(parsed, dict) else parsed.event_id
    assert event_id == "evt_1"


def test_product_signature_is_accepted_by_the_official_sdk() -> None:
    sdk = Extend(token="unused", base_url="http://127.0.0.1:9")
    headers = signing.signed_headers(SECRET, BODY)
    assert sdk.webhooks.verify(BODY, headers, SECRET)
    assert not sdk.webhooks.verify(BODY + b" ", headers, SECRET)


def test_verify_accepts_the_helper_and_rejects_a_changed_byte() -> None:
    headers = extend_headers(BODY)
    signing.verify(headers, BODY, [SECRET.encode()], max_age_seconds=300)
    with pytest.raises(signing.SignatureError):
        signing.verify(
            headers, BODY.replace(b"evt_1", b"evt_2"), [SECRET.encode()], max_age_seconds=300
        )


@pytest.mark.parametrize(
    ("age", "ok"), [(300, True), (301, False), (-60, True), (-61, False), (0, True)]
)
def test_timestamp_window_edges_match_the_sdk(age: int, ok: bool) -> None:
    now = int(time.time())
    headers = extend_headers(BODY, timestamp=now - age)
    sdk = Extend(token="unused", base_url="http://127.0.0.1:9")
    assert sdk.webhooks.verify(BODY, headers, SECRET, max_age_seconds=300) is ok
    if ok:
        signing.verify(headers, BODY, [SECRET.encode()], max_age_seconds=300, now=now)
    else:
        with pytest.raises(signing.SignatureError):
            signing.verify(headers, BODY, [SECRET.encode()], max_age_seconds=300, now=now)


def test_error_message_never_echoes_the_signature() -> None:
    headers = extend_headers(BODY, secret="wss_wrong")
    with pytest.raises(signing.SignatureError) as info:
        signing.verify(headers, BODY, [SECRET.encode()], max_age_seconds=300)
    assert headers["x-extend-request-signature"] not in str(info.value)


def test_non_ascii_signature_is_a_signature_error_not_a_crash() -> None:
    headers = extend_headers(BODY)
    headers["x-extend-request-signature"] = "é" * 64
    with pytest.raises(signing.SignatureError):
        signing.verify(headers, BODY, [SECRET.encode()], max_age_seconds=300)
