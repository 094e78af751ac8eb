"""One deploy client per provider, built from the settings (keys, base URLs, auth style)."""

from __future__ import annotations

from urllib.parse import urlsplit

import aiohttp

from relay_core.deploys.rules import DeployTarget, EachlabsDeploy, ExtendDeploy
from relay_core.platforms.deployer import Deployer
from relay_core.platforms.eachlabs import EachlabsVersions
from relay_core.platforms.extend_versions import ExtendVersions
from relay_core.platforms.http import PlatformClient
from relay_core.platforms.xpander import XpanderWorkflows
from relay_core.settings import Settings

# The legacy Eachlabs host documents X-API-Key; the current one documents Bearer.
LEGACY_EACHLABS_HOST = "workflows.eachlabs.run"


def _secret(value: object) -> str:
    get = getattr(value, "get_secret_value", None)
    return str(get()) if callable(get) else ""


def eachlabs_headers(settings: Settings) -> dict[str, str]:
    key = _secret(settings.platforms.eachlabs.api_key)
    style = settings.platforms.eachlabs.auth
    if style == "auto":
        host = urlsplit(settings.platforms.eachlabs.base_url).hostname or ""
        style = "x-api-key" if host == LEGACY_EACHLABS_HOST else "bearer"
    return {"X-API-Key": key} if style == "x-api-key" else {"Authorization": f"Bearer {key}"}


def deployer_for(
    target: DeployTarget,
    session: aiohttp.ClientSession,
    settings: Settings,
    rollback_to: str | None = None,
) -> Deployer:
    timeout = settings.deploys.timeout_seconds
    if isinstance(target, ExtendDeploy):
        return ExtendVersions(extend_client(session, settings), target, rollback_to)
    if isinstance(target, EachlabsDeploy):
        headers = eachlabs_headers(settings)
        client = PlatformClient(
            session, settings.platforms.eachlabs.base_url, headers, timeout, "eachlabs"
        )
        return EachlabsVersions(client, target, rollback_to)
    headers = {"x-api-key": _secret(settings.platforms.xpander.api_key)}
    client = PlatformClient(
        session, settings.platforms.xpander.base_url, headers, timeout, "xpander"
    )
    return XpanderWorkflows(client, target)


def extend_client(session: aiohttp.ClientSession, settings: Settings) -> PlatformClient:
    headers = {
        "Authorization": f"Bearer {_secret(settings.platforms.extend.api_key)}",
        "x-extend-api-version": settings.platforms.extend.api_version,
    }
    timeout = settings.deploys.timeout_seconds
    return PlatformClient(session, settings.platforms.extend.base_url, headers, timeout, "extend")


# Rollback needs a platform that keeps earlier versions to deploy again.
ROLLBACK_UNSUPPORTED = {
    "xpander": "xpander keeps no earlier versions to deploy again: a deploy (PUT "
    "/v1/workflows/{id}) always deploys the staged draft",
}
