"""Processes a benchmark owns: a private Redis, servers on free loopback ports, wrk."""

from __future__ import annotations

import os
import shutil
import socket
import subprocess
import sys
import tempfile
import time
from collections.abc import Iterator
from contextlib import contextmanager
from pathlib import Path

import orjson

ROOT = Path(__file__).resolve().parent.parent


def free_port() -> int:
    with socket.socket() as sock:
        sock.bind(("127.0.0.1", 0))
        port: int = sock.getsockname()[1]
        return port


def wait_port(port: int, timeout: float = 20.0) -> None:
    deadline = time.monotonic() + timeout
    while time.monotonic() < deadline:
        try:
            socket.create_connection(("127.0.0.1", port), timeout=0.2).close()
            return
        except OSError:
            time.sleep(0.05)
    raise RuntimeError(f"nothing listens on 127.0.0.1:{port}")


@contextmanager
def redis_server() -> Iterator[str]:
    binary = shutil.which("redis-server") or "redis-server"
    port = free_port()
    workdir = tempfile.mkdtemp(prefix="bench-redis-")
    proc = subprocess.Popen(
        [
            binary,
            "--port",
            str(port),
            "--bind",
            "127.0.0.1",
            "--save",
            "",
            "--appendonly",
            "no",
            "--dir",
            workdir,
        ],
        stdout=subprocess.DEVNULL,
    )
    try:
        wait_port(port)
        yield f"redis://127.0.0.1:{port}/0"
    finally:
        proc.kill()
        proc.wait()


@contextmanager
def process(
    args: list[str], env: dict[str, str] | None = None, port: int | None = None
) -> Iterator[subprocess.Popen[bytes]]:
    full_env = {**os.environ, **(env or {})}
    # A file, not a pipe: nobody reads a pipe while the bench runs, and a chatty process would
    # block on a full one.
    name = "-".join(a for a in args[2:4] if not a.startswith("-")) or "proc"
    log = tempfile.NamedTemporaryFile(prefix=f"bench-{name}-", suffix=".log", delete=False)  # noqa: SIM115
    proc = subprocess.Popen(args, env=full_env, cwd=ROOT, stdout=subprocess.DEVNULL, stderr=log)
    try:
        if port is not None:
            wait_port(port)
        yield proc
    finally:
        if proc.poll() is not None:
            print(
                f"bench: {name} exited early ({proc.returncode}); log: {log.name}", file=sys.stderr
            )
        proc.terminate()
        try:
            proc.wait(timeout=15)
        except subprocess.TimeoutExpired:
            proc.kill()
            proc.wait()
        log.close()


def python(*args: str) -> list[str]:
    return [sys.executable, *args]


def wrk(port: int, data_file: Path, seconds: int, connections: int = 32) -> dict[str, float]:
    script = ROOT / "bench" / "wrk_replay.lua"
    if shutil.which("wrk") is None:
        raise SystemExit("bench: B1 needs the load generator wrk: run ./dev bench (installs it)")
    out = subprocess.run(
        [
            "wrk",
            "-t1",
            f"-c{connections}",
            f"-d{seconds}s",
            "--latency",
            "-s",
            str(script),
            f"http://127.0.0.1:{port}",
            "--",
            str(data_file),
        ],
        capture_output=True,
        text=True,
        check=True,
    ).stdout
    line = next(line for line in out.splitlines() if line.startswith("WRK_JSON "))
    data: dict[str, float] = orjson.loads(line.removeprefix("WRK_JSON "))
    return data
