"""The Temporal SDK's Prometheus endpoint: worker, workflow and activity metrics, and escalations.

Its own time-skipping server, because the endpoint belongs to the runtime the client was made
with (the suite's shared environments have none).
"""

from __future__ import annotations

import socket
from collections.abc import AsyncIterator
from datetime import timedelta

import httpx
import pytest
from prometheus_client.parser import text_string_to_metric_families
from temporalio.contrib.pydantic import pydantic_data_converter
from temporalio.testing import WorkflowEnvironment

from models.calendar import FiscalCalendar
from models.duties import deadline
from service.temporal_client import add_search_attributes, build_runtime, test_server_path
from tests.workflows import scenarios
from tests.workflows.test_escalations import CST, _closed_year
from workflows.search_attributes import ALL_KEYS


def _free_port() -> int:
    with socket.socket() as probe:
        probe.bind(("127.0.0.1", 0))
        port: int = probe.getsockname()[1]
        return port


@pytest.fixture
async def metered_env() -> AsyncIterator[tuple[WorkflowEnvironment, str]]:
    bind = f"127.0.0.1:{_free_port()}"
    env = await WorkflowEnvironment.start_time_skipping(
        data_converter=pydantic_data_converter,
        test_server_existing_path=str(test_server_path()),
        runtime=build_runtime(bind),
    )
    async with env:
        await add_search_attributes(env.client, ALL_KEYS)
        yield env, f"http://{bind}/metrics"


def _by_name(exposition: str) -> dict[str, dict[tuple[tuple[str, str], ...], float]]:
    found: dict[str, dict[tuple[tuple[str, str], ...], float]] = {}
    for family in text_string_to_metric_families(exposition):
        for sample in family.samples:
            key = tuple(sorted(sample.labels.items()))
            found.setdefault(sample.name, {})[key] = sample.value
    return found


def _sum(samples: dict[tuple[tuple[str, str], ...], float], **labels: str) -> float:
    wanted = set(labels.items())
    return sum(value for key, value in samples.items() if wanted <= set(key))


async def test_sdk_metrics_and_escalations_by_level(
    metered_env: tuple[WorkflowEnvironment, str], sqlite_url: str
) -> None:
    env, url = metered_env
    async with scenarios.running_worker(env.client, sqlite_url) as (task_queue, _):
        s, b = await _closed_year(env, task_queue, "MET-1")
        end = deadline(FiscalCalendar().due(FiscalCalendar().self_evaluation_due, b + 1), CST)
        await s.at(end + timedelta(days=15, minutes=1))
        async with httpx.AsyncClient() as http:
            response = await http.get(url)
    assert response.status_code == 200
    metrics = _by_name(response.text)
    escalations = metrics["perfbudget_escalations_total"]
    assert _sum(escalations, level="reminder") >= 1
    assert _sum(escalations, level="overdue") >= 1
    assert _sum(escalations, level="escalation") >= 1
    assert all(dict(key)["namespace"] == "default" for key in escalations)
    # The SDK's own: workflow tasks, activities and client calls, per task queue.
    for name in (
        "temporal_workflow_task_execution_latency_count",
        "temporal_activity_execution_latency_count",
        "temporal_request_total",
        "temporal_worker_task_slots_available",
    ):
        assert _sum(metrics[name]) > 0, name
    assert _sum(metrics["temporal_activity_execution_latency_count"], task_queue=task_queue)
