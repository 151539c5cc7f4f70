"""FiscalYearWorkflow on the time-skipping server: a year of calls in seconds, with its
activities replaced by recorders (`fiscal_stubs`; the real fan-out runs on the dev server in
tests/api)."""

from __future__ import annotations

import uuid
from datetime import UTC, date, datetime, timedelta

from temporalio.client import WorkflowHandle
from temporalio.testing import WorkflowEnvironment

from activities.fiscal_year import (
    Target,
)
from models.calendar import FiscalCalendar, MonthDay
from models.fiscal_notice import FiscalPhase
from models.fiscal_year import local_midnight
from models.project_state import ProjectState
from tests.support.temporal import closed_result
from tests.workflows import scenarios
from tests.workflows.fiscal_stubs import Recorder, fiscal_year_worker
from workflows.fiscal_year import FiscalYearInput, FiscalYearReport, FiscalYearWorkflow
from workflows.project import ProjectWorkflow

CST = 480


async def _offset_to(env: WorkflowEnvironment, business: datetime) -> float:
    """Clock offset making the server's now the given instant."""
    return (business - await env.get_current_time()).total_seconds()


async def _start(
    env: WorkflowEnvironment, task_queue: str, inp: FiscalYearInput
) -> WorkflowHandle[FiscalYearWorkflow, FiscalYearReport]:
    return await env.client.start_workflow(
        FiscalYearWorkflow.run, inp, id=f"fiscal-year-{uuid.uuid4()}", task_queue=task_queue
    )


async def _report_after(
    env: WorkflowEnvironment,
    handle: WorkflowHandle[FiscalYearWorkflow, FiscalYearReport],
    offset: float,
    last_call: datetime | None = None,
) -> FiscalYearReport:
    """The year's report, the clock moved (business time) just past its last call, no further:
    waiting with `handle.result()` would let the clock skip on by years once the run closed
    (see `closed_result`)."""
    if last_call is not None:
        now = await env.get_current_time() + timedelta(seconds=offset)
        await env.sleep(last_call + timedelta(minutes=1) - now)
    report: FiscalYearReport = await closed_result(env, handle)
    return report


def _at(year: int, month: int, day: int) -> datetime:
    return local_midnight(date(year, month, day), CST)


def _near(got: datetime, wanted: datetime) -> bool:
    """The same instant, give or take the milliseconds the test server's clock drifts."""
    return abs(got - wanted) < timedelta(seconds=1)


async def test_a_year_of_calls_on_the_dates_of_the_calendar(
    time_skipping_env: WorkflowEnvironment,
) -> None:
    """From 1 January: the five calls at local midnight of their dates, each fanned out to
    projects page by page and then to departments; last year's evaluations published."""
    env = time_skipping_env
    recorder = Recorder(project_batches=3)
    async with fiscal_year_worker(env, recorder) as task_queue:
        offset = await _offset_to(env, _at(2027, 1, 1) + timedelta(seconds=1))
        handle = await _start(
            env, task_queue, FiscalYearInput(clock_offset_seconds=offset, batch_size=50)
        )
        report = await _report_after(env, handle, offset, _at(2027, 8, 1))

    assert report.year == 2027
    wanted = [
        (FiscalPhase.YEAR_CLOSE, 2026, _at(2027, 1, 1) + timedelta(seconds=1)),
        (FiscalPhase.SELF_EVALUATION, 2026, _at(2027, 1, 15)),
        (FiscalPhase.BUDGET_PREPARATION, 2028, _at(2027, 7, 1)),
        (FiscalPhase.DISCLOSURE, 2026, _at(2027, 7, 15)),
        (FiscalPhase.MID_YEAR_MONITORING, 2027, _at(2027, 8, 1)),
    ]
    issued = recorder.issued()
    assert [(p, y) for p, y, _ in issued] == [(p, y) for p, y, _ in wanted]
    assert all(_near(got[2], want[2]) for got, want in zip(issued, wanted, strict=True)), issued
    # Per call: three pages of projects (cursor None, "1", "2"), then one of departments.
    first = [(c.target, c.cursor, c.limit) for c in recorder.calls[:4]]
    assert first == [
        (Target.PROJECTS, None, 50),
        (Target.PROJECTS, "1", 50),
        (Target.PROJECTS, "2", 50),
        (Target.DEPARTMENTS, None, 50),
    ]
    assert len(recorder.calls) == 5 * 4
    assert [(c.phase, c.batches, c.signalled, c.skipped) for c in report.calls] == [
        (phase, 4, 3 * 50 + 1, 3)
        for phase in (
            FiscalPhase.YEAR_CLOSE,
            FiscalPhase.SELF_EVALUATION,
            FiscalPhase.BUDGET_PREPARATION,
            FiscalPhase.DISCLOSURE,
            FiscalPhase.MID_YEAR_MONITORING,
        )
    ]
    (released,) = recorder.released
    assert released.fiscal_year == 2026
    assert _near(released.at, _at(2027, 7, 15))


