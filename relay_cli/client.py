"""The CLI's one HTTP client: base URL, bearer key, timeouts, retries, and the one error line.

Every command that talks to a running relay (RELAY_URL, RELAY_API_KEY) goes through `Client`,
and so does `relay demo` for its own stack. A request is retried with one jittered backoff when
repeating it cannot do twice what was asked: GET, HEAD, PUT and DELETE, and a POST that carries
an Idempotency-Key or that the caller marks safe (a lookup, a content-addressed upload).
A request that never reached the server (connection refused) and a 429 (refused, not applied)
are retried whatever the method.
"""

from __future__ import annotations

import asyncio
import sys
from collections.abc import AsyncIterator, Callable
from contextlib import AbstractContextManager, asynccontextmanager, nullcontext
from types import TracebackType
from typing import Any, NamedTuple

import aiohttp
import orjson

from relay_core import retry

# A JSON call answers within a minute; a transfer (an upload, a streamed export, a large
# batch) may take as long as it keeps moving.
CALL_TIMEOUT = aiohttp.ClientTimeout(total=60, connect=10)
TRANSFER_TIMEOUT = aiohttp.ClientTimeout(total=None, connect=10, sock_read=300)
TRIES = 5
IDEMPOTENT = frozenset({"GET", "HEAD", "PUT", "DELETE"})
RETRY_STATUSES = frozenset({502, 503, 504})

# Opens the body of one attempt (an upload's file is reopened for each).
BodyOpener = Callable[[], AbstractContextManager[Any]]


class Answer(NamedTuple):
    status: int
    body: Any  # the JSON answer, the text of any other, None when empty


class Unreachable(Exception):
    """The relay could not be reached (after the retries a request allows)."""

    def __init__(self, url: str, cause: BaseException) -> None:
        super().__init__(f"cannot reach {url}: {str(cause) or type(cause).__name__}")


def backoff(attempt: int, retry_after: float | None = None) -> float:
    """Seconds before try `attempt + 1`: the relay's one jittered backoff (relay_core.retry),
    never below the server's Retry-After (up to the cap)."""
    return retry.CLI_CALL.delay(attempt + 1, retry_after)


def _retry_after(headers: Any) -> float | None:
    try:
        return float(headers["Retry-After"])
    except (KeyError, ValueError):
        return None


class Client:
    """One aiohttp session to one base URL: `async with Client(url, key) as c: await c.call(...)`."""

    def __init__(self, base_url: str, api_key: str | None = None, *, tries: int = TRIES) -> None:
        self.base_url = base_url.rstrip("/")
        self.headers = {"Authorization": f"Bearer {api_key}"} if api_key else {}
        self.tries = tries
        self._session: aiohttp.ClientSession | None = None

    async def __aenter__(self) -> Client:
        self._session = aiohttp.ClientSession(headers=self.headers, timeout=CALL_TIMEOUT)
        return self

    async def __aexit__(
        self, kind: type[BaseException] | None, exc: BaseException | None, tb: TracebackType | None
    ) -> None:
        if self._session is not None:
            await self._session.close()
            self._session = None

    @property
    def session(self) -> aiohttp.ClientSession:
        if self._session is None:
            raise RuntimeError("use the client inside `async with`")
        return self._session

    async def call(
        self,
        method: str,
        path: str,
        *,
        params: dict[str, str] | None = None,
        json: Any = None,
        body: BodyOpener | None = None,
        idempotency_key: str | None = None,
        safe: bool = False,
        transfer: bool = False,
        tries: int | None = None,
    ) -> Answer:
        """One request, retried as the module says; an HTTP error is an Answer, not raised.
        `transfer` gives it the TRANSFER_TIMEOUT of a long upload or a large batch."""
        headers = {"Idempotency-Key": idempotency_key} if idempotency_key else {}
        repeatable = method in IDEMPOTENT or safe or idempotency_key is not None
        last = (tries or self.tries) - 1
        for attempt in range(last + 1):
            try:
                with body() if body is not None else nullcontext() as data:
                    answer, wait = await self._once(
                        method, path, params, json, data, headers, transfer
                    )
            except (aiohttp.ClientError, TimeoutError) as exc:
                never_sent = isinstance(exc, aiohttp.ClientConnectorError)
                if attempt == last or not (repeatable or never_sent):
                    raise Unreachable(self.base_url, exc) from exc
                wait = backoff(attempt)
            else:
                again = answer.status == 429 or (repeatable and answer.status in RETRY_STATUSES)
                if not again or attempt == last:
                    return answer
                wait = backoff(attempt, wait)
            await asyncio.sleep(wait)
        raise AssertionError("unreachable")

    async def _once(
        self,
        method: str,
        path: str,
        params: dict[str, str] | None,
        json: Any,
        data: Any,
        headers: dict[str, str],
        transfer: bool,
    ) -> tuple[Answer, float | None]:
        if json is not None:
            data = orjson.dumps(json)
            headers = {**headers, "Content-Type": "application/json"}
        async with self.session.request(
            method,
            self.base_url + path,
            params=params,
            data=data,
            headers=headers,
            timeout=TRANSFER_TIMEOUT if transfer else CALL_TIMEOUT,
        ) as resp:
            return Answer(resp.status, await read_body(resp)), _retry_after(resp.headers)

    @asynccontextmanager
    async def stream(
        self, path: str, params: dict[str, str] | None = None
    ) -> AsyncIterator[aiohttp.ClientResponse]:
        """A GET whose answer is read as it arrives; retried until its answer begins."""
        for attempt in range(self.tries):
            try:
                resp = await self.session.get(
                    self.base_url + path, params=params, timeout=TRANSFER_TIMEOUT
                )
            except (aiohttp.ClientError, TimeoutError) as exc:
                if attempt == self.tries - 1:
                    raise Unreachable(self.base_url, exc) from exc
                await asyncio.sleep(backoff(attempt))
                continue
            if resp.status in RETRY_STATUSES | {429} and attempt < self.tries - 1:
                resp.release()
                await asyncio.sleep(backoff(attempt, _retry_after(resp.headers)))
                continue
            try:
                yield resp
            finally:
                resp.release()
            return


async def read_body(resp: aiohttp.ClientResponse) -> Any:
    raw = await resp.read()
    if not raw:
        return None
    try:
        return orjson.loads(raw)
    except orjson.JSONDecodeError:
        return raw.decode("utf-8", "replace")


def run(client: Client, method: str, path: str, **options: Any) -> Answer:
    """A command's one request, from synchronous code."""

    async def once() -> Answer:
        async with client:
            return await client.call(method, path, **options)

    return asyncio.run(once())


def message(status: int, answer: Any) -> str:
    """The API's error as one line: `HTTP 404 not_found: no such batch`."""
    if isinstance(answer, dict) and isinstance(answer.get("error"), dict):
        error = answer["error"]
        return f"HTTP {status} {error.get('code')}: {error.get('message')}"
    text = " ".join(str(answer or "").split())[:200]
    return f"HTTP {status}: {text}" if text else f"HTTP {status}"


def shown(answer: Any, as_json: bool, render: Callable[[], str]) -> int:
    """Print a command's answer, as indented JSON (--json) or rendered; exit code 0."""
    print(orjson.dumps(answer, option=orjson.OPT_INDENT_2).decode() if as_json else render())
    return 0


def failed(status: int, answer: Any) -> int:
    """Print the API's error on stderr; the command's exit code (1)."""
    print(f"relay: {message(status, answer)}", file=sys.stderr)
    return 1
