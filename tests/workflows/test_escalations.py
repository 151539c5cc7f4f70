"""Deadlines, ladders and event-triggered escalations on the time-skipping server."""

from __future__ import annotations

from datetime import timedelta
from typing import Any

from temporalio.testing import WorkflowEnvironment

from models.calendar import FiscalCalendar, MonthDay
from models.duties import deadline
from models.notify import Desk
from models.vocabulary import Grade
from tests import factories as f
from tests.workflows import scenarios
from workflows import search_attributes as sa
from workflows.project import ProjectWorkflow

CST = 480  # minutes east of UTC
CAL = FiscalCalendar()


async def _closed_year(
    env: WorkflowEnvironment, task_queue: str, code: str, **kw: Any
) -> tuple[scenarios.Scenario, int]:
    """A project whose first year is funded, reported and closed: self-evaluation is owed."""
    s = await scenarios.start_project(env, task_queue, code, **kw)
    b = await scenarios.next_year(env)
    if kw.get("major"):
        await s.act("submit")
        await s.act("submit_assessment", f.assessment())
        await s.act("approve_assessment", {"comment": "同意"})
    else:
        await s.act("submit")
    await s.fund(b)
    await s.until(b, 8, 1)
    await s.act(
        "report_monitoring",
        {
            "fiscal_year": b,
            "period_end": f"{b}-07-31",
            "executed_amount": 600_000,
            "progress": [{"code": "O1", "actual": 60}],
        },
    )
    await s.act("submit_goals", f.goals(b + 1))
    await s.act("approve_goals", {"fiscal_year": b + 1})
    await s.act("approve_budget", {"fiscal_year": b + 1, "amount": 1_000_000})
    await s.until(b + 1, 1, 5)
    return s, b


async def test_every_rung_of_the_department_ladder(
    time_skipping_env: WorkflowEnvironment, sqlite_url: str
) -> None:
    """Reminder −7 d (owner, department), overdue (head), +15 d finance, +30 d leadership + 问责."""
    env = time_skipping_env
    async with scenarios.running_worker(env.client, sqlite_url) as (task_queue, _):
        s, b = await _closed_year(env, task_queue, "ESC-LADDER")
        end = deadline(CAL.due(CAL.self_evaluation_due, b + 1), CST)
        expected = [
            ("reminder", -7, [Desk.PROJECT_OWNER, Desk.DEPARTMENT]),
            ("overdue", 0, [Desk.DEPARTMENT_HEAD]),
            ("escalation", 15, [Desk.FINANCE]),
            ("escalation", 30, [Desk.LEADERSHIP]),
        ]
        for seen, (kind, offset, desks) in enumerate(expected):
            assert len(await s.events(kind, "self_evaluation")) == sum(
                1 for k, _, _ in expected[:seen] if k == kind
            ), f"{kind} {offset} fired early"
            await s.at(end + timedelta(days=offset, minutes=1))
            fired = [
                e
                for e in await s.events(kind, "self_evaluation")
                if e.detail["offset_days"] == offset
            ]
            assert len(fired) == 1, (kind, offset)
            assert [a.desk for a in fired[0].notify] == desks
            assert all(
                a.department == "D1"
                for a in fired[0].notify
                if a.desk in (Desk.PROJECT_OWNER, Desk.DEPARTMENT, Desk.DEPARTMENT_HEAD)
            )
        records = (await s.state()).accountability
        assert [r.subject for r in records] == ["department_head:D1"]
        assert (await s.handle.describe()).typed_search_attributes.get(sa.OVERDUE) is True

        await s.act("submit_self_evaluation", f.self_evaluation(b, Grade.GOOD))
        await s.settled()  # search attributes follow an action once it settles
        assert (await s.handle.describe()).typed_search_attributes.get(sa.OVERDUE) is False
        # The finance review is the next duty; its ladder goes to finance, then leadership.
        review_end = deadline(CAL.due(CAL.review_due, b + 1), CST)
        await s.at(review_end + timedelta(minutes=1))
        assert [a.desk for a in (await s.events("reminder", "review"))[0].notify] == [Desk.FINANCE]
        assert [a.desk for a in (await s.events("overdue", "review"))[0].notify] == [Desk.FINANCE]
        # Nothing of the self-evaluation ladder fired again after it was done.
        assert len(await s.events("escalation", "self_evaluation")) == 2


