"""The Temporal Schedule `fiscal-year`: starts `FiscalYearWorkflow` at each 1 January.

Created at start-up by every worker (`perfbudget up`, `perfbudget worker`): several workers, a
restart, or an existing schedule never make a second one nor an error. An existing schedule is
updated to what this code wants (task queue, time, input), keeping its state (paused or not).
"""

from __future__ import annotations

from datetime import timedelta

import structlog
from temporalio.client import (
    Client,
    Schedule,
    ScheduleActionStartWorkflow,
    ScheduleAlreadyRunningError,
    ScheduleCalendarSpec,
    ScheduleOverlapPolicy,
    SchedulePolicy,
    ScheduleRange,
    ScheduleSpec,
    ScheduleUpdate,
    ScheduleUpdateInput,
)

from workflows.fiscal_year import (
    SCHEDULE_ID,
    WORKFLOW_ID,
    FiscalYearInput,
    FiscalYearWorkflow,
)

log = structlog.get_logger(__name__)


def new_year_spec(utc_offset_minutes: int) -> ScheduleSpec:
    """Local midnight of every 1 January, written in UTC (no time-zone database needed)."""
    minutes = (-utc_offset_minutes) % (24 * 60)
    on_new_years_eve = utc_offset_minutes > 0  # east of Greenwich: still 31 December in UTC
    return ScheduleSpec(
        calendars=[
            ScheduleCalendarSpec(
                month=[ScheduleRange(12 if on_new_years_eve else 1)],
                day_of_month=[ScheduleRange(31 if on_new_years_eve else 1)],
                hour=[ScheduleRange(minutes // 60)],
                minute=[ScheduleRange(minutes % 60)],
                comment="1 January, 00:00 in the zone",
            )
        ]
    )


def fiscal_year_schedule(*, task_queue: str, utc_offset_minutes: int) -> Schedule:
    return Schedule(
        action=ScheduleActionStartWorkflow(
            FiscalYearWorkflow.run,
            FiscalYearInput(utc_offset_minutes=utc_offset_minutes),
            id=WORKFLOW_ID,
            task_queue=task_queue,
            static_summary="The zone's fiscal year (全区预算绩效管理年度安排)",
        ),
        spec=new_year_spec(utc_offset_minutes),
        policy=SchedulePolicy(
            # A run lasts until its last call (August by default); should one still run at the
            # next 1 January, the new one waits for it rather than racing it.
            overlap=ScheduleOverlapPolicy.BUFFER_ONE,
            # A server down over New Year still starts the year when it is back (within a month).
            catchup_window=timedelta(days=31),
        ),
    )


async def ensure_fiscal_year_schedule(
    client: Client,
    *,
    task_queue: str,
    utc_offset_minutes: int,
    schedule_id: str = SCHEDULE_ID,
    start_now: bool = True,
) -> bool:
    """Create the schedule, or bring an existing one up to date; whether it was created.

    On creation (`start_now`) the current year starts at once, so a new installation issues
    this year's calls that are still timely instead of waiting for the next 1 January.
    """
    wanted = fiscal_year_schedule(task_queue=task_queue, utc_offset_minutes=utc_offset_minutes)
    try:
        await client.create_schedule(schedule_id, wanted, trigger_immediately=start_now)
    except ScheduleAlreadyRunningError:

        def keep_state(current: ScheduleUpdateInput) -> ScheduleUpdate:
            return ScheduleUpdate(
                schedule=Schedule(
                    action=wanted.action,
                    spec=wanted.spec,
                    policy=wanted.policy,
                    state=current.description.schedule.state,
                )
            )

        await client.get_schedule_handle(schedule_id).update(keep_state)
        log.info("schedule_updated", schedule_id=schedule_id, task_queue=task_queue)
        return False
    log.info("schedule_created", schedule_id=schedule_id, task_queue=task_queue)
    return True
