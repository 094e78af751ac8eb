"""A disk that stalls on demand under a private Redis server (tests/support/stall_fsync.c).

The shim is compiled at test time with the machine's C compiler into a temporary directory and
preloaded into the server (LD_PRELOAD). While the stall is on, every fsync-family call of the
server blocks, so with `appendfsync everysec` the writes it acknowledges pile up in its memory
(up to 2 s, after which it writes them anyway) and a SIGKILL really loses them.
"""

from __future__ import annotations

import os
import shutil
import subprocess
import time
from pathlib import Path

SOURCE = Path(__file__).with_name("stall_fsync.c")
EVERYSEC_PERIOD_SECONDS = 1.0  # appendfsync everysec: at most one fsync a second


def compiler() -> str | None:
    return shutil.which(os.environ.get("CC", "cc")) or shutil.which("gcc")


def build_shim(directory: Path) -> Path:
    """Compile the shim into `directory`; RuntimeError (with the compiler's output) on failure."""
    cc = compiler()
    if cc is None:
        raise RuntimeError("no C compiler (cc) on PATH")
    library = directory / "stall_fsync.so"
    args = [cc, "-shared", "-fPIC", "-O2", "-Wall", "-o", str(library), str(SOURCE), "-ldl"]
    done = subprocess.run(args, capture_output=True, text=True, check=False)
    if done.returncode != 0:
        raise RuntimeError(f"cc failed: {done.stderr.strip()}")
    return library


class DiskStall:
    """The flag file the shim watches: present means every fsync of the server blocks."""

    def __init__(self, library: Path, directory: Path) -> None:
        self.library = library
        self.flag = directory / "stall"
        self.held = directory / "stall.held"  # created by the shim once a call is held
        self.synced = directory / "stall.synced"  # dated by the shim at each call completed

    def env(self) -> dict[str, str]:
        return {"LD_PRELOAD": str(self.library), "STALL_FSYNC_FLAG": str(self.flag)}

    def until_next_sync(self, lead: float = 0.1) -> float:
        """Seconds until `lead` before the server's next fsync (everysec: one second after the
        last one), so that a stall begun then takes hold at once rather than up to 1 s later."""
        try:
            last = self.synced.stat().st_mtime
        except FileNotFoundError:
            return 0.0
        return max(0.0, last + EVERYSEC_PERIOD_SECONDS - lead - time.time())

    def begin(self) -> None:
        self.held.unlink(missing_ok=True)
        self.flag.touch()

    def end(self) -> None:
        self.flag.unlink(missing_ok=True)
        self.held.unlink(missing_ok=True)
        self.synced.unlink(missing_ok=True)  # a restarted server's first fsync dates it again

    def taken_hold(self) -> bool:
        """Whether the server has a flush blocked by this stall (it flushes only after writes)."""
        return self.held.exists()