async def test_duty_done_a_minute_before_a_rung_stops_the_ladder(
    time_skipping_env: WorkflowEnvironment, sqlite_url: str
) -> None:
    """Submitting one minute before the deadline: no overdue notice, no escalation, ever."""
    env = time_skipping_env
    async with scenarios.running_worker(env.client, sqlite_url) as (task_queue, _):
        s, b = await _closed_year(env, task_queue, "ESC-MINUTE")
        end = deadline(CAL.due(CAL.self_evaluation_due, b + 1), CST)
        await s.at(end - timedelta(minutes=1))
        assert len(await s.events("reminder", "self_evaluation")) == 1
        await s.act("submit_self_evaluation", f.self_evaluation(b, Grade.GOOD))
        await s.at(end + timedelta(days=31))
        assert await s.events("overdue", "self_evaluation") == []
        assert await s.events("escalation", "self_evaluation") == []


async def test_calendar_change_retimes_a_running_workflow(
    time_skipping_env: WorkflowEnvironment, sqlite_url: str
) -> None:
    """Moving the self-evaluation due date earlier by signal fires the overdue notice then."""
    env = time_skipping_env
    async with scenarios.running_worker(env.client, sqlite_url) as (task_queue, _):
        s, b = await _closed_year(env, task_queue, "ESC-CAL")
        await s.until(b + 1, 2, 1)
        earlier = CAL.model_copy(update={"self_evaluation_due": MonthDay(month=2, day=20)})
        await s.handle.signal(ProjectWorkflow.update_calendar, earlier)
        new_end = deadline(earlier.due(earlier.self_evaluation_due, b + 1), CST)
        await s.at(new_end + timedelta(hours=1))
        overdue = await s.events("overdue", "self_evaluation")
        assert len(overdue) == 1
        assert (
            overdue[0].detail["due"] == earlier.due(earlier.self_evaluation_due, b + 1).isoformat()
        )
        assert overdue[0].at < deadline(CAL.due(CAL.self_evaluation_due, b + 1), CST)


async def test_worker_restart_mid_ladder_repeats_and_loses_nothing(
    time_skipping_env: WorkflowEnvironment, sqlite_url: str
) -> None:
    """A new worker (empty cache: it rebuilds every workflow by replay) between two rungs:
    the reminder is not sent again, the overdue notice fires once, no entry is lost.

    The time-skipping server cannot move its clock while a workflow task waits for a worker,
    so the clock moves only once the new worker polls: a worker away while timers fire needs
    the real dev server (left to the fault tests of the trust-and-speed issue).
    """
    env = time_skipping_env
    # No workflow cache, hence no sticky queue: the test server has no way to learn that a
    # worker died, and would wait for the sticky timeout in frozen time.
    async with scenarios.running_worker(
        env.client, sqlite_url, cache=False, end_workflows=False
    ) as (task_queue, _):
        s, b = await _closed_year(env, task_queue, "ESC-RESTART")
        end = deadline(CAL.due(CAL.self_evaluation_due, b + 1), CST)
        await s.at(end - timedelta(days=3))
        assert len(await s.events("reminder", "self_evaluation")) == 1
    async with scenarios.running_worker(env.client, sqlite_url, task_queue=task_queue):
        await s.at(end + timedelta(days=2))
        state = await s.state()
        assert len(await s.events("reminder", "self_evaluation")) == 1
        assert len(await s.events("overdue", "self_evaluation")) == 1
        seqs = [e.seq for e in state.history]
        assert seqs == list(range(1, len(seqs) + 1))


async def _red_warned(
    env: WorkflowEnvironment, task_queue: str, code: str
) -> tuple[scenarios.Scenario, int]:
    """A funded project whose April monitoring report shows nothing spent: a red warning."""
    s = await scenarios.start_project(env, task_queue, code)
    b = await scenarios.next_year(env)
    await s.act("submit")
    await s.fund(b)
    await s.until(b, 5, 6)
    await s.act(
        "report_monitoring",
        {"fiscal_year": b, "period_end": f"{b}-04-30", "executed_amount": 0},
    )
    return s, b


async def test_red_warning_unanswered_suspends_funding(
    time_skipping_env: WorkflowEnvironment, sqlite_url: str
) -> None:
    """Execution far behind → red: finance hears at once; no answer in 10 working days → suspended."""
    env = time_skipping_env
    async with scenarios.running_worker(env.client, sqlite_url) as (task_queue, _):
        s, _ = await _red_warned(env, task_queue, "ESC-RED")
        warning = (await s.events("warning"))[0]
        assert warning.detail["level"] == "red"
        assert Desk.FINANCE in [a.desk for a in warning.notify]
        await s.settled()
        assert (await s.handle.describe()).typed_search_attributes.get(sa.WARNING_LEVEL) == "red"
        respond_by = CAL.add_working_days(warning.at.date(), 10)
        assert warning.detail["respond_by"] == respond_by.isoformat()
        await s.at(deadline(respond_by, CST) + timedelta(minutes=1))
        state = await s.state()
        assert state.state == "suspended"
        assert any(e.action == "auto_suspend" for e in state.history)


