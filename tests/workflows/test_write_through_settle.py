"""When a project's workflow confirms the API's write-through of its actions (QUIET_BURST_PATCH).

The confirmation is one projection activity (and one visibility write) for a whole burst of
actions on the project, once it has paused; a stream that never pauses is confirmed
WRITE_THROUGH_SETTLE_LONGEST after it began; what no action made is projected at once; and a
run that closes cancels no timer (SETTLE_TIMER_PATCH). Each is read off the workflow's history
on the time-skipping test server.
"""

from __future__ import annotations

import asyncio
from datetime import UTC, datetime, timedelta

from temporalio.api.history.v1 import HistoryEvent
from temporalio.testing import WorkflowEnvironment

from activities.projection import PROJECT_SNAPSHOT
from models.fiscal_notice import FISCAL_NOTICE_SIGNAL, FiscalNotice, FiscalPhase
from tests.support.temporal import closed_result
from tests.workflows import scenarios
from workflows.project import (
    WRITE_THROUGH_SETTLE,
    WRITE_THROUGH_SETTLE_LONGEST,
    ProjectWorkflow,
)

SETTLE_TIMER = "confirm the API's write-through"


async def _events(s: scenarios.Scenario) -> list[HistoryEvent]:
    return [e async for e in s.handle.fetch_history_events()]


def _schedules_projection(e: HistoryEvent) -> bool:
    return (
        e.HasField("activity_task_scheduled_event_attributes")
        and e.activity_task_scheduled_event_attributes.activity_type.name == PROJECT_SNAPSHOT
    )


async def _confirmations(s: scenarios.Scenario) -> int:
    """Projection activities the workflow has scheduled so far."""
    return sum(1 for e in await _events(s) if _schedules_projection(e))


async def _projected(s: scenarios.Scenario) -> None:
    """Until the read model holds every history entry (the activity runs in real time)."""
    async with asyncio.timeout(30):
        while await s.handle.query(ProjectWorkflow.unprojected):  # noqa: ASYNC110  (a query is the only way to ask)
            await asyncio.sleep(0.05)


async def _submitted_and_confirmed(
    env: WorkflowEnvironment, task_queue: str, code: str
) -> tuple[scenarios.Scenario, int]:
    """A submitted project whose submission is confirmed, and its confirmations so far."""
    s = await scenarios.start_project(env, task_queue, code)
    await s.act("submit")
    await s.settled()
    await _projected(s)
    return s, await _confirmations(s)


async def _act_every_second(s: scenarios.Scenario, count: int) -> None:
    for i in range(count):
        await s.act("suspend_funding" if i % 2 == 0 else "resume_funding", {"reason": "测试"})
        await s.env.sleep(timedelta(seconds=1))


async def test_a_burst_is_confirmed_once_after_it_pauses(
    time_skipping_env: WorkflowEnvironment, sqlite_url: str
) -> None:
    env = time_skipping_env
    async with scenarios.running_worker(env.client, sqlite_url) as (task_queue, _engine):
        s, before = await _submitted_and_confirmed(env, task_queue, "TS-BURST")

        # Six actions a second apart: three times the settle, never a pause as long as it.
        burst = 6
        assert timedelta(seconds=burst) > 2 * WRITE_THROUGH_SETTLE
        await _act_every_second(s, burst)
        assert await _confirmations(s) == before
        assert await s.handle.query(ProjectWorkflow.unprojected) == burst

        await env.sleep(WRITE_THROUGH_SETTLE_LONGEST)
        await _projected(s)
        assert await _confirmations(s) == before + 1


async def test_a_stream_without_a_pause_is_confirmed_within_the_longest_settle(
    time_skipping_env: WorkflowEnvironment, sqlite_url: str
) -> None:
    env = time_skipping_env
    async with scenarios.running_worker(env.client, sqlite_url) as (task_queue, _engine):
        s, before = await _submitted_and_confirmed(env, task_queue, "TS-STREAM")

        stream = int(WRITE_THROUGH_SETTLE_LONGEST.total_seconds()) + 3
        await _act_every_second(s, stream)
        # Confirmed once when the stream had lasted the longest settle, not before, not again.
        assert await _confirmations(s) == before + 1

        await env.sleep(WRITE_THROUGH_SETTLE_LONGEST)
        await _projected(s)
        assert await _confirmations(s) == before + 2


async def test_an_entry_no_action_made_ends_the_settle(
    time_skipping_env: WorkflowEnvironment, sqlite_url: str
) -> None:
    env = time_skipping_env
    async with scenarios.running_worker(env.client, sqlite_url) as (task_queue, _engine):
        s, _ = await _submitted_and_confirmed(env, task_queue, "TS-CUT")
        year = await scenarios.next_year(env)

        await s.act("suspend_funding", {"reason": "测试"})
        notice = FiscalNotice(
            phase=FiscalPhase.BUDGET_PREPARATION, fiscal_year=year, issued_at=datetime.now(UTC)
        )
        await s.handle.signal(FISCAL_NOTICE_SIGNAL, notice)
        await _projected(s)  # no API writes the notice's entry: the workflow projects it

        # The entry ended the settle: its projection was scheduled before the settle's timer
        # fired (since SETTLE_TIMER_PATCH the timer is left to fire, as a no-op wake).
        events = await _events(s)
        last = max(_settle_timers(events))
        projection = min(
            e.event_id for e in events if e.event_id > last and _schedules_projection(e)
        )
        fired = [
            e.event_id
            for e in events
            if e.HasField("timer_fired_event_attributes")
            and e.timer_fired_event_attributes.started_event_id == last
        ]
        assert all(f > projection for f in fired)


async def test_a_closing_run_cancels_no_timer(
    time_skipping_env: WorkflowEnvironment, sqlite_url: str
) -> None:
    """An action that ends the project 1 s after another (a settle running, the alarm set):
    the run closes with both timers pending and no CancelTimer command (SETTLE_TIMER_PATCH).
    The time-skipping server strands a task whose completion cancels a timer that fired
    meanwhile (temporalio/sdk-java#3088); a run that never cancels cannot meet it."""
    env = time_skipping_env
    async with scenarios.running_worker(env.client, sqlite_url) as (task_queue, _engine):
        s, _ = await _submitted_and_confirmed(env, task_queue, "TS-CLOSE")
        await s.act("suspend_funding", {"reason": "测试"})
        await env.sleep(timedelta(seconds=1))
        await s.act("exit", {"reason": "cancelled", "comment": "测试结束"})
        closed = await closed_result(env, s.handle)

        events = await _events(s)
        assert closed.state == "exited"
        assert _settle_timers(events)
        assert not [e for e in events if e.HasField("timer_canceled_event_attributes")]


def _settle_timers(events: list[HistoryEvent]) -> set[int]:
    """The event ids of the settle's timers."""
    return {
        e.event_id
        for e in events
        if e.HasField("timer_started_event_attributes")
        and e.user_metadata.summary.data.decode().strip('"') == SETTLE_TIMER
    }
