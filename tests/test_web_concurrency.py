"""WEB_CONCURRENCY: `relay web` serves from N processes on one port, each with its own sink;
SIGTERM stops them all gracefully and a crashed child is replaced. Real processes throughout."""

from __future__ import annotations

import asyncio
import os
import signal
from pathlib import Path

import aiohttp
from redis.asyncio import Redis

from tests.support.procs import RelayProcess
from tests.support.redis_server import free_port
from tests.support.signing import OTHER_SECRET, SECRET, event, extend_headers, run_payload
from tests.support.wait import until


def children(pid: int) -> list[int]:
    text = Path(f"/proc/{pid}/task/{pid}/children").read_text()
    return sorted(int(p) for p in text.split())


def alive(pid: int) -> bool:
    return Path(f"/proc/{pid}").exists()


def connections_held(pid: int, port: int, state: str = "01") -> int:
    """TCP sockets on local `port` this process holds (01 established, 0A listening)."""
    inodes = set()
    for fd in Path(f"/proc/{pid}/fd").iterdir():
        try:
            target = os.readlink(fd)
        except OSError:
            continue
        if target.startswith("socket:["):
            inodes.add(target[8:-1])
    held = 0
    for line in Path("/proc/net/tcp").read_text().splitlines()[1:]:
        fields = line.split()
        local_port = int(fields[1].split(":")[1], 16)
        if local_port == port and fields[3] == state and fields[9] in inodes:
            held += 1
    return held


async def post(session: aiohttp.ClientSession, port: int, n: int) -> int:
    body = event(f"evt_wc_{n}", "workflow_run.completed", run_payload(f"run_wc_{n}", "PROCESSED"))
    try:
        async with session.post(
            f"http://127.0.0.1:{port}/webhooks/extend", data=body, headers=extend_headers(body)
        ) as resp:
            return resp.status
    except aiohttp.ClientError:
        return 0


async def test_two_processes_share_the_port_and_are_replaced_and_stopped(
    redis_url: str, redis: Redis
) -> None:
    port = free_port()
    env = {
        "REDIS_URL": redis_url,
        "PORT": str(port),
        "EXTEND_WEBHOOK_SECRETS": f"{SECRET},{OTHER_SECRET}",
        "RELAY_API_KEYS": "k",
        "LOG_LEVEL": "WARNING",
        "WEB_CONCURRENCY": "2",
    }
    web = RelayProcess(["web", "--host", "127.0.0.1"], env, port).start()
    assert web.proc is not None
    parent = web.proc.pid
    try:
        await until(lambda: len(children(parent)) == 2)
        first = children(parent)
        await until(lambda: all(connections_held(pid, port, "0A") for pid in first))
        # 16 concurrent keep-alive connections: the kernel spreads them over both children
        connector = aiohttp.TCPConnector(limit=16)
        async with aiohttp.ClientSession(connector=connector) as session:
            statuses = await asyncio.gather(*(post(session, port, n) for n in range(200)))
            assert set(statuses) == {200}
            held = [connections_held(pid, port) for pid in first]
            assert all(n > 0 for n in held), held

            os.kill(first[0], signal.SIGKILL)  # a crashed child is replaced
            await until(lambda: len(children(parent)) == 2 and first[0] not in children(parent))
            statuses = [await post(session, port, n) for n in range(200, 220)]
            assert statuses.count(200) >= 18, statuses  # a reset connection or two at most
        assert await redis.exists(b"relay:evt:evt_wc_199") == 1

        serving = children(parent)
        web.proc.send_signal(signal.SIGTERM)  # the PaaS's stop: every process goes, cleanly
        assert web.proc.wait(timeout=30) == 0
        assert not any(alive(pid) for pid in serving)
    finally:
        web.kill()


async def test_sigterm_under_load_answers_what_it_took_and_stores_what_it_answered(
    redis_url: str, redis: Redis
) -> None:
    port = free_port()
    env = {
        "REDIS_URL": redis_url,
        "PORT": str(port),
        "EXTEND_WEBHOOK_SECRETS": f"{SECRET},{OTHER_SECRET}",
        "RELAY_API_KEYS": "k",
        "LOG_LEVEL": "WARNING",
        "WEB_CONCURRENCY": "2",
    }
    web = RelayProcess(["web", "--host", "127.0.0.1"], env, port).start()
    assert web.proc is not None
    parent = web.proc.pid
    await until(lambda: len(children(parent)) == 2)
    await until(lambda: all(connections_held(pid, port, "0A") for pid in children(parent)))
    answers: dict[int, int] = {}
    counter = iter(range(100_000))

    async def sender(session: aiohttp.ClientSession) -> None:
        for n in counter:
            status = await post(session, port, n)
            answers[n] = status
            if status == 0:
                return  # the server is gone: this sender stops

    try:
        async with aiohttp.ClientSession() as session:
            senders = [asyncio.create_task(sender(session)) for _ in range(8)]
            await until(lambda: len(answers) >= 300)
            web.proc.send_signal(signal.SIGTERM)
            await asyncio.wait_for(asyncio.gather(*senders), 30)
        assert web.proc.wait(timeout=30) == 0
    finally:
        web.kill()
    # Every request got an answer or a refused/closed connection; never a 5xx; and every 200
    # was stored before it was given.
    assert set(answers.values()) <= {0, 200}, sorted(set(answers.values()))
    answered = [n for n, status in answers.items() if status == 200]
    assert len(answered) >= 300
    stored = await asyncio.gather(*(redis.exists(f"relay:evt:evt_wc_{n}") for n in answered))
    assert all(stored)
