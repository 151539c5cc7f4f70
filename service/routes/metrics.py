"""`GET /metrics`: the API's metrics for Prometheus (see `service.metrics`).

Open unless `PERFBUDGET_METRICS_TOKEN` is set; then only `Authorization: Bearer <token>` reads
them. The numbers name no person or project (routes, statuses, guards), but they do show load
and what people try, so a deployment that exposes the API's port publicly sets the token or
keeps /metrics out of its ingress (the Helm chart scrapes the pod port inside the cluster).
"""

from __future__ import annotations

import hmac

from fastapi import APIRouter, Request, Response
from prometheus_client import CONTENT_TYPE_LATEST, generate_latest

from service.deps import SettingsDep
from service.problems import Problem

router = APIRouter(tags=["operations"])


@router.get("/metrics", include_in_schema=False)
async def metrics(request: Request, settings: SettingsDep) -> Response:
    """Every metric of this API process in the Prometheus text format."""
    if settings.metrics_token is not None:
        scheme, _, given = request.headers.get("authorization", "").partition(" ")
        if scheme.lower() != "bearer" or not hmac.compare_digest(
            given.encode(), settings.metrics_token.encode()
        ):
            raise Problem(
                status=401,
                title="Unauthorized",
                detail="the metrics need the bearer token of PERFBUDGET_METRICS_TOKEN",
                headers={"WWW-Authenticate": 'Bearer realm="metrics"'},
            )
    return Response(generate_latest(), media_type=CONTENT_TYPE_LATEST)
