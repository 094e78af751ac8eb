"""`relay demo` as a real subprocess, for the demo and dashboard tests."""

from __future__ import annotations

import os
import re
import signal
import subprocess
import sys
import time
from dataclasses import dataclass, field
from pathlib import Path

from tests.support.procs import ROOT

DEMO_MARK = "relay-demo-"  # every demo child has its temp dir (this prefix) in its command line


def demo_env() -> dict[str, str]:
    env = {k: v for k, v in os.environ.items() if k != "REDIS_URL"}  # the demo brings its own
    env.update({"PYTHONUNBUFFERED": "1", "COLUMNS": "120", "TERM": "dumb"})
    env["PATH"] = path_without_redis(env.get("PATH", ""))
    return env


def path_without_redis(path: str) -> str:
    """PATH less every folder holding a redis-server: the demo must then use the bundled one,
    as on a fresh machine that never installed Redis."""
    kept = [d for d in path.split(os.pathsep) if d and not (Path(d) / "redis-server").exists()]
    return os.pathsep.join(kept)


def demo_processes() -> list[int]:
    """Pids of processes started by any demo (sandbox, web, worker, redis-server)."""
    own = {os.getpid(), os.getppid()}
    found = []
    for proc in Path("/proc").iterdir():
        if not proc.name.isdigit():
            continue
        try:
            # web and worker get the demo's rules file (in its temp dir) through the environment
            seen = (proc / "cmdline").read_bytes() + (proc / "environ").read_bytes()
            seen += os.readlink(proc / "cwd").encode()
        except OSError:
            continue
        if DEMO_MARK.encode() in seen and int(proc.name) not in own:
            found.append(int(proc.name))
    return found


@dataclass
class KeptDemo:
    proc: subprocess.Popen[str]
    web_url: str = ""
    api_key: str = ""
    batch_id: str = ""
    output: list[str] = field(default_factory=list)

    def stop(self) -> int:
        self.proc.send_signal(signal.SIGINT)  # what Ctrl-C does
        code = self.proc.wait(timeout=60)
        assert self.proc.stdout is not None
        self.output.append(self.proc.stdout.read())
        self.proc.stdout.close()
        return code


def start_kept_demo(files: int) -> KeptDemo:
    args = [sys.executable, "-m", "relay_cli.main", "demo", "--files", str(files), "--keep"]
    proc = subprocess.Popen(
        args, cwd=ROOT, env=demo_env(), stdout=subprocess.PIPE, stderr=subprocess.STDOUT, text=True
    )
    demo = KeptDemo(proc)
    assert proc.stdout is not None
    deadline = time.monotonic() + 180
    while time.monotonic() < deadline:
        line = proc.stdout.readline()
        if not line and proc.poll() is not None:
            raise AssertionError("demo exited early:\n" + "".join(demo.output))
        demo.output.append(line)
        if match := re.search(r"batch (rbatch_\w+):", line):
            demo.batch_id = match.group(1)
        if match := re.search(r"web: (http://127\.0\.0\.1:\d+)\s+\(API key: ([\w-]+)\)", line):
            demo.web_url, demo.api_key = match.group(1), match.group(2)
            return demo
    demo.stop()
    raise AssertionError("the demo did not print its URLs in time:\n" + "".join(demo.output))
