"""/livez, /readyz and /metrics of the API (the SDK's metrics: tests/workflows/test_sdk_metrics.py)."""

from __future__ import annotations

import re
from typing import Any, cast

import httpx
import pytest
from prometheus_client.parser import text_string_to_metric_families
from sqlalchemy import text
from temporalio.client import Client
from temporalio.service import RPCError, RPCStatusCode

from service import schema
from service.app import create_app
from service.db import engine_for, init_db
from service.metrics import count_rejection
from service.settings import Settings
from tests.service.conftest import FakeTemporalClient

PROBLEM_JSON = "application/problem+json"


def _samples(exposition: str) -> dict[tuple[str, tuple[tuple[str, str], ...]], float]:
    return {
        (sample.name, tuple(sorted(sample.labels.items()))): sample.value
        for family in text_string_to_metric_families(exposition)
        for sample in family.samples
    }


def _value(exposition: str, name: str, **labels: str) -> float:
    return _samples(exposition).get((name, tuple(sorted(labels.items()))), 0.0)


async def test_livez_checks_nothing_but_the_process(
    client: httpx.AsyncClient, temporal: FakeTemporalClient
) -> None:
    temporal.service_client.error = RPCError("down", RPCStatusCode.UNAVAILABLE, b"")
    response = await client.get("/livez")
    assert (response.status_code, response.json()) == (200, {"status": "ok"})


async def test_readyz_is_200_with_the_schema_revision(client: httpx.AsyncClient) -> None:
    response = await client.get("/readyz")
    assert response.status_code == 200
    assert response.json() == {
        "status": "ok",
        "database": "ok",
        "temporal": "ok",
        "schema_revision": schema.head(),
    }


async def test_readyz_is_503_when_temporal_is_down(
    client: httpx.AsyncClient, temporal: FakeTemporalClient
) -> None:
    temporal.service_client.error = RPCError("refused", RPCStatusCode.UNAVAILABLE, b"")
    response = await client.get("/readyz")
    assert response.status_code == 503
    assert response.headers["content-type"] == PROBLEM_JSON
    body = response.json()
    assert (body["database"], body["temporal"], body["schema"]) == ("ok", "down", "ok")


async def test_readyz_is_503_when_the_schema_moved_under_the_api(
    client: httpx.AsyncClient, settings: Settings
) -> None:
    """A newer version migrated the database while this replica runs: take it out of traffic."""
    with engine_for(settings.effective_database_url).begin() as connection:
        connection.execute(text("UPDATE alembic_version SET version_num = 'f00dfeed'"))
    response = await client.get("/readyz")
    assert response.status_code == 503
    body = response.json()
    assert (body["database"], body["temporal"], body["schema"]) == ("ok", "ok", "down")
    assert body["detail"] == "not ready: schema"
    # Liveness stays: restarting would not help; the old replica drains as the rollout goes on.
    assert (await client.get("/livez")).status_code == 200


async def test_metrics_count_requests_by_route_template(client: httpx.AsyncClient) -> None:
    before = (await client.get("/metrics")).text
    for code in ("A-1", "B-2", "C-3"):
        assert (await client.get(f"/api/projects/{code}")).status_code == 401
    assert (await client.get("/no/such/path")).status_code == 404
    response = await client.get("/metrics")
    assert response.status_code == 200
    assert response.headers["content-type"].startswith("text/plain")
    after = response.text

    def grew(name: str, **labels: str) -> float:
        return _value(after, name, **labels) - _value(before, name, **labels)

    detail = {"method": "GET", "route": "/api/projects/{code}"}
    assert grew("perfbudget_http_requests_total", status="401", **detail) == 3
    assert grew("perfbudget_http_request_duration_seconds_count", **detail) == 3
    assert (
        grew("perfbudget_http_requests_total", method="GET", route="unmatched", status="404") == 1
    )
    # Raw paths never become labels: the series stay bounded whatever is requested.
    assert not re.search(r'route="/api/projects/[A-C]-', after)


async def test_rejected_actions_are_counted_per_guard(client: httpx.AsyncClient) -> None:
    before = (await client.get("/metrics")).text
    count_rejection("approve_budget", [{"guard": "goals_approved"}, {"guard": "state"}])
    after = (await client.get("/metrics")).text
    for guard in ("goals_approved", "state"):
        labels = {"action": "approve_budget", "guard": guard}
        assert (
            _value(after, "perfbudget_actions_rejected_total", **labels)
            - _value(before, "perfbudget_actions_rejected_total", **labels)
        ) == 1


@pytest.fixture
async def guarded(tmp_path: Any) -> Any:
    settings = Settings(
        environment="test",
        database_url=f"sqlite:///{tmp_path / 'metrics.db'}",
        metrics_token="scrape-token-0123456789",
    )
    init_db(settings)
    app = create_app(settings, temporal_client=cast(Client, FakeTemporalClient()))
    async with app.router.lifespan_context(app):
        transport = httpx.ASGITransport(app=app)
        async with httpx.AsyncClient(transport=transport, base_url="http://api") as http:
            yield http


async def test_metrics_token_guards_metrics_only(guarded: httpx.AsyncClient) -> None:
    refused = await guarded.get("/metrics")
    assert refused.status_code == 401
    assert refused.headers["content-type"] == PROBLEM_JSON
    assert refused.headers["www-authenticate"].startswith("Bearer")
    wrong = await guarded.get("/metrics", headers={"Authorization": "Bearer not-the-token-at-all"})
    assert wrong.status_code == 401
    right = await guarded.get(
        "/metrics", headers={"Authorization": "Bearer scrape-token-0123456789"}
    )
    assert right.status_code == 200
    assert "perfbudget_http_requests_total" in right.text
    # The probes stay open: an orchestrator has no token.
    assert (await guarded.get("/livez")).status_code == 200