async def test_answering_a_red_warning_keeps_funding(
    time_skipping_env: WorkflowEnvironment, sqlite_url: str
) -> None:
    """respond_to_warning within the time stops the response ladder; funding continues."""
    env = time_skipping_env
    async with scenarios.running_worker(env.client, sqlite_url) as (task_queue, _):
        s, b = await _red_warned(env, task_queue, "ESC-ANSWER")
        await s.act(
            "respond_to_warning",
            {"fiscal_year": b, "decision": "reallocate", "comment": "调整资金用途"},
        )
        await s.until(b, 6, 30)
        state = await s.state()
        assert state.state == "active"
        assert await s.events("overdue", "warning_response") == []


async def test_major_project_yellow_twice_is_red_with_accountability(
    time_skipping_env: WorkflowEnvironment, sqlite_url: str
) -> None:
    """A major project warned yellow a second time turns red and records the owner's 问责."""
    env = time_skipping_env
    async with scenarios.running_worker(env.client, sqlite_url) as (task_queue, _):
        s = await scenarios.start_project(env, task_queue, "ESC-MAJOR", major=True)
        b = await scenarios.next_year(env)
        await s.act("submit")
        await s.act("submit_assessment", f.assessment())
        await s.act("approve_assessment", {"comment": "同意"})
        await s.fund(b)
        await s.until(b, 5, 6)
        report = {"fiscal_year": b, "period_end": f"{b}-04-30", "executed_amount": 200_000}
        await s.act("report_monitoring", report)  # 20 % against 25 %: yellow
        await s.until(b, 7, 6)
        await s.act(
            "report_monitoring", {**report, "period_end": f"{b}-06-30", "executed_amount": 350_000}
        )  # 35 % vs 40 %: yellow
        levels = [e.detail["level"] for e in await s.events("warning")]
        assert levels == ["yellow", "red"]
        records = (await s.state()).accountability
        assert [(r.subject, r.lifelong) for r in records] == [("owner:张三", True)]


async def test_review_far_from_self_score_flags_a_key_evaluation(
    time_skipping_env: WorkflowEnvironment, sqlite_url: str
) -> None:
    """Finance's score 20 points under the self-evaluation flags the year for key evaluation."""
    env = time_skipping_env
    async with scenarios.running_worker(env.client, sqlite_url) as (task_queue, _):
        s, b = await _closed_year(env, task_queue, "ESC-GAP")
        await s.act("submit_self_evaluation", f.self_evaluation(b, Grade.EXCELLENT))
        await s.act(
            "review_self_evaluation",
            {"fiscal_year": b, "adjusted_score": 80, "comment": "自评偏高"},
        )
        flags = await s.events("flag")
        assert len(flags) == 1
        assert flags[0].detail["flag"] == "key_evaluation"
        assert (await s.state()).cycles[0].key_evaluation


async def test_idle_funds_escalate_on_31_october(
    time_skipping_env: WorkflowEnvironment, sqlite_url: str
) -> None:
    """Execution under 30 % at 31 October escalates to finance as idle funds."""
    env = time_skipping_env
    async with scenarios.running_worker(env.client, sqlite_url) as (task_queue, _):
        s = await scenarios.start_project(env, task_queue, "ESC-IDLE")
        b = await scenarios.next_year(env)
        await s.act("submit")
        await s.fund(b)
        await s.until(b, 8, 1)
        await s.act(
            "report_monitoring",
            {"fiscal_year": b, "period_end": f"{b}-07-31", "executed_amount": 100_000},
        )
        await s.until(b, 11, 2)
        idle = [e for e in await s.events("escalation") if e.detail.get("reason") == "idle_funds"]
        assert len(idle) == 1
        assert idle[0].detail["execution_pct"] == "10.00"
        assert [a.desk for a in idle[0].notify] == [Desk.FINANCE, Desk.DEPARTMENT_HEAD]


async def test_overdue_rectification_on_a_major_project_records_the_owner(
    time_skipping_env: WorkflowEnvironment, sqlite_url: str
) -> None:
    """Rectification not reported in 60 days on a major project: the owner's lifelong 问责."""
    env = time_skipping_env
    async with scenarios.running_worker(env.client, sqlite_url) as (task_queue, _):
        s, b = await _closed_year(env, task_queue, "ESC-RECT", major=True)
        await s.evaluate(b, Grade.FAIR)
        state = await s.state()
        ordered = state.cycles[0].rectification
        assert ordered is not None
        due = CAL.working_day_on_or_after(ordered.ordered_at.date() + timedelta(days=60))
        await s.at(deadline(due, CST) + timedelta(minutes=1))
        subjects = [r.subject for r in (await s.state()).accountability]
        assert "owner:张三" in subjects
