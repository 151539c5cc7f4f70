"""FiscalYearWorkflow: the zone's fiscal year, one run per calendar year.

A Temporal Schedule (`fiscal-year`, `service.schedules`) starts it at local midnight of each
1 January. It sleeps until each call of the fiscal calendar falls due (`models.fiscal_year`):
the close of last year, the call for its self-evaluations, the opening of next year's budget
preparation, the publication of last year's evaluations, the call for this year's mid-year
monitoring; and fans each out by the signal `fiscal_notice` to every open project workflow and
every running department-year workflow, one batch per activity. A calendar changed by an
admin reaches it by the signal `update_calendar` and moves its timer at once.

Its history stays bounded however many projects there are: a batch costs a few events, and
the run continues as new (carrying where it is) when the history grows.
"""

from __future__ import annotations

import asyncio
import contextlib
from datetime import date, datetime, timedelta

from temporalio import workflow
from temporalio.common import RetryPolicy

with workflow.unsafe.imports_passed_through():
    from activities.fiscal_year import (
        CALENDAR_IN_FORCE,
        RELEASE_DISCLOSURES,
        SIGNAL_BATCH,
        ReleaseInput,
        SignalBatchInput,
        SignalBatchResult,
        Target,
    )
    from models.calendar import FiscalCalendar
    from models.fiscal_notice import PHASE_ZH, FiscalNotice, FiscalPhase
    from models.fiscal_year import (
        Milestone,
        business_date,
        local_midnight,
        milestones,
        too_late,
    )
    from workflows.fiscal_year_contract import FanOut as FanOut
    from workflows.fiscal_year_contract import FiscalYearInput as FiscalYearInput
    from workflows.fiscal_year_contract import FiscalYearReport as FiscalYearReport
    from workflows.fiscal_year_contract import Issued as Issued

SCHEDULE_ID = "fiscal-year"
WORKFLOW_ID = "fiscal-year"  # the schedule appends the scheduled time to it


@workflow.defn
class FiscalYearWorkflow:
    @workflow.init
    def __init__(self, inp: FiscalYearInput) -> None:
        self._input = inp
        self._done = list(inp.done)
        self._calendar = inp.calendar
        self._retimed = False

    @workflow.run
    async def run(self, inp: FiscalYearInput) -> FiscalYearReport:
        year = inp.year or self._today().year
        if self._calendar is None:
            self._calendar = await workflow.execute_activity(
                CALENDAR_IN_FORCE,
                result_type=FiscalCalendar,
                start_to_close_timeout=timedelta(seconds=30),
                retry_policy=RetryPolicy(maximum_interval=timedelta(minutes=1)),
                summary="read the fiscal calendar in force",
            )
        if inp.fan_out is not None:  # a call was being fanned out when the run continued
            await self._fan_out(year, inp.fan_out)
        while (milestone := self._next(year)) is not None:
            due_at = local_midnight(milestone.on, self._input.utc_offset_minutes)
            if self._now() < due_at:
                self._retimed = False
                workflow.set_current_details(
                    f"Fiscal year {year}: next {PHASE_ZH[milestone.phase]} "
                    f"({milestone.phase.value}) of {milestone.fiscal_year} at {due_at.isoformat()}"
                )
                with contextlib.suppress(asyncio.TimeoutError):
                    await workflow.wait_condition(
                        lambda: self._retimed,
                        timeout=due_at - self._now(),
                        timeout_summary=f"{milestone.phase.value} {milestone.fiscal_year}",
                    )
                continue  # the time has come, or the calendar moved: look again
            if milestone.phase is FiscalPhase.DISCLOSURE:
                # Published even when the call itself is too stale to send: a year's
                # evaluations must not stay unpublished because a run started late.
                await self._release(milestone.fiscal_year)
            if too_late(milestone, self._today(), self._input.catch_up_days):
                self._done.append(
                    Issued(phase=milestone.phase, fiscal_year=milestone.fiscal_year, issued_at=None)
                )
                continue
            notice = FiscalNotice(
                phase=milestone.phase, fiscal_year=milestone.fiscal_year, issued_at=self._now()
            )
            await self._fan_out(year, FanOut(notice=notice))
        return FiscalYearReport(year=year, calls=self._done)

    def _now(self) -> datetime:
        return workflow.now() + timedelta(seconds=self._input.clock_offset_seconds)

    def _today(self) -> date:
        return business_date(self._now(), self._input.utc_offset_minutes)

    def _next(self, year: int) -> Milestone | None:
        assert self._calendar is not None
        done = {(d.phase, d.fiscal_year) for d in self._done}
        pending = [
            m for m in milestones(self._calendar, year) if (m.phase, m.fiscal_year) not in done
        ]
        return pending[0] if pending else None

    async def _fan_out(self, year: int, progress: FanOut) -> None:
        """Signal the call to projects, then departments, one batch per activity."""
        while True:
            result = await workflow.execute_activity(
                SIGNAL_BATCH,
                SignalBatchInput(
                    notice=progress.notice,
                    target=progress.target,
                    cursor=progress.cursor,
                    limit=self._input.batch_size,
                ),
                result_type=SignalBatchResult,
                start_to_close_timeout=timedelta(minutes=5),
                heartbeat_timeout=timedelta(seconds=60),
                retry_policy=RetryPolicy(maximum_interval=timedelta(minutes=1)),
                summary=(
                    f"{progress.notice.phase.value} {progress.notice.fiscal_year}: "
                    f"{progress.target.value} after {progress.cursor or 'the start'}"
                ),
            )
            progress = progress.model_copy(
                update={
                    "batches": progress.batches + 1,
                    "signalled": progress.signalled + result.signalled,
                    "skipped": progress.skipped + result.skipped,
                    "cursor": result.next_cursor,
                }
            )
            if result.next_cursor is None:
                if progress.target is Target.DEPARTMENTS:
                    break
                progress = progress.model_copy(update={"target": Target.DEPARTMENTS})
            if self._history_full():
                await workflow.wait_condition(workflow.all_handlers_finished)
                workflow.continue_as_new(self._carry(year, progress))
        notice = progress.notice
        self._done.append(
            Issued(
                phase=notice.phase,
                fiscal_year=notice.fiscal_year,
                issued_at=notice.issued_at,
                batches=progress.batches,
                signalled=progress.signalled,
                skipped=progress.skipped,
            )
        )

    async def _release(self, fiscal_year: int) -> None:
        await workflow.execute_activity(
            RELEASE_DISCLOSURES,
            ReleaseInput(fiscal_year=fiscal_year, at=self._now()),
            start_to_close_timeout=timedelta(seconds=30),
            retry_policy=RetryPolicy(maximum_interval=timedelta(minutes=1)),
            summary=f"publish the evaluations of {fiscal_year}",
        )

    def _history_full(self) -> bool:
        info = workflow.info()
        return (
            info.is_continue_as_new_suggested()
            or info.get_current_history_length() >= self._input.max_history_events
        )

    def _carry(self, year: int, progress: FanOut) -> FiscalYearInput:
        return self._input.model_copy(
            update={
                "year": year,
                "calendar": self._calendar,
                "done": self._done,
                "fan_out": progress,
            }
        )

    @workflow.signal
    def update_calendar(self, calendar: FiscalCalendar) -> None:
        """A new fiscal calendar: the next call is timed by it at once."""
        self._calendar = calendar
        self._retimed = True

    @workflow.query
    def report(self) -> list[Issued]:
        return self._done
