"""`perfbudget setup` against the real dev server: everything once, then nothing the second time."""

from __future__ import annotations

import uuid
from collections.abc import Iterator
from datetime import timedelta

import pytest
from temporalio.api.operatorservice.v1 import ListSearchAttributesRequest
from temporalio.client import (
    Client,
    Schedule,
    ScheduleActionStartWorkflow,
    ScheduleIntervalSpec,
    ScheduleSpec,
    ScheduleState,
)
from temporalio.common import SearchAttributeKey
from temporalio.testing import WorkflowEnvironment

from service import cli
from service.cluster_setup import ScheduleDefinition, SetupError, prepare_cluster
from service.settings import Settings, get_settings
from workflows.search_attributes import ALL_KEYS


def _address(env: WorkflowEnvironment) -> str:
    return env.client.service_client.config.target_host


def _settings(env: WorkflowEnvironment, namespace: str) -> Settings:
    return Settings(
        environment="test",
        temporal_address=_address(env),
        temporal_namespace=namespace,
        task_queue=f"setup-{uuid.uuid4()}",
    )


def _every(days: int) -> ScheduleDefinition:
    """A paused schedule (it must never start anything in the test) every `days` days."""

    def build(settings: Settings) -> Schedule:
        return Schedule(
            action=ScheduleActionStartWorkflow(
                "FiscalYearWorkflow", id="fiscal-year-run", task_queue=settings.task_queue
            ),
            spec=ScheduleSpec(intervals=[ScheduleIntervalSpec(every=timedelta(days=days))]),
            state=ScheduleState(paused=True),
        )

    return ScheduleDefinition("fiscal-year", build)


async def _custom_attributes(client: Client, namespace: str) -> set[str]:
    response = await client.operator_service.list_search_attributes(
        ListSearchAttributesRequest(namespace=namespace)
    )
    return set(response.custom_attributes)


async def test_setup_twice_prepares_once_and_then_changes_nothing(
    dev_env: WorkflowEnvironment,
) -> None:
    namespace = f"pb-setup-{uuid.uuid4().hex[:12]}"
    settings = _settings(dev_env, namespace)
    client = Client(
        dev_env.client.service_client,
        namespace=namespace,
        data_converter=dev_env.client.data_converter,
    )

    first = await prepare_cluster(client, settings, schedules=[_every(365)])
    assert first.namespace_created
    assert sorted(first.search_attributes_added) == sorted(k.name for k in ALL_KEYS)
    assert first.schedules == {"fiscal-year": "created"}
    assert first.changed
    assert {k.name for k in ALL_KEYS} <= await _custom_attributes(client, namespace)
    described = await client.get_schedule_handle("fiscal-year").describe()
    assert described.schedule.state.paused

    second = await prepare_cluster(client, settings, schedules=[_every(365)])
    assert not second.changed
    assert (second.namespace_created, second.search_attributes_added) == (False, [])
    assert second.schedules == {"fiscal-year": "unchanged"}

    # A definition changed in code is rolled out by the next setup, once.
    third = await prepare_cluster(client, settings, schedules=[_every(30)])
    assert third.schedules == {"fiscal-year": "updated"}
    described = await client.get_schedule_handle("fiscal-year").describe()
    assert described.schedule.spec.intervals[0].every == timedelta(days=30)
    fourth = await prepare_cluster(client, settings, schedules=[_every(30)])
    assert not fourth.changed


async def test_setup_refuses_a_search_attribute_of_another_type(
    dev_env: WorkflowEnvironment,
) -> None:
    namespace = f"pb-setup-{uuid.uuid4().hex[:12]}"
    settings = _settings(dev_env, namespace)
    client = Client(dev_env.client.service_client, namespace=namespace)
    await prepare_cluster(client, settings, schedules=[])
    # A search attribute cannot change type: say so instead of failing every workflow later.
    with pytest.raises(SetupError, match="Grade exists as INDEXED_VALUE_TYPE_KEYWORD"):
        await prepare_cluster(
            client, settings, schedules=[], search_attributes=[SearchAttributeKey.for_int("Grade")]
        )


async def test_skip_namespace_checks_instead_of_creating(dev_env: WorkflowEnvironment) -> None:
    namespace = f"pb-setup-{uuid.uuid4().hex[:12]}"
    settings = _settings(dev_env, namespace)
    client = Client(dev_env.client.service_client, namespace=namespace)
    with pytest.raises(SetupError, match=f"namespace {namespace} does not exist"):
        await prepare_cluster(client, settings, schedules=[], register_namespace=False)
    await prepare_cluster(client, settings, schedules=[], search_attributes=[])
    with pytest.raises(SetupError, match="search attributes missing in namespace"):
        await prepare_cluster(client, settings, schedules=[], register_namespace=False)
    await prepare_cluster(client, settings, schedules=[])
    checked = await prepare_cluster(client, settings, schedules=[], register_namespace=False)
    assert not checked.changed


@pytest.fixture
def cli_environment(dev_env: WorkflowEnvironment, monkeypatch: pytest.MonkeyPatch) -> Iterator[str]:
    namespace = f"pb-setup-{uuid.uuid4().hex[:12]}"
    monkeypatch.setenv("PERFBUDGET_TEMPORAL_ADDRESS", _address(dev_env))
    monkeypatch.setenv("PERFBUDGET_TEMPORAL_NAMESPACE", namespace)
    monkeypatch.setenv("PERFBUDGET_ENVIRONMENT", "test")
    get_settings.cache_clear()
    yield namespace
    get_settings.cache_clear()


def test_perfbudget_setup_command_twice(
    cli_environment: str, capsys: pytest.CaptureFixture[str]
) -> None:
    assert cli.main(["setup"]) == 0
    first = capsys.readouterr().out
    assert f"namespace {cli_environment}: registered" in first
    assert "the cluster is prepared" in first
    assert "schedule fiscal-year: created" in first
    assert cli.main(["setup"]) == 0
    second = capsys.readouterr().out
    assert f"namespace {cli_environment}: exists" in second
    assert "schedule fiscal-year: unchanged" in second
    assert "search attributes added: none (all present)" in second
    assert "the cluster was already prepared" in second
