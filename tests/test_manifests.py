"""The Procfile, .env.example and deploy/ manifests agree with each other and with the settings;
`honcho start` runs both processes from them; `relay worker --check` sees the worker."""

from __future__ import annotations

import json
import os
import re
import signal
import socket
import subprocess
import sys
import tomllib
import urllib.request
from pathlib import Path

import pytest
import yaml

from relay_cli.config import CliSettings
from relay_core.settings import Settings, env_names
from tests.support.procs import ROOT
from tests.support.wait import until_sync

DEPLOY = ROOT / "deploy"
BIN = Path(sys.executable).parent
SETTING_NAMES = set(env_names(Settings)) | set(env_names(CliSettings))


def procfile() -> dict[str, str]:
    lines = (ROOT / "Procfile").read_text().splitlines()
    pairs = (line.split(":", 1) for line in lines if line.strip() and not line.startswith("#"))
    return {name.strip(): command.strip() for name, command in pairs}


def env_example() -> dict[str, str]:
    """Every NAME=value in .env.example, commented out or not."""
    found = re.findall(r"^#? ?([A-Z][A-Z0-9_]*)=(.*)$", (ROOT / ".env.example").read_text(), re.M)
    return dict(found)


def test_procfile_runs_the_relay_commands() -> None:
    assert procfile() == {"web": "relay web", "worker": "relay worker"}


def test_env_example_documents_exactly_the_settings() -> None:
    documented = set(env_example())
    assert SETTING_NAMES - documented == set(), "settings missing from .env.example"
    assert documented - SETTING_NAMES == set(), ".env.example names no setting"


def test_fly_processes_match_the_procfile() -> None:
    fly = tomllib.loads((DEPLOY / "fly.toml").read_text())
    assert fly["processes"] == procfile()
    assert set(fly["env"]) <= SETTING_NAMES
    assert fly["http_service"]["processes"] == ["web"]
    # The grace period must cover the worker's job_completion_wait.
    wait = int(fly["env"].get("JOB_COMPLETION_WAIT_SECONDS", 20))
    assert fly["kill_timeout"] > wait
    assert (DEPLOY / fly["build"]["dockerfile"]).is_file()


def test_render_services_match_the_procfile() -> None:
    render = yaml.safe_load((DEPLOY / "render.yaml").read_text())
    commands = {s["type"]: s.get("dockerCommand") for s in render["services"]}
    assert commands["web"] == procfile()["web"]
    assert commands["worker"] == procfile()["worker"]
    assert render["services"][-1]["maxmemoryPolicy"] == "noeviction"
    names = {v["key"] for s in render["services"] for v in s.get("envVars", []) if "key" in v}
    names |= {v["key"] for g in render["envVarGroups"] for v in g["envVars"]}
    assert names <= SETTING_NAMES
    for service in render["services"]:
        if "dockerfilePath" in service:
            assert (ROOT / service["dockerfilePath"]).is_file()
            assert service["maxShutdownDelaySeconds"] > 20


def test_heroku_matches_the_procfile() -> None:
    app = json.loads((DEPLOY / "app.json").read_text())
    assert set(app["formation"]) == set(procfile())
    assert set(app["env"]) <= SETTING_NAMES
    assert any(a["plan"].startswith("heroku-redis") for a in app["addons"])
    heroku = yaml.safe_load((ROOT / "heroku.yml").read_text())
    assert heroku["run"] == procfile()
    assert all((ROOT / path).is_file() for path in heroku["build"]["docker"].values())


def test_dockerfile_installs_every_package_and_runs_a_procfile_command() -> None:
    text = (DEPLOY / "Dockerfile").read_text()
    for package in ("relay_core", "ingest", "worker", "relay_cli"):
        assert f"COPY {package} ./{package}" in text
    cmd = json.loads(re.search(r"^CMD (.+)$", text, re.M).group(1))  # type: ignore[union-attr]
    assert " ".join(cmd) in procfile().values()


def test_deploy_readme_names_every_secret_the_processes_need() -> None:
    text = (DEPLOY / "README.md").read_text()
    for name in ("REDIS_URL", "EXTEND_WEBHOOK_SECRETS", "RELAY_API_KEYS", "METRICS_TOKEN"):
        assert f"`{name}`" in text


def free_port() -> int:
    with socket.socket() as sock:
        sock.bind(("127.0.0.1", 0))
        return int(sock.getsockname()[1])


def worker_check(env: dict[str, str]) -> int:
    done = subprocess.run(
        [str(BIN / "relay"), "worker", "--check"], env=env, capture_output=True, timeout=30
    )
    return done.returncode


def ready(port: int) -> bool:
    try:
        with urllib.request.urlopen(f"http://127.0.0.1:{port}/readyz", timeout=1) as resp:
            return bool(resp.status == 200)
    except OSError:
        return False


def test_honcho_starts_web_and_worker_from_env_example(
    tmp_path: Path, redis_url: str, redis: object
) -> None:
    override = tmp_path / "test.env"
    override.write_text(f"REDIS_URL={redis_url}\n")
    env = {**os.environ, "PATH": f"{BIN}{os.pathsep}{os.environ['PATH']}", "REDIS_URL": redis_url}
    assert worker_check(env) == 1, "no worker runs yet"
    port = free_port()
    honcho = subprocess.Popen(
        [str(BIN / "honcho"), "start", "-e", f".env.example,{override}", "-p", str(port)],
        cwd=ROOT,
        env=env,
        stdout=subprocess.PIPE,
        stderr=subprocess.STDOUT,
        start_new_session=True,
    )
    try:
        until_sync(lambda: ready(port) or honcho.poll() is not None, every=0.1, what="web ready")
        assert honcho.poll() is None, "honcho exited"
        until_sync(lambda: worker_check(env) == 0, every=0.1, what="relay worker --check passes")
    finally:
        os.killpg(honcho.pid, signal.SIGTERM)
        output = honcho.communicate(timeout=40)[0].decode(errors="replace")
    assert "Traceback" not in output, output


@pytest.mark.parametrize("name", sorted(procfile()))
def test_procfile_commands_exist(name: str) -> None:
    command = procfile()[name].split()
    done = subprocess.run(
        [str(BIN / command[0]), *command[1:], "--help"], capture_output=True, timeout=30
    )
    assert done.returncode == 0, done.stderr
