"""Every workflow a test starts on the time-skipping server ends with that test.

The server is shared by the whole session and skips, whenever a client waits, to the next timer
of ANY workflow: one left running (a project arming its yearly timer and continuing as new)
pushes the clock on by years at every later wait, until scenarios dated from it hit the year
limit of a filing. So:

- `TRACKER`, a client interceptor on every time-skipping environment the tests start, records
  each workflow started through that client, with its type and task queue;
- `end_started` ends those of one task queue while its worker still runs (the workers of
  `tests.workflows.scenarios` and `fiscal_stubs` call it on the way out), each the way it ends
  by itself: a project by finance's `exit`, anything else by a cancellation request. Never by
  terminate: terminating a workflow while a worker holds one of its tasks freezes the test
  server's clock for good;
- `time_skipping_workflows_end` (autouse) fails the test that leaves one running, by name, or
  that moved the clock further than any scenario needs.
"""

from __future__ import annotations

import asyncio
from collections.abc import AsyncIterator
from dataclasses import dataclass
from datetime import timedelta
from typing import Any

import pytest
from temporalio.client import (
    Client,
    Interceptor,
    OutboundInterceptor,
    StartWorkflowInput,
    WorkflowHandle,
)
from temporalio.testing import WorkflowEnvironment

from service.project_client import close_project, is_open, wait_closed

# The longest a single test moves the clock is about four years (a simulated scenario of
# four, a project filed for three years and evaluated after the last: 1 461 days measured);
# twice that leaves room for any honest test, and stops a runaway clock at the test that
# ran away rather than at the 2200 limit of a filing, far later in the session.
LONGEST_TEST_SPAN = timedelta(days=8 * 366)

PROJECT_WORKFLOW = "ProjectWorkflow"


@dataclass(frozen=True)
class Started:
    workflow_id: str
    workflow_type: str
    task_queue: str


class WorkflowTracker(Interceptor):
    """Remembers every workflow started through the clients it intercepts, in order."""

    def __init__(self) -> None:
        self.started: list[Started] = []

    def intercept_client(self, next: OutboundInterceptor) -> OutboundInterceptor:
        return _Recording(next, self)

    def mark(self) -> int:
        return len(self.started)

    def since(self, mark: int) -> list[Started]:
        return _unique(self.started[mark:])

    def on(self, task_queue: str) -> list[Started]:
        return _unique([s for s in self.started if s.task_queue == task_queue])


class _Recording(OutboundInterceptor):
    def __init__(self, next: OutboundInterceptor, tracker: WorkflowTracker) -> None:
        super().__init__(next)
        self._tracker = tracker

    async def start_workflow(self, input: StartWorkflowInput) -> WorkflowHandle[Any, Any]:
        handle = await self.next.start_workflow(input)
        self._tracker.started.append(Started(input.id, input.workflow, input.task_queue))
        return handle


def _unique(started: list[Started]) -> list[Started]:
    """Once per workflow id (a test may start the same id again after it closed)."""
    return list({s.workflow_id: s for s in started}.values())


TRACKER = WorkflowTracker()


async def is_running(client: Client, workflow_id: str) -> bool:
    """Whether the latest run of the workflow (after any continue-as-new) is still open."""
    return await is_open(client.get_workflow_handle(workflow_id))


async def still_running(client: Client, started: list[Started]) -> list[Started]:
    return [s for s in started if await is_running(client, s.workflow_id)]


async def end_workflow(client: Client, started: Started) -> None:
    """End one workflow its own way, if it still runs; a no-op for a closed one."""
    if not await is_running(client, started.workflow_id):
        return
    handle = client.get_workflow_handle(started.workflow_id)
    if started.workflow_type == PROJECT_WORKFLOW:
        await close_project(handle, "test finished")
        return
    # FiscalYearWorkflow (and the smoke tests' workflows) end when cancelled: every wait of
    # theirs is cancellable and nothing catches the cancellation.
    await handle.cancel()
    await wait_closed(handle)


async def end_started(client: Client, task_queue: str) -> None:
    """End every workflow started on `task_queue` that still runs (its worker must be up)."""
    await asyncio.gather(*(end_workflow(client, s) for s in TRACKER.on(task_queue)))


@pytest.fixture(autouse=True)
async def time_skipping_workflows_end(request: pytest.FixtureRequest) -> AsyncIterator[None]:
    """Fail the test that leaves a workflow running on the shared time-skipping server, or
    whose run moved its clock by more than `LONGEST_TEST_SPAN`, naming what it left."""
    if "time_skipping_env" not in request.fixturenames:
        yield
        return
    env: WorkflowEnvironment = request.getfixturevalue("time_skipping_env")
    mark = TRACKER.mark()
    before = await env.get_current_time()
    yield
    moved = await env.get_current_time() - before
    left = await still_running(env.client, TRACKER.since(mark))
    if left:
        # Last resort, so that later tests keep a moving clock: the test's workers have
        # stopped, so no worker holds a task of these workflows and terminating is safe.
        for s in left:
            await env.client.get_workflow_handle(s.workflow_id).terminate("leaked by a test")
        names = ", ".join(f"{s.workflow_type} {s.workflow_id} (queue {s.task_queue})" for s in left)
        pytest.fail(f"left running on the shared time-skipping server: {names}")
    if moved > LONGEST_TEST_SPAN:
        pytest.fail(
            f"the time-skipping server's clock moved {moved} during this test (at most "
            f"{LONGEST_TEST_SPAN} expected): a workflow left running, by this test or an "
            "earlier one, keeps arming timers"
        )
