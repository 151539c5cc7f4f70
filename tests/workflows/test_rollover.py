"""A project's run hands over to a new one after so many updates (ROLLOVER_PATCH).

Temporal refuses any update past 2,000 in one workflow run. A stream of actions on one project
(a script, a bench) reached that limit before this patch: the run continued as new only with
every action projected, and a stream never left it such a moment. Now a run continues as new
once it has taken `rollover_after_updates`, carrying what is still unprojected, and past
`refuse_updates_after` its validator refuses actions (retryable, nothing recorded) until it has.
"""

from __future__ import annotations

import asyncio
import uuid
from concurrent.futures import ThreadPoolExecutor
from datetime import UTC
from decimal import Decimal
from typing import Any

import pytest
from sqlmodel import Session, col, func, select
from temporalio import activity
from temporalio.client import Client, WorkflowHandle, WorkflowUpdateFailedError
from temporalio.exceptions import ApplicationError
from temporalio.testing import WorkflowEnvironment
from temporalio.worker import Worker

from activities.projection import PROJECT_SNAPSHOT, ProjectionInput, ProjectionResult
from models.department_state import DepartmentYearInfo, DepartmentYearState
from models.department_tables import DepartmentYearRow
from models.tables import HistoryRow, ProjectRow
from models.vocabulary import Role
from service.act_refusals import rejection_problem
from service.worker import workflow_runner
from tests.support.started import end_started
from tests.workflows import department_scenarios as ds
from tests.workflows import scenarios
from workflows.act_contract import ROLLING_OVER
from workflows.department import (
    DepartmentYearInput,
    DepartmentYearWorkflow,
    ReserveRequest,
    SettleRequest,
    department_workflow_id,
)
from workflows.project import WRITE_THROUGH_SETTLE_LONGEST, ProjectWorkflow


def _toggle(i: int) -> str:
    return "suspend_funding" if i % 2 == 0 else "resume_funding"


async def _runs(client: Client, handle: WorkflowHandle[Any, Any]) -> list[list[str]]:
    """Each run of the workflow, first to latest, as the kinds of its history events."""
    runs: list[list[str]] = []
    run_id: str | None = handle.first_execution_run_id or handle.run_id
    while run_id:
        run = client.get_workflow_handle(handle.id, run_id=run_id)
        events = [e async for e in run.fetch_history_events()]
        runs.append([e.WhichOneof("attributes") or "" for e in events])
        last = events[-1]
        run_id = (
            last.workflow_execution_continued_as_new_event_attributes.new_execution_run_id
            if last.HasField("workflow_execution_continued_as_new_event_attributes")
            else None
        )
    return runs


def _accepted(run: list[str]) -> int:
    return run.count("workflow_execution_update_accepted_event_attributes")


async def test_a_run_hands_over_after_its_updates_and_nothing_is_lost(
    dev_env: WorkflowEnvironment, sqlite_url: str
) -> None:
    """On the dev server, as the department's below: the time-skipping test server strands a
    run now and then when an update meets a continue-as-new."""
    env = dev_env
    async with scenarios.running_worker(env.client, sqlite_url) as (task_queue, engine):
        code = f"RO-{uuid.uuid4().hex[:6].upper()}"
        s = await scenarios.start_project(
            env, task_queue, code, rollover_after_updates=4, refuse_updates_after=100
        )
        handle = s.handle
        await s.act("submit")
        for i in range(11):
            await s.act(_toggle(i), {"reason": "测试"})
        # The last run confirms its own actions after the quiet-burst settle (at most this).
        async with asyncio.timeout(WRITE_THROUGH_SETTLE_LONGEST.total_seconds() + 30):
            while await s.handle.query(ProjectWorkflow.unprojected):  # noqa: ASYNC110  (a query is the only way to ask)
                await asyncio.sleep(0.05)

        runs = await _runs(env.client, handle)
        # Twelve updates at four a run: every run but the last handed over once it had four
        # (more may arrive while its hand-over waits for its projection), and every update was
        # taken by exactly one run.
        assert len(runs) >= 2
        assert all(4 <= _accepted(run) < 100 for run in runs[:-1])
        assert sum(_accepted(run) for run in runs) == 12
        assert all(
            run[-1] == "workflow_execution_continued_as_new_event_attributes" for run in runs[:-1]
        )

        state = await s.state()
        assert state.state == "suspended"  # eleven toggles from active
        assert state.seq == 13  # the filing, the submission, eleven toggles
        with Session(engine) as session:
            row = session.get(ProjectRow, code)
            assert row is not None
            assert row.seq == 13
            stored = session.exec(
                select(func.count()).select_from(HistoryRow).where(col(HistoryRow.code) == code)
            ).one()
            assert stored == 13


