"""The API's metrics in Prometheus format (`GET /metrics`), kept with prometheus_client.

Requests and their latencies are labelled by route *template* (`/api/projects/{code}`), never
by the raw path, so that a scan of random URLs cannot grow the series without bound. Rejected
actions are counted per unmet guard: which rules people run into most. The Temporal SDK's
metrics (worker, workflows, activities, and the workflows' escalations by level) are on the
SDK's own endpoint, `PERFBUDGET_TEMPORAL_METRICS_BIND`, since the SDK's Rust core serves them.

The process-wide default registry holds these, beside prometheus_client's process and
garbage-collector metrics. Counters add up over every app created in the process (the test
suite creates many): read differences, not absolute values.
"""

from __future__ import annotations

import time
from collections.abc import Iterable, Mapping
from typing import Any

from prometheus_client import Counter, Histogram
from starlette.types import ASGIApp, Message, Receive, Scope, Send

UNMATCHED_ROUTE = "unmatched"  # any path no route matched (404s of scanners, typos)

REQUESTS = Counter(
    "perfbudget_http_requests",
    "HTTP requests answered, by method, route template and status",
    ["method", "route", "status"],
)
LATENCY = Histogram(
    "perfbudget_http_request_duration_seconds",
    "Time from receiving a request to the end of its response, by method and route template",
    ["method", "route"],
    # From a health probe (~1 ms) to an action whose outcome took the full 30 s.
    buckets=(0.005, 0.01, 0.025, 0.05, 0.1, 0.25, 0.5, 1, 2.5, 5, 10, 30),
)
REJECTED_ACTIONS = Counter(
    "perfbudget_actions_rejected",
    "Actions refused by the lifecycle (409), once per unmet guard of each refusal",
    ["action", "guard"],
)


def route_template(scope: Scope) -> str:
    """The template of the route that handled the request (set by routing), or UNMATCHED_ROUTE."""
    route = scope.get("route")
    path = getattr(route, "path", None)
    return path if isinstance(path, str) else UNMATCHED_ROUTE


def count_rejection(action: str, unmet: Iterable[Mapping[str, Any]]) -> None:
    for failure in unmet:
        REJECTED_ACTIONS.labels(action=action, guard=str(failure.get("guard", "unknown"))).inc()


class RecordRequestMetrics:
    """Count every HTTP request and time it, labelled after routing has named its template."""

    def __init__(self, app: ASGIApp) -> None:
        self.app = app

    async def __call__(self, scope: Scope, receive: Receive, send: Send) -> None:
        if scope["type"] != "http":
            await self.app(scope, receive, send)
            return
        status = 500  # what the client gets if the app dies before answering
        started = time.perf_counter()

        async def recording_send(message: Message) -> None:
            nonlocal status
            if message["type"] == "http.response.start":
                status = message["status"]
            await send(message)

        try:
            await self.app(scope, receive, recording_send)
        finally:
            route = route_template(scope)
            method = scope["method"]
            REQUESTS.labels(method=method, route=route, status=str(status)).inc()
            LATENCY.labels(method=method, route=route).observe(time.perf_counter() - started)
