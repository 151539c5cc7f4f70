"""The zone's fiscal year on the dev server: the schedule, and a real fan-out to projects."""

from __future__ import annotations

import asyncio
import uuid
from datetime import UTC, date, datetime, timedelta
from typing import Any

from temporalio.client import Client, ScheduleActionStartWorkflow
from temporalio.testing import WorkflowEnvironment

from models.calendar import FiscalCalendar
from models.fiscal_notice import FiscalPhase
from models.fiscal_year import local_midnight
from service.schedules import ensure_fiscal_year_schedule
from tests import factories as f
from tests.api.conftest import Api
from workflows.fiscal_year import FiscalYearInput, FiscalYearWorkflow

CST = 480


async def _schedule_ids(client: Client) -> list[str]:
    return [s.id async for s in await client.list_schedules()]


async def test_a_schedule_ensured_twice_is_one_schedule(dev_env: WorkflowEnvironment) -> None:
    """Created once; ensured again it is updated in place (its task queue), keeps its paused
    state, and fires at local midnight of 1 January."""
    client = dev_env.client
    schedule_id = f"fiscal-year-test-{uuid.uuid4()}"
    try:
        created = await ensure_fiscal_year_schedule(
            client,
            task_queue="queue-a",
            utc_offset_minutes=CST,
            schedule_id=schedule_id,
            start_now=False,
        )
        handle = client.get_schedule_handle(schedule_id)
        await handle.pause(note="paused by an operator")
        again = await ensure_fiscal_year_schedule(
            client,
            task_queue="queue-b",
            utc_offset_minutes=CST,
            schedule_id=schedule_id,
            start_now=False,
        )
        assert (created, again) == (True, False)

        described = await handle.describe()
        action = described.schedule.action
        assert isinstance(action, ScheduleActionStartWorkflow)
        assert action.task_queue == "queue-b"
        assert action.workflow == FiscalYearWorkflow.__name__
        assert described.schedule.state.paused
        await handle.unpause()
        described = await handle.describe()
        next_year = (datetime.now(UTC) + timedelta(minutes=CST)).year + 1
        assert described.info.next_action_times[0] == local_midnight(date(next_year, 1, 1), CST)

        # Visibility of schedules is eventually consistent: wait until it lists ours.
        for _ in range(100):
            ids = await _schedule_ids(client)
            if schedule_id in ids:
                break
            await asyncio.sleep(0.1)
        assert ids.count(schedule_id) == 1
    finally:
        await client.get_schedule_handle(schedule_id).delete()


async def _file(api: Api, code: str, year: int) -> None:
    response = await api.post("/api/projects", "clerk1", f.filing(code, start=year, end=year + 1))
    assert response.status_code == 201, response.text


async def _fiscal_notices(api: Api, code: str) -> list[dict[str, Any]]:
    history = await api.get(f"/api/projects/{code}/history", "audit")
    assert history.status_code == 200, history.text
    return [e for e in history.json() if e["action"] == "fiscal_notice"]


async def test_a_call_reaches_every_open_project_in_batches(
    api: Api, dev_env: WorkflowEnvironment
) -> None:
    """Seven open projects in pages of three: three batches of projects and one of
    departments; a project whose workflow has ended is skipped, not an error; every other
    project records the call once, in its history and the read model."""
    client = dev_env.client
    year = datetime.now(UTC).year + 1
    codes = [f"FY{n}{uuid.uuid4().hex[:5].upper()}" for n in range(7)]
    for code in codes:
        await _file(api, code, year)
    gone = codes[3]
    await client.get_workflow_handle(f"project-{gone}").terminate("ended outside the API")

    business_now = local_midnight(date(year, 8, 1), CST) + timedelta(minutes=5)
    report = await client.execute_workflow(
        FiscalYearWorkflow.run,
        FiscalYearInput(
            calendar=FiscalCalendar(),
            catch_up_days=0,
            batch_size=3,
            clock_offset_seconds=(business_now - datetime.now(UTC)).total_seconds(),
        ),
        id=f"fiscal-year-{uuid.uuid4()}",
        task_queue=api.settings.task_queue,
        execution_timeout=timedelta(minutes=2),
    )

    issued = [c for c in report.calls if c.issued_at is not None]
    assert [(c.phase, c.fiscal_year) for c in issued] == [(FiscalPhase.MID_YEAR_MONITORING, year)]
    (call,) = issued
    assert (call.batches, call.signalled, call.skipped) == (4, 6, 1)
    for code in codes:
        if code == gone:
            continue
        for _ in range(200):
            notices = await _fiscal_notices(api, code)
            if notices:
                break
            await asyncio.sleep(0.05)
        assert len(notices) == 1, code
        assert notices[0]["detail"]["phase"] == "mid_year_monitoring"
        assert notices[0]["fiscal_year"] == year
        assert notices[0]["actor"] == "system"
