"""create_app: the aiohttp application with every platform's routes and the control API."""

from __future__ import annotations

from aiohttp import web

from sandbox import control
from sandbox.appkeys import LIFECYCLE, STATE
from sandbox.eachlabs import api as eachlabs_api
from sandbox.extend import files_api, runs_api, workflows_api
from sandbox.extend.lifecycle import Lifecycle
from sandbox.middleware import sandbox_middleware
from sandbox.state import SandboxState
from sandbox.xpander import api as xpander_api

# Batch bodies of 1000 inputs with metadata exceed aiohttp's 1 MiB default.
MAX_BODY_BYTES = 64 * 1024 * 1024


def create_app(state: SandboxState) -> web.Application:
    app = web.Application(middlewares=[sandbox_middleware], client_max_size=MAX_BODY_BYTES)
    app[STATE] = state
    app[LIFECYCLE] = Lifecycle(state)
    control.add_routes(app.router)
    eachlabs_api.add_routes(app.router)
    xpander_api.add_routes(app.router)
    runs_api.add_routes(app.router)
    workflows_api.add_routes(app.router)
    files_api.add_routes(app.router)
    return app
