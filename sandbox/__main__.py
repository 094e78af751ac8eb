"""``python -m sandbox``: serve the sandbox until SIGINT/SIGTERM and print how to reach it."""

from __future__ import annotations

import argparse
import asyncio
import json
import logging
import signal
import sys
from pathlib import Path
from typing import Any

from sandbox.config import SandboxConfig
from sandbox.server import Sandbox, start_sandbox


def parse_args(argv: list[str] | None = None) -> argparse.Namespace:
    parser = argparse.ArgumentParser(prog="python -m sandbox", description=__doc__)
    parser.add_argument("--host", default="127.0.0.1")
    parser.add_argument("--port", type=int, default=8900, help="0 picks a free port")
    parser.add_argument("--webhook-url", action="append", default=[], dest="webhook_urls")
    parser.add_argument("--webhook-secret")
    parser.add_argument("--api-key", help="the Extend API key to accept")
    parser.add_argument("--config", type=Path, help="JSON or TOML file of SandboxConfig fields")
    parser.add_argument("--seed", type=int)
    return parser.parse_args(argv)


def build_config(args: argparse.Namespace) -> SandboxConfig:
    config = SandboxConfig.from_file(args.config) if args.config else SandboxConfig()
    patch: dict[str, Any] = {}
    if args.webhook_urls:
        patch["webhook_urls"] = args.webhook_urls
    if args.webhook_secret:
        patch["webhook_secret"] = args.webhook_secret
    if args.api_key:
        patch["extend_api_key"] = args.api_key
    if args.seed is not None:
        patch["seed"] = args.seed
    return config.patched(patch) if patch else config


def announce(sandbox: Sandbox) -> None:
    ready = {"base_url": sandbox.base_url, "webhook_secret": sandbox.webhook_secret}
    lines = [f"SANDBOX_READY {json.dumps(ready)}"]
    lines.append(f"# sandbox serving on {sandbox.base_url}")
    lines.append(f"# webhook secret: {sandbox.webhook_secret}")
    urls = ", ".join(sandbox.config.webhook_urls) or "none (set with --webhook-url)"
    lines.append(f"# webhooks go to: {urls}")
    lines.append("# point workflow-relay at it with:")
    lines.extend(f"{name}={value}" for name, value in sandbox.env().items())
    print("\n".join(lines), flush=True)


async def serve(config: SandboxConfig, host: str, port: int) -> None:
    sandbox = await start_sandbox(config, host=host, port=port)
    stop = asyncio.Event()
    loop = asyncio.get_running_loop()
    for sig in (signal.SIGINT, signal.SIGTERM):
        loop.add_signal_handler(sig, stop.set)
    announce(sandbox)
    try:
        await stop.wait()
    finally:
        await sandbox.close()


def main(argv: list[str] | None = None) -> int:
    args = parse_args(argv)
    logging.basicConfig(level=logging.INFO, stream=sys.stderr)
    try:
        import uvloop  # the stand-in must not be the bottleneck of the benchmarks it serves

        asyncio.set_event_loop_policy(uvloop.EventLoopPolicy())
    except ImportError:  # pragma: no cover - uvloop is optional
        pass
    asyncio.run(serve(build_config(args), args.host, args.port))
    return 0


if __name__ == "__main__":
    sys.exit(main())
