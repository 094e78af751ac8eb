"""Every route of the web process, named in one place, each with its contract (ingest.api)."""

from __future__ import annotations

from functools import partial

from aiohttp import web

from ingest import api, deploys_api, health, metrics_api, openapi, reviews_api, runs_api, webhooks
from ingest import schemas as s
from ingest.batches_api import add_batch_routes
from ingest.dashboard import add_dashboard
from ingest.deadletters_api import add_dead_letter_routes
from ingest.evals_api import add_eval_routes
from ingest.events_api import add_event_routes
from ingest.files_api import add_files_routes
from ingest.notify_api import add_notify_routes
from ingest.results_api import add_results_routes
from ingest.scheduler_api import add_scheduler_routes
from ingest.versions_api import add_version_routes


def add_routes(app: web.Application) -> None:
    add = partial(api.add, app)
    add("GET /healthz", health.healthz, "healthz", s.Status, auth="none")
    add("GET /readyz", health.readyz, "readyz", s.Status, auth="none", errors=(503,))
    add(
        "POST /webhooks/extend",
        webhooks.extend_webhook,
        "webhook-extend",
        s.WebhookAnswer,
        auth="webhook",
        body=s.WebhookEnvelope,
    )
    add("GET /v1/runs/{run_id}", runs_api.get_run, "run", s.RunView, errors=(404,))
    add_batch_routes(add)
    add_scheduler_routes(add)
    add(
        "GET /v1/reviews",
        reviews_api.list_reviews,
        "reviews",
        s.ReviewList,
        query=s.ReviewQuery,
        errors=(400,),
    )
    add(
        "GET /v1/deploys",
        deploys_api.list_deploys,
        "deploys",
        s.DeployList,
        query=s.DeployListQuery,
        errors=(400,),
    )
    add(
        "GET /v1/deploys/{deploy_id}", deploys_api.get_deploy, "deploy", s.DeployView, errors=(404,)
    )
    add("GET /v1/rules", deploys_api.list_rules, "rules", s.RuleList)
    add(
        "POST /v1/rules/{name}/deploy",
        deploys_api.deploy_rule,
        "rule-deploy",
        s.RuleDeployAnswer,
        status=202,
        body=s.RuleDeployRequest,
        errors=(400, 404),
    )
    add_version_routes(add)
    add_eval_routes(add)
    add_notify_routes(add)
    add_results_routes(add)
    add_files_routes(add)
    add(
        "GET /metrics",
        metrics_api.metrics_view,
        "metrics",
        None,
        auth="metrics",
        errors=(503,),
        content_type="text/plain",
    )
    add("GET /openapi.json", openapi.openapi_json, "openapi", None, auth="none")
    add_dashboard(app)
    add_dead_letter_routes(add)
    add_event_routes(add)
