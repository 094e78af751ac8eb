"""`relay web` with WEB_CONCURRENCY > 1: a parent that keeps N serving processes on one port.

Each child is a whole `relay web` (its own event loop, Redis pool and group-commit sink) bound
with SO_REUSEPORT, so the kernel spreads new connections over the children. The parent serves
nothing: it starts the children, replaces one that dies, and on SIGTERM/SIGINT hands the
signal to every child and waits for their graceful stop (in-flight requests finish, each sink
flushes) before it exits.
"""

from __future__ import annotations

import logging
import os
import signal
import subprocess
import sys
import time
from types import FrameType

log = logging.getLogger("relay.web")
STOP_GRACE_SECONDS = 25.0  # below a PaaS's shutdown grace period (Heroku 30 s)
# A child that dies sooner than this after its start is restarted only after a pause, so a
# child that cannot start (a port taken, a broken config) does not spin the parent.
QUICK_DEATH_SECONDS = 5.0
RESTART_PAUSE_SECONDS = 1.0


class Child:
    def __init__(self, args: list[str]) -> None:
        self.args = args
        self.started = time.monotonic()
        env = {**os.environ, "WEB_CONCURRENCY": "1"}
        self.proc = subprocess.Popen(args, env=env)

    @property
    def pid(self) -> int:
        return self.proc.pid


class Supervisor:
    def __init__(self, count: int, host: str, port: int) -> None:
        self.args = [sys.executable, "-m", "relay_cli.main", "web", "--host", host]
        self.args += ["--port", str(port), "--reuse-port"]
        self.count = count
        self.children: list[Child] = []
        self.stopping: signal.Signals | None = None

    def run(self) -> int:
        signal.signal(signal.SIGTERM, self._on_signal)
        signal.signal(signal.SIGINT, self._on_signal)
        self.children = [Child(self.args) for _ in range(self.count)]
        log.info("serving with %d processes: %s", self.count, [c.pid for c in self.children])
        while self.stopping is None:
            self._replace_dead()
            time.sleep(0.2)  # the supervisor's own pace; signals interrupt it
        return self._stop_all(self.stopping)

    def _on_signal(self, signum: int, frame: FrameType | None) -> None:
        self.stopping = signal.Signals(signum)

    def _replace_dead(self) -> None:
        for i, child in enumerate(self.children):
            code = child.proc.poll()
            if code is None or self.stopping is not None:
                continue
            lived = time.monotonic() - child.started
            log.warning(
                "web process %d exited (%s) after %.1f s; replacing it", child.pid, code, lived
            )
            if lived < QUICK_DEATH_SECONDS:
                time.sleep(RESTART_PAUSE_SECONDS)
            self.children[i] = Child(self.args)

    def _stop_all(self, signum: signal.Signals) -> int:
        for child in self.children:
            if child.proc.poll() is None:
                child.proc.send_signal(signal.SIGTERM)  # aiohttp's graceful stop
        deadline = time.monotonic() + STOP_GRACE_SECONDS
        for child in self.children:
            try:
                child.proc.wait(timeout=max(0.1, deadline - time.monotonic()))
            except subprocess.TimeoutExpired:
                log.warning("web process %d did not stop in time; killed", child.pid)
                child.proc.kill()
                child.proc.wait()
        log.info("stopped on %s", signum.name)
        return 0
