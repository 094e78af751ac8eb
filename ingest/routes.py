"""Every route of the web process, named in one place."""

from __future__ import annotations

from aiohttp import web

from ingest import deploys_api, health, runs_api, webhooks


def add_routes(app: web.Application) -> None:
    app.router.add_get("/healthz", health.healthz, name="healthz")
    app.router.add_get("/readyz", health.readyz, name="readyz")
    app.router.add_post("/webhooks/extend", webhooks.extend_webhook, name="webhook-extend")
    app.router.add_get("/v1/runs/{run_id}", runs_api.get_run, name="run")
    app.router.add_get("/v1/deploys", deploys_api.list_deploys, name="deploys")
    app.router.add_get("/v1/deploys/{deploy_id}", deploys_api.get_deploy, name="deploy")
    app.router.add_get("/v1/rules", deploys_api.list_rules, name="rules")
    app.router.add_post("/v1/rules/{name}/deploy", deploys_api.deploy_rule, name="rule-deploy")
