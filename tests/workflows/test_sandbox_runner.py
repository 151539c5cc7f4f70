"""The worker's sandbox runner answers payload-context questions directly (service.sandbox_runner),
and answers them exactly as Temporal's stock sandbox would, on the pinned SDK.

Read off a real worker running a project on the time-skipping test server: its update
payloads, its projection activity's input and result, its query answers.
"""

from __future__ import annotations

from typing import Any

import pytest
from temporalio.converter import ActivitySerializationContext, WorkflowSerializationContext
from temporalio.testing import WorkflowEnvironment
from temporalio.worker.workflow_sandbox._runner import _Instance

import service.sandbox_runner as runner
from activities.projection import PROJECT_SNAPSHOT
from service.sandbox_runner import DirectContextSandboxedWorkflowRunner, _DirectContextInstance
from service.worker import workflow_runner
from tests.workflows import scenarios


class Answers:
    """What the worker asked, what the runner answered, and what the stock sandbox answers."""

    def __init__(self) -> None:
        self.pairs: list[tuple[str, Any, Any]] = []
        self.stock_only = 0  # questions the runner passed on to the stock sandbox


@pytest.fixture
def answers(monkeypatch: pytest.MonkeyPatch) -> Answers:
    seen = Answers()
    direct_serialization = _DirectContextInstance.get_serialization_context
    direct_store = _DirectContextInstance.get_external_store_context
    stock_serialization = _Instance.get_serialization_context
    stock_store = _Instance.get_external_store_context

    def serialization(self: _Instance, command_info: Any) -> Any:
        answer = direct_serialization(self, command_info)  # type: ignore[arg-type]
        seen.pairs.append(("serialization", answer, stock_serialization(self, command_info)))
        return answer

    def store(self: _Instance, command_info: Any) -> Any:
        answer = direct_store(self, command_info)  # type: ignore[arg-type]
        seen.pairs.append(("store", answer, stock_store(self, command_info)))
        return answer

    def counted_stock(self: _Instance, command_info: Any) -> Any:
        seen.stock_only += 1
        return stock_serialization(self, command_info)

    monkeypatch.setattr(_DirectContextInstance, "get_serialization_context", serialization)
    monkeypatch.setattr(_DirectContextInstance, "get_external_store_context", store)
    monkeypatch.setattr(_Instance, "get_serialization_context", counted_stock)
    return seen


def test_the_worker_runs_workflows_in_the_direct_context_sandbox() -> None:
    runner_in_use = workflow_runner()
    assert isinstance(runner_in_use, DirectContextSandboxedWorkflowRunner)
    # Still the sandbox, with our pure modules passed through.
    assert "models" in runner_in_use.restrictions.passthrough_modules


async def test_payload_contexts_are_answered_directly_and_as_the_stock_sandbox_would(
    time_skipping_env: WorkflowEnvironment, sqlite_url: str, answers: Answers
) -> None:
    env = time_skipping_env
    async with scenarios.running_worker(env.client, sqlite_url) as (task_queue, _):
        s = await scenarios.start_project(env, task_queue, "SBX-1")
        outcome = await s.act("submit")
        await s.settled()  # the projection activity: a command with a context of its own
        assert (await s.state()).state == outcome.project.state == "active"

    assert answers.pairs, "the worker asked no payload context"
    assert answers.stock_only == 0  # never through the sandbox's exec
    for kind, direct, stock in answers.pairs:
        assert direct == stock, f"{kind}: direct {direct!r} != stock {stock!r}"
    contexts = [direct for kind, direct, _ in answers.pairs if kind == "serialization"]
    assert WorkflowSerializationContext(namespace="default", workflow_id="project-SBX-1") in (
        contexts
    )
    activities = [c for c in contexts if isinstance(c, ActivitySerializationContext)]
    assert activities
    assert {c.activity_type for c in activities} == {PROJECT_SNAPSHOT}


async def test_an_sdk_without_the_expected_layout_gets_the_stock_answers(
    time_skipping_env: WorkflowEnvironment,
    sqlite_url: str,
    answers: Answers,
    monkeypatch: pytest.MonkeyPatch,
) -> None:
    monkeypatch.setattr(runner, "IN_SANDBOX", "__a_name_a_later_sdk_might_use__")
    env = time_skipping_env
    async with scenarios.running_worker(env.client, sqlite_url) as (task_queue, _):
        s = await scenarios.start_project(env, task_queue, "SBX-2")
        outcome = await s.act("submit")
        assert outcome.project.state == "active"

    asked = len([p for p in answers.pairs if p[0] == "serialization"])
    # Every question went the stock way (through the sandbox's exec), and answers agreed.
    assert asked
    assert answers.stock_only == asked
    assert all(direct == stock for _, direct, stock in answers.pairs)