async def test_a_late_start_skips_stale_calls_and_a_calendar_change_moves_the_next(
    time_skipping_env: WorkflowEnvironment,
) -> None:
    """Started 10 July: January's calls are skipped, 1 July's is issued at once (within the
    catch-up window); a new calendar signalled then moves publication and monitoring."""
    env = time_skipping_env
    recorder = Recorder()
    async with fiscal_year_worker(env, recorder) as task_queue:
        started = _at(2027, 7, 10) + timedelta(hours=9)
        offset = await _offset_to(env, started)
        handle = await _start(
            env,
            task_queue,
            FiscalYearInput(clock_offset_seconds=offset, calendar=FiscalCalendar()),
        )
        moved = FiscalCalendar(
            disclosure_publication=MonthDay(month=7, day=20),
            monitoring_call=MonthDay(month=8, day=10),
        )
        await handle.signal(FiscalYearWorkflow.update_calendar, moved)
        report = await _report_after(env, handle, offset, _at(2027, 8, 10))

    issued = recorder.issued()
    assert [(phase, year) for phase, year, _ in issued] == [
        (FiscalPhase.BUDGET_PREPARATION, 2028),
        (FiscalPhase.DISCLOSURE, 2026),
        (FiscalPhase.MID_YEAR_MONITORING, 2027),
    ]
    assert issued[0][2] - started < timedelta(minutes=1)
    assert _near(issued[1][2], _at(2027, 7, 20))
    assert _near(issued[2][2], _at(2027, 8, 10))
    skipped = [(c.phase, c.fiscal_year) for c in report.calls if c.issued_at is None]
    assert skipped == [(FiscalPhase.YEAR_CLOSE, 2026), (FiscalPhase.SELF_EVALUATION, 2026)]
    assert [r.fiscal_year for r in recorder.released] == [2026]


async def test_a_long_fan_out_continues_as_new_without_repeating_a_batch(
    time_skipping_env: WorkflowEnvironment,
) -> None:
    """Sixty pages under a 100-event history limit: the run continues as new mid-fan-out and
    every page is asked for exactly once."""
    env = time_skipping_env
    recorder = Recorder(project_batches=60)
    async with fiscal_year_worker(env, recorder) as task_queue:
        offset = await _offset_to(env, _at(2027, 8, 1) + timedelta(hours=1))
        handle = await _start(
            env,
            task_queue,
            FiscalYearInput(
                clock_offset_seconds=offset,
                calendar=FiscalCalendar(),
                catch_up_days=0,
                max_history_events=100,
            ),
        )
        report = await _report_after(env, handle, offset)  # every call due at once
        first_run = await env.client.get_workflow_handle(
            handle.id, run_id=handle.first_execution_run_id
        ).fetch_history()
        continued = first_run.events[-1].HasField(
            "workflow_execution_continued_as_new_event_attributes"
        )

    assert continued
    pages = [c.cursor for c in recorder.calls if c.target is Target.PROJECTS]
    assert pages == [None, *(str(n) for n in range(1, 60))]
    (monitoring,) = [c for c in report.calls if c.issued_at is not None]
    assert (monitoring.phase, monitoring.batches) == (FiscalPhase.MID_YEAR_MONITORING, 61)
    assert len(report.calls) == 5  # the four earlier calls skipped, carried over the new run
    # Publication is not skipped with its stale call: last year's evaluations become public.
    assert [r.fiscal_year for r in recorder.released] == [2026]


async def test_a_project_records_a_call_once(
    time_skipping_env: WorkflowEnvironment, sqlite_url: str
) -> None:
    """The `fiscal_notice` signal: one system entry however often it arrives, projected."""
    env = time_skipping_env
    async with scenarios.running_worker(env.client, sqlite_url) as (task_queue, _engine):
        s = await scenarios.start_project(env, task_queue, f"FN{uuid.uuid4().hex[:6].upper()}")
        await s.act("submit")
        year = await scenarios.next_year(env)
        notice = {
            "phase": "budget_preparation",
            "fiscal_year": year,
            "issued_at": datetime.now(UTC).isoformat(),
        }
        for _ in range(2):
            await s.handle.signal("fiscal_notice", notice)
        state: ProjectState = await s.handle.query(ProjectWorkflow.snapshot)
        entries = [e for e in state.history if e.action == "fiscal_notice"]
        assert len(entries) == 1
        assert entries[0].detail["asks"] is True
        assert entries[0].fiscal_year == year
        assert state.fiscal_notices == [f"budget_preparation:{year}"]
