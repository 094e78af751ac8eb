"""Typed application keys shared by every route module."""

from __future__ import annotations

from aiohttp import web

from sandbox.extend.lifecycle import Lifecycle
from sandbox.state import SandboxState

STATE = web.AppKey("state", SandboxState)
LIFECYCLE = web.AppKey("lifecycle", Lifecycle)
