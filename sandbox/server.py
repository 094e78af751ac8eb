"""Start and stop a sandbox: the Python API tests and the CLI use."""

from __future__ import annotations

import logging

from aiohttp import web

from sandbox.app import create_app
from sandbox.config import SandboxConfig
from sandbox.state import SandboxState

log = logging.getLogger(__name__)


class Sandbox:
    """A running sandbox. ``base_url`` serves Extend at the root; the others hang below it."""

    def __init__(self, state: SandboxState, runner: web.AppRunner, base_url: str) -> None:
        self.state = state
        self._runner = runner
        self.base_url = base_url

    @property
    def eachlabs_base_url(self) -> str:
        return self.base_url + "/eachlabs/v1"

    @property
    def xpander_base_url(self) -> str:
        return self.base_url + "/xpander"

    @property
    def webhook_secret(self) -> str:
        return self.state.config.webhook_secret

    @property
    def config(self) -> SandboxConfig:
        return self.state.config

    def env(self) -> dict[str, str]:
        """The settings that point workflow-relay at this sandbox."""
        cfg = self.state.config
        return {
            "EXTEND_BASE_URL": self.base_url,
            "EXTEND_API_KEY": cfg.extend_api_key,
            "EXTEND_WEBHOOK_SECRETS": cfg.webhook_secret,
            "EACHLABS_BASE_URL": self.eachlabs_base_url,
            "EACHLABS_API_KEY": cfg.eachlabs_api_key,
            "XPANDER_BASE_URL": self.xpander_base_url,
            "XPANDER_API_KEY": cfg.xpander_api_key,
        }

    async def close(self) -> None:
        # Stop taking requests first, so nothing new is scheduled or sent while we wind down.
        await self._runner.cleanup()
        await self.state.scheduler.close()
        await self.state.dispatcher.close()

    async def __aenter__(self) -> Sandbox:
        return self

    async def __aexit__(self, *exc: object) -> None:
        await self.close()


async def start_sandbox(
    config: SandboxConfig | None = None, *, host: str = "127.0.0.1", port: int = 0
) -> Sandbox:
    """Serve a sandbox on ``host:port`` (port 0 picks a free port) until ``close()``."""
    state = SandboxState(config or SandboxConfig())
    runner = web.AppRunner(create_app(state), access_log=None, shutdown_timeout=1.0)
    await runner.setup()
    site = web.TCPSite(runner, host, port)
    await site.start()
    bound = _bound_port(runner)
    state.base_url = f"http://{host}:{bound}"
    state.scheduler.start()
    await state.dispatcher.start()
    log.info("sandbox listening on %s", state.base_url)
    return Sandbox(state, runner, state.base_url)


def _bound_port(runner: web.AppRunner) -> int:
    for address in runner.addresses:
        if isinstance(address, tuple) and len(address) >= 2:
            return int(address[1])
    raise RuntimeError("the sandbox is not bound to a TCP port")


__all__ = ["Sandbox", "start_sandbox"]
