"""The tests' one wait helper: sync and async checks, the value it hands back, and a failure
that names what was awaited."""

from __future__ import annotations

import pytest

from tests.support.wait import until, until_sync


async def test_until_takes_sync_and_async_checks_and_returns_the_value() -> None:
    seen: list[int] = []

    async def third() -> int | None:
        seen.append(len(seen))
        return len(seen) if len(seen) >= 3 else None

    assert await until(third, every=0) == 3
    assert await until(lambda: len(seen) == 3) is True
    assert await until(lambda: {"n": 1}, accept=lambda v: v["n"] == 1) == {"n": 1}


async def test_until_fails_naming_what_it_awaited_and_the_last_value() -> None:
    async def queue_drained() -> int:
        return 0

    with pytest.raises(AssertionError, match=r"within 0.05 s: queue drained \(last: 0\)"):
        await until(queue_drained, within=0.05)
    with pytest.raises(AssertionError, match="batch b1 done"):
        await until(lambda: False, within=0.05, what="batch b1 done")


def test_until_sync_ignores_listed_errors_until_the_deadline() -> None:
    calls: list[int] = []

    def flaky() -> bool:
        calls.append(1)
        if len(calls) < 3:
            raise ConnectionRefusedError
        return True

    def refused() -> bool:
        raise ConnectionRefusedError("nobody listens")

    assert until_sync(flaky, every=0, ignoring=(OSError,)) is True
    with pytest.raises(AssertionError, match=r"refused .*nobody listens"):
        until_sync(refused, within=0.05, ignoring=(OSError,))
    with pytest.raises(ZeroDivisionError):  # an error not listed is not waited out
        until_sync(lambda: 1 / 0, ignoring=(OSError,))