async def test_past_its_limit_a_run_refuses_actions_until_it_has_handed_over(
    time_skipping_env: WorkflowEnvironment,
) -> None:
    """A hand-over held up (here: its projection, blocked) leaves the run taking updates up to
    `refuse_updates_after`; the next is refused as retryable, with nothing recorded, and the
    API answers it 503 with Retry-After. Once the run has handed over, actions go on."""
    env = time_skipping_env
    gate = asyncio.Event()

    @activity.defn(name=PROJECT_SNAPSHOT)
    async def held_projection(inp: ProjectionInput) -> ProjectionResult:
        await gate.wait()
        return ProjectionResult(pending_notifications=0)

    task_queue = f"test-{uuid.uuid4()}"
    with ThreadPoolExecutor(max_workers=2) as executor:
        async with Worker(
            env.client,
            task_queue=task_queue,
            workflows=[ProjectWorkflow],
            activities=[held_projection],
            activity_executor=executor,
            workflow_runner=workflow_runner(),
        ):
            try:
                code = f"RF-{uuid.uuid4().hex[:6].upper()}"
                s = await scenarios.start_project(
                    env, task_queue, code, rollover_after_updates=2, refuse_updates_after=3
                )
                handle = s.handle
                await s.act("submit")
                await s.act("suspend_funding", {"reason": "测试"})  # two: hand-over due
                await s.act("resume_funding", {"reason": "测试"})  # three: the last it takes
                with pytest.raises(WorkflowUpdateFailedError) as refused:
                    await s.act("suspend_funding", {"reason": "测试"})
                cause = refused.value.cause
                assert isinstance(cause, ApplicationError)
                assert cause.type == ROLLING_OVER
                assert not cause.non_retryable
                problem = rejection_problem(cause, "suspend_funding", workflow="workflow")
                assert problem.status == 503
                assert int(problem.headers["Retry-After"]) > 0
                assert (await s.state()).seq == 4  # the refused action recorded nothing

                gate.set()
                async with asyncio.timeout(30):
                    while len(await _runs(env.client, handle)) < 2:  # noqa: ASYNC110  (no event to await)
                        await asyncio.sleep(0.05)
                await s.act("suspend_funding", {"reason": "测试"})
                state = await s.state()
                assert (state.state, state.seq) == ("suspended", 5)
                assert [_accepted(run) for run in await _runs(env.client, handle)] == [3, 1]
            finally:
                gate.set()
                await end_started(env.client, task_queue)


async def test_a_department_year_hands_over_after_its_updates_and_keeps_every_reservation(
    dev_env: WorkflowEnvironment, sqlite_url: str
) -> None:
    """Each budget approval held against a department's control number is two updates on its
    year (reserve, settle): a busy department's run hands over the same way. Four clients
    reserve and settle at once, so updates also arrive while a run is handing over.

    On the dev server: the time-skipping test server strands a run now and then when an update
    meets a continue-as-new (a task for the closed run, "workflow execution already
    completed", then the new run's queries time out), which a real server does not do."""
    env = dev_env
    department = f"DRO{uuid.uuid4().hex[:5].upper()}"
    year = (await env.get_current_time()).astimezone(UTC).year - 1
    finance = ds.ACTORS[Role.FINANCE]
    clients, rounds = 4, 4
    async with scenarios.running_worker(env.client, sqlite_url) as (task_queue, engine):
        handle = await env.client.start_workflow(
            DepartmentYearWorkflow.run,
            DepartmentYearInput(
                year=DepartmentYearState(
                    info=DepartmentYearInfo(department=department, fiscal_year=year)
                ),
                rollover_after_updates=3,
            ),
            id=department_workflow_id(department, year),
            task_queue=task_queue,
        )
        latest = env.client.get_workflow_handle_for(DepartmentYearWorkflow.run, handle.id)
        number = ds.ceiling(department, year, 10_000_000)
        await ds.act(latest, "set_control_number", {"control_number": number})

        async def approvals(c: int) -> None:
            for r in range(rounds):
                code = f"P{c}-{r}"
                facts = await latest.execute_update(
                    DepartmentYearWorkflow.reserve,
                    ReserveRequest(
                        reservation_id=code,
                        project_code=code,
                        amount=Decimal(100_000),
                        actor=finance,
                    ),
                )
                assert facts.granted
                assert await latest.execute_update(
                    DepartmentYearWorkflow.settle_reservation,
                    SettleRequest(reservation_id=code, confirmed=True, actor=finance),
                )

        await asyncio.gather(*(approvals(c) for c in range(clients)))
        approved = clients * rounds
        runs = await _runs(env.client, handle)
        assert len(runs) >= 2  # 33 updates at three a run
        assert all(_accepted(run) >= 3 for run in runs[:-1])
        assert sum(_accepted(run) for run in runs) == 1 + 2 * approved  # each in one run
        state: DepartmentYearState = await latest.query(DepartmentYearWorkflow.snapshot)
        assert state.reserved == Decimal(100_000 * approved)
        assert [r.status for r in state.reservations] == ["confirmed"] * approved
        final = await ds.finish(env, latest)
        assert final.reserved == Decimal(100_000 * approved)
        with Session(engine) as session:
            row = session.get(DepartmentYearRow, (department, year))
            assert row is not None
            assert row.seq == final.seq
