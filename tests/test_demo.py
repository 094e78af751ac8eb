"""`relay demo`: the README's first command runs the whole loop to its summary and exits 0."""

from __future__ import annotations

import subprocess
import sys

import pytest

from tests.support.demo import demo_env, demo_processes
from tests.support.procs import ROOT


@pytest.mark.timeout(240)
def test_demo_runs_to_its_summary_and_leaves_nothing_behind() -> None:
    result = subprocess.run(
        [sys.executable, "-m", "relay_cli.main", "demo", "--files", "120"],
        cwd=ROOT,
        env=demo_env(),
        capture_output=True,
        text=True,
        timeout=220,
        check=False,
    )
    out = result.stdout + result.stderr
    assert result.returncode == 0, out
    assert "completed in" in out
    assert "120 files in 12 chunks" in out
    assert "promote-draft" in out
    assert "deployed" in out
    reviews = next(line for line in out.splitlines() if "reviews approved / rejected" in line)
    approved, rejected = (int(n) for n in reviews.split("│")[2].split("/"))
    assert approved >= 1
    assert rejected == 1
    assert demo_processes() == []
