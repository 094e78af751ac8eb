"""Real product processes for fault tests: `relay web` / `relay worker` as subprocesses."""

from __future__ import annotations

import os
import signal
import socket
import subprocess
import sys
from collections.abc import Mapping
from pathlib import Path

from tests.support.wait import until_sync

ROOT = Path(__file__).resolve().parents[2]


def wait_port(port: int, timeout: float = 20.0) -> None:
    def listens() -> bool:
        socket.create_connection(("127.0.0.1", port), timeout=0.2).close()
        return True

    until_sync(listens, within=timeout, what=f"a listener on 127.0.0.1:{port}", ignoring=(OSError,))


class RelayProcess:
    """`relay <command>` in its own process, with an environment of our choosing."""

    def __init__(
        self,
        command: list[str],
        env: Mapping[str, str],
        port: int | None = None,
        output: Path | None = None,
    ) -> None:
        self.command = command
        self.env = {**os.environ, **env}
        self.port = port
        self.output = output  # appended to by every start (a restarted process keeps one log)
        self.proc: subprocess.Popen[bytes] | None = None

    def start(self) -> RelayProcess:
        args = [sys.executable, "-m", "relay_cli.main", *self.command]
        if self.output is None:
            self.proc = subprocess.Popen(
                args, env=self.env, cwd=ROOT, stdout=subprocess.DEVNULL, stderr=subprocess.DEVNULL
            )
        else:
            with self.output.open("ab") as out:  # the child keeps its own copy of the fd
                self.proc = subprocess.Popen(
                    args, env=self.env, cwd=ROOT, stdout=out, stderr=subprocess.STDOUT
                )
        if self.port is not None:
            wait_port(self.port)
        return self

    def kill(self) -> None:
        if self.proc is not None and self.proc.poll() is None:
            self.proc.send_signal(signal.SIGKILL)
            self.proc.wait(timeout=10)
        self.proc = None

    def stop(self) -> None:
        if self.proc is not None and self.proc.poll() is None:
            self.proc.terminate()
            try:
                self.proc.wait(timeout=30)
            except subprocess.TimeoutExpired:
                self.proc.kill()
                self.proc.wait()
        self.proc = None
