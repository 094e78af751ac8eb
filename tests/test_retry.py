"""The one backoff: doubling per try up to its cap, jittered within half of it, a Retry-After
honoured up to the cap, never below its floor."""

from __future__ import annotations

from hypothesis import given
from hypothesis import strategies as st

from relay_core.retry import Backoff


@given(
    base=st.floats(0.01, 10),
    cap=st.floats(0.01, 100),
    attempt=st.integers(1, 40),
)
def test_a_wait_is_between_half_and_all_of_the_capped_doubling(
    base: float, cap: float, attempt: int
) -> None:
    ceiling = min(cap, base * 2.0 ** (attempt - 1))
    wait = Backoff(base, cap).delay(attempt)
    assert ceiling / 2 <= wait <= ceiling


def test_workers_failing_together_do_not_retry_together() -> None:
    waits = {Backoff(1.0, 8.0).delay(3) for _ in range(50)}
    assert len(waits) > 1 and min(waits) >= 2.0 and max(waits) <= 4.0


def test_the_cap_bounds_the_doubling() -> None:
    assert all(4.0 <= Backoff(1.0, 8.0).delay(30) <= 8.0 for _ in range(50))


@given(retry_after=st.floats(0, 500))
def test_retry_after_is_honoured_up_to_the_cap(retry_after: float) -> None:
    wait = Backoff(1.0, 60.0).delay(1, retry_after)
    assert wait >= min(retry_after, 60.0) and wait <= 60.0


def test_the_floor_holds_for_the_shortest_waits() -> None:
    assert Backoff(0.0, 10.0, floor=0.05).delay(1) == 0.05
