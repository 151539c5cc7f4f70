"""A department year's deadlines on the time-skipping server: a missed self-evaluation climbs
the ladder rung by rung, and submitting it stops the ladder (dates in `department_scenarios`)."""

from __future__ import annotations

import uuid
from collections.abc import AsyncIterator
from datetime import UTC, datetime

import pytest
from temporalio.api.enums.v1 import EventType
from temporalio.contrib.pydantic import pydantic_data_converter
from temporalio.testing import WorkflowEnvironment

from models.department_state import DepartmentYearState
from models.notify import Audience, Desk
from service.temporal_client import add_search_attributes, test_server_path
from tests.support.started import TRACKER
from tests.workflows import department_scenarios as ds
from tests.workflows import scenarios
from workflows.department import DepartmentYearWorkflow
from workflows.search_attributes import ALL_KEYS


@pytest.fixture(scope="module")
async def time_skipping_env() -> AsyncIterator[WorkflowEnvironment]:
    """A test server of this module's own: these tests move its clock by months."""
    env = await WorkflowEnvironment.start_time_skipping(
        data_converter=pydantic_data_converter,
        test_server_existing_path=str(test_server_path()),
        interceptors=[TRACKER],
    )
    async with env:
        await add_search_attributes(env.client, ALL_KEYS)
        yield env


async def test_a_missed_self_evaluation_climbs_the_ladder_until_it_is_submitted(
    time_skipping_env: WorkflowEnvironment, sqlite_url: str
) -> None:
    env = time_skipping_env
    department = f"DL{uuid.uuid4().hex[:6].upper()}"
    async with scenarios.running_worker(env.client, sqlite_url) as (task_queue, _engine):
        handle = await ds.missed_self_evaluation(env, task_queue, department)
        final: DepartmentYearState = await handle.query(DepartmentYearWorkflow.snapshot)

    assert [(e.action, e.actor) for e in final.history] == [
        ("submit_goals", "clerk"),
        ("approve_goals", "officer"),
        ("approve_department_budget", "officer"),
        ("reminder", "system"),
        ("overdue", "system"),
        ("escalation", "system"),
        ("submit_self_evaluation", "clerk"),
        ("review_self_evaluation", "officer"),
    ]
    rungs = final.history[3:6]
    # Each rung recorded at the instant it fell due, for the self-evaluation of 2030.
    assert [(e.action, e.at) for e in rungs] == list(ds.SELF_EVALUATION_RUNGS.items())
    assert {(e.detail["duty"], e.detail["due"]) for e in rungs} == {
        ("self_evaluation", "2031-03-31")
    }
    assert [e.notify for e in rungs] == [
        [Audience(desk=Desk.DEPARTMENT, department=department)],
        [Audience(desk=Desk.DEPARTMENT_HEAD, department=department)],
        [Audience(desk=Desk.FINANCE)],
    ]
    # Submitted on 16 April: the rung of 30 April (leadership, 问责) never fired, though the
    # review came after it.
    assert final.history[-1].at > ds.LAST_RUNG
    assert final.escalations == {"self_evaluation:2030": [-7, 0, 15]}
    assert final.state == "reviewed"

    # One timer at a time: every timer the run started was fired or cancelled before the next,
    # none leaked; the last may be left pending when the run closes (the server drops a closed
    # run's timers: workflows.department.ROLLOVER_PATCH).
    history = await handle.fetch_history()
    started = [
        e.timer_started_event_attributes.timer_id
        for e in history.events
        if e.event_type == EventType.EVENT_TYPE_TIMER_STARTED
    ]
    ended = {
        e.timer_fired_event_attributes.timer_id or e.timer_canceled_event_attributes.timer_id
        for e in history.events
        if e.event_type in (EventType.EVENT_TYPE_TIMER_FIRED, EventType.EVENT_TYPE_TIMER_CANCELED)
    }
    assert len(started) >= 3
    assert set(started[:-1]) <= ended
    assert datetime(2031, 5, 1, tzinfo=UTC) < final.history[-1].at
