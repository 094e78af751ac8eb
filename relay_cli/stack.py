"""The demo's processes: sandbox, web and worker as children that always get cleaned up."""

from __future__ import annotations

import json
import os
import signal
import subprocess
import sys
import time
from pathlib import Path
from typing import IO, Any

from relay_cli.localredis import free_port


class Child:
    def __init__(self, name: str, args: list[str], env: dict[str, str], log_dir: Path) -> None:
        self.name = name
        self.log_path = log_dir / f"{name}.log"
        self._log: IO[bytes] = self.log_path.open("wb")
        self.proc = subprocess.Popen(
            args,
            env={**os.environ, **env},
            stdout=subprocess.PIPE if name == "sandbox" else self._log,
            stderr=self._log,
            start_new_session=True,  # Ctrl-C reaches the demo only; it stops children in order
        )

    def stop(self) -> None:
        if self.proc.poll() is None:
            self.proc.send_signal(signal.SIGTERM)
            try:
                self.proc.wait(timeout=25)
            except subprocess.TimeoutExpired:
                self.proc.kill()
                self.proc.wait()
        if self.proc.stdout is not None:
            self.proc.stdout.close()
        self._log.close()

    def tail(self, lines: int = 15) -> str:
        text = self.log_path.read_text(errors="replace").splitlines()
        return "\n".join(text[-lines:])


def start_sandbox(
    config_path: Path, webhook_url: str, secret: str, log_dir: Path
) -> tuple[Child, dict[str, Any]]:
    port = free_port()
    args = [
        sys.executable,
        "-m",
        "sandbox",
        "--port",
        str(port),
        "--webhook-url",
        webhook_url,
        "--webhook-secret",
        secret,
        "--config",
        str(config_path),
    ]
    child = Child("sandbox", args, {}, log_dir)
    assert child.proc.stdout is not None
    deadline = time.monotonic() + 30
    while time.monotonic() < deadline:
        line = child.proc.stdout.readline().decode()
        if line.startswith("SANDBOX_READY "):
            ready: dict[str, Any] = json.loads(line.removeprefix("SANDBOX_READY "))
            return child, ready
        if not line and child.proc.poll() is not None:
            break
    child.stop()
    raise RuntimeError(f"the sandbox did not start:\n{child.tail()}")


def start_relay(command: list[str], env: dict[str, str], log_dir: Path) -> Child:
    return Child(command[0], [sys.executable, "-m", "relay_cli.main", *command], env, log_dir)
