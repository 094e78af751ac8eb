"""Every route of the web process, named in one place."""

from __future__ import annotations

from aiohttp import web

from ingest import health, runs_api, webhooks


def add_routes(app: web.Application) -> None:
    app.router.add_get("/healthz", health.healthz, name="healthz")
    app.router.add_get("/readyz", health.readyz, name="readyz")
    app.router.add_post("/webhooks/extend", webhooks.extend_webhook, name="webhook-extend")
    app.router.add_get("/v1/runs/{run_id}", runs_api.get_run, name="run")
