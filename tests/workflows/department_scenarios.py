"""A department's fiscal year driven against a Temporal server, shared by the workflow tests and
the history recorder (`record_histories`): it talks to the workflow as the API does."""

from __future__ import annotations

import asyncio
from collections.abc import Callable
from datetime import UTC, datetime, timedelta
from decimal import Decimal
from typing import Any

from temporalio.client import WorkflowHandle
from temporalio.testing import WorkflowEnvironment

from models.control_number import ControlNumber, Line
from models.department_lifecycle import ACTIONS
from models.department_state import DepartmentYearInfo, DepartmentYearState
from models.fiscal_notice import FiscalNotice, FiscalPhase
from models.project_state import Actor
from models.rules import Rules
from models.vocabulary import Role
from tests import department_factories as df
from workflows.department import (
    DepartmentActOutcome,
    DepartmentActRequest,
    DepartmentYearInput,
    DepartmentYearWorkflow,
    ReserveRequest,
    SettleRequest,
    department_workflow_id,
)

ACTORS = {
    Role.DEPARTMENT: Actor(username="clerk", role=Role.DEPARTMENT),
    Role.FINANCE: Actor(username="officer", role=Role.FINANCE),
}
Handle = WorkflowHandle[Any, Any]


async def start(env: WorkflowEnvironment, task_queue: str, department: str) -> tuple[Handle, int]:
    """The department's previous fiscal year, goals drafted: its year is over, so the whole
    life runs without moving the server's clock (the session's tests share that clock, and
    fiscal years stop at 2200)."""
    year = (await env.get_current_time()).astimezone(UTC).year - 1
    handle = await env.client.start_workflow(
        DepartmentYearWorkflow.run,
        DepartmentYearInput(
            year=DepartmentYearState(
                info=DepartmentYearInfo(department=department, fiscal_year=year)
            ),
            rules=Rules(),
        ),
        id=department_workflow_id(department, year),
        task_queue=task_queue,
    )
    return handle, year


async def act(
    handle: Handle, action: str, body: dict[str, Any] | None = None
) -> DepartmentActOutcome:
    request = DepartmentActRequest(
        action=action, payload=body or {}, actor=ACTORS[ACTIONS[action].role]
    )
    result: DepartmentActOutcome = await handle.execute_update(DepartmentYearWorkflow.act, request)
    return result


def ceiling(department: str, year: int, amount: int) -> dict[str, Any]:
    return ControlNumber(
        department=department,
        fiscal_year=year,
        results_year=year - 1,
        ceiling=Decimal(amount),
        lines=[Line(kind="result", amount=Decimal(amount), text="t", text_zh="t")],
    ).model_dump(mode="json")


async def finish(env: WorkflowEnvironment, handle: Handle) -> DepartmentYearState:
    """Whatever is left up to the budget, then a self-evaluation (85, 良) and finance's review:
    the workflow ends."""
    state: DepartmentYearState = await handle.query(DepartmentYearWorkflow.snapshot)
    if state.state == "goals_drafted":
        await act(handle, "submit_goals", df.goals())
    if state.state in ("goals_drafted", "goals_submitted"):
        await act(handle, "approve_goals")
    if state.state in ("goals_drafted", "goals_submitted", "goals_approved"):
        await act(handle, "approve_department_budget", {"amount": 5_000_000})
    await act(handle, "submit_self_evaluation", df.results(85))
    await act(handle, "review_self_evaluation", {"comment": "基本完成"})
    # Waiting for the result unlocks time skipping: in the instant between the review and
    # the workflow's last projection nothing is scheduled, and the test server would jump ten
    # years ahead — years every later test in the session loses.
    with env.auto_time_skipping_disabled():
        result: DepartmentYearState = await handle.result()
    return result


