"""The tests' one way to wait for work: poll a condition until it holds, or fail after a
deadline saying what was awaited (never a bare sleep).

`until` takes a sync or an async check and returns its first truthy value, or its first value
that `accept` approves (`view = await until(lambda: st.batch(b), accept=finished)`), and names
the last value seen when it fails. `until_sync` is the same for code with no event loop
(process and server start-up).
"""

from __future__ import annotations

import asyncio
import inspect
import time
from collections.abc import Awaitable, Callable
from typing import Any, TypeVar, cast, overload

T = TypeVar("T")
WITHIN = 30.0
EVERY = 0.02
Ignored = tuple[type[BaseException], ...]


@overload
async def until(
    check: Callable[[], Awaitable[T]],
    within: float = ...,
    what: str | None = ...,
    every: float = ...,
    ignoring: Ignored = ...,
    accept: Callable[[T], object] = ...,
) -> T: ...
@overload
async def until(
    check: Callable[[], T],
    within: float = ...,
    what: str | None = ...,
    every: float = ...,
    ignoring: Ignored = ...,
    accept: Callable[[T], object] = ...,
) -> T: ...
async def until(
    check: Callable[[], Any],
    within: float = WITHIN,
    what: str | None = None,
    every: float = EVERY,
    ignoring: Ignored = (),
    accept: Callable[[Any], object] = bool,
) -> Any:
    """Poll `check` every `every` seconds; its first value `accept` approves (by default a
    truthy one), or AssertionError naming `what` (by default the check's name or source) and
    the last value after `within` seconds. Exceptions listed in `ignoring` count as "not yet"."""
    poll = _Poll(check, within, what)
    while True:
        try:
            value = check()
            if inspect.isawaitable(value):
                value = await value
            ok = bool(accept(value))
        except ignoring as exc:
            value, ok = exc, False
        if poll.answered(value, ok):
            return value
        await asyncio.sleep(every)


def until_sync(
    check: Callable[[], T],
    within: float = WITHIN,
    what: str | None = None,
    every: float = EVERY,
    ignoring: Ignored = (),
    accept: Callable[[T], object] = bool,
) -> T:
    """`until` for code without an event loop."""
    poll = _Poll(check, within, what)
    while True:
        try:
            value: Any = check()
            ok = bool(accept(value))
        except ignoring as exc:
            value, ok = exc, False
        if poll.answered(value, ok):
            return cast(T, value)
        time.sleep(every)


class _Poll:
    """What both loops share: the deadline, and the failure that names what was awaited."""

    def __init__(self, check: Callable[[], Any], within: float, what: str | None) -> None:
        self.check, self.within, self.what = check, within, what
        self.deadline = time.monotonic() + within

    def answered(self, value: Any, ok: bool) -> bool:
        """True once a value is accepted; AssertionError when the deadline has passed first."""
        if ok:
            return True
        if time.monotonic() > self.deadline:
            what = self.what or describe(self.check)
            raise AssertionError(
                f"not reached within {self.within:g} s: {what} (last: {value!r:.300})"
            )
        return False


def describe(check: Callable[[], Any]) -> str:
    """A check's name, or a lambda's source line: what a failing wait names by default."""
    name = getattr(check, "__name__", "")
    if name and name != "<lambda>":
        return name.replace("_", " ")
    try:
        return " ".join(inspect.getsource(check).split())
    except (OSError, TypeError):
        return "condition"