async def whole_year(env: WorkflowEnvironment, task_queue: str, department: str) -> Handle:
    """Every kind of message the workflow takes: actions, a notice, a reservation settled."""
    handle, year = await start(env, task_queue, department)
    await act(handle, "submit_goals", df.goals())
    await act(handle, "approve_goals", {"comment": "同意"})
    await act(handle, "set_control_number", {"control_number": ceiling(department, year, 1_000)})
    await handle.signal(
        DepartmentYearWorkflow.fiscal_notice,
        FiscalNotice(
            phase=FiscalPhase.BUDGET_PREPARATION,
            fiscal_year=year,
            issued_at=await env.get_current_time(),
        ),
    )
    facts = await handle.execute_update(
        DepartmentYearWorkflow.reserve,
        ReserveRequest(
            reservation_id="P1", project_code="P1", amount=Decimal(600), actor=ACTORS[Role.FINANCE]
        ),
    )
    await handle.execute_update(
        DepartmentYearWorkflow.settle_reservation,
        SettleRequest(
            reservation_id=facts.reservation_id, confirmed=True, actor=ACTORS[Role.FINANCE]
        ),
    )
    await finish(env, handle)
    return handle


# A department year whose overall self-evaluation is missed (hand-worked dates, CST = UTC+8):
# the budget of 2030 approved on Monday 3 February 2031, the self-evaluation due Monday
# 31 March 2031, overdue from 1 April 00:00 CST.
LADDER_YEAR = 2030
LADDER_OPENED = datetime(2031, 2, 3, 2, tzinfo=UTC)
SELF_EVALUATION_RUNGS = {
    "reminder": datetime(2031, 3, 24, 16, tzinfo=UTC),  # −7 days: the department
    "overdue": datetime(2031, 3, 31, 16, tzinfo=UTC),  # the deadline: the department head
    "escalation": datetime(2031, 4, 15, 16, tzinfo=UTC),  # +15: finance
}
LAST_RUNG = datetime(2031, 4, 30, 16, tzinfo=UTC)  # +30: leadership, 问责 — never reached


async def sleep_until(env: WorkflowEnvironment, business: datetime, offset: timedelta) -> None:
    """Skip the test server's clock until business time (server time + offset) is `business`."""
    await env.sleep(business - (await env.get_current_time() + offset))


async def history_shows(handle: Handle, done: Callable[[DepartmentYearState], bool]) -> None:
    """Wait (real time, no skipping) until the workflow's state satisfies `done`."""
    async with asyncio.timeout(60):
        # A query has no event to wait on: poll it.
        while not done(await handle.query(DepartmentYearWorkflow.snapshot)):  # noqa: ASYNC110
            await asyncio.sleep(0.05)


def _has(action: str) -> Callable[[DepartmentYearState], bool]:
    return lambda year: any(e.action == action for e in year.history)


async def missed_self_evaluation(
    env: WorkflowEnvironment, task_queue: str, department: str
) -> Handle:
    """The budget approved early in 2031; the self-evaluation of 2030 missed until the ladder
    reached finance (reminder, overdue notice, escalation, each once, in order); submitted on
    16 April, which stops the ladder (nothing fires at +30 on 30 April); reviewed on 2 May."""
    offset = LADDER_OPENED - await env.get_current_time()
    handle = await env.client.start_workflow(
        DepartmentYearWorkflow.run,
        DepartmentYearInput(
            year=DepartmentYearState(
                info=DepartmentYearInfo(department=department, fiscal_year=LADDER_YEAR)
            ),
            rules=Rules(),
            clock_offset_seconds=offset.total_seconds(),
        ),
        id=department_workflow_id(department, LADDER_YEAR),
        task_queue=task_queue,
    )
    await act(handle, "submit_goals", df.goals())
    await act(handle, "approve_goals")
    await act(handle, "approve_department_budget", {"amount": 5_000_000})
    for action, at in SELF_EVALUATION_RUNGS.items():
        await sleep_until(env, at + timedelta(hours=1), offset)
        await history_shows(handle, _has(action))
    await sleep_until(env, datetime(2031, 4, 16, 2, tzinfo=UTC), offset)
    await act(handle, "submit_self_evaluation", df.results(85))
    await sleep_until(env, LAST_RUNG + timedelta(days=1, hours=10), offset)
    await act(handle, "review_self_evaluation", {"comment": "逾期提交"})
    with env.auto_time_skipping_disabled():  # as in `finish`: no jump after the last timer
        await handle.result()
    return handle
