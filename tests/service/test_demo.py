"""The demo district: seeded through the real workflows, it shows every kind of situation."""

from __future__ import annotations

import asyncio
import uuid
from collections import Counter
from concurrent.futures import ThreadPoolExecutor
from datetime import UTC, date, datetime
from pathlib import Path

from sqlalchemy import Engine
from sqlmodel import Session, col, select
from temporalio.testing import WorkflowEnvironment

from models.department_tables import DepartmentYearRow
from models.project_state import ProjectState
from models.tables import HistoryRow, ProjectRow, User
from service import audit, demo
from service.calendar import rules_in_force
from service.db import init_db
from service.settings import Settings
from service.users import authenticate
from service.web.dashboard import overdue_list, todo
from service.worker import build_worker


async def test_the_demo_district_shows_every_situation(
    dev_env: WorkflowEnvironment, tmp_path: Path
) -> None:
    """A dozen projects of all four budgets in many states, warned, graded, cut, rectified;
    one user per role, each able to sign in with the password printed once."""
    settings = Settings(
        environment="test",
        database_url=f"sqlite:///{tmp_path / 'demo.db'}",
        task_queue=f"demo-{uuid.uuid4()}",
        notification_mode="capture",
        demo=True,
    )
    engine = init_db(settings)
    assert demo.should_seed(settings)
    printed: list[str] = []
    with ThreadPoolExecutor(max_workers=4) as executor:
        worker = build_worker(
            dev_env.client,
            task_queue=settings.task_queue,
            engine=engine,
            executor=executor,
            settings=settings,
        )
        async with worker:
            passwords = await demo.seed(settings, dev_env.client, say=printed.append)
            # The carried-over project's ladder fires on its workflow's first run.
            await _projected(engine, "JT-005", "overdue")
    assert not demo.should_seed(settings)  # a second start does not seed again
    with Session(engine) as session:
        rows = list(session.execute(select(ProjectRow)).scalars())
        for username, (role, department) in demo.USERS.items():
            assert any(username in line and passwords[username] in line for line in printed)
            user = authenticate(session=session, username=username, password=passwords[username])
            assert user is not None
            assert (user.role, user.department) == (role.value, department)
        assert len(list(session.execute(select(User)).scalars())) == len(demo.USERS)
        rules = rules_in_force(session=session, settings=settings)
        now = datetime.now(UTC)
        overdue = demo._principal("caizheng"), demo._principal("jiaotong")
        late = [
            (i.code, i.kind, i.fiscal_year)
            for i in overdue_list(session, overdue[0], now=now, rules=rules)
        ]
        todo_jtj = {
            (i.code, i.kind, i.fiscal_year): i
            for i in todo(session, overdue[1], now=now, rules=rules)
        }
        todo_finance = todo(session, overdue[0], now=now, rules=rules)
        report = audit.verify(session)
        department_years = {
            (r.department, r.fiscal_year): r.state
            for r in session.execute(select(DepartmentYearRow)).scalars()
        }
        history = list(
            session.execute(
                select(HistoryRow).where(HistoryRow.code == "JT-005").order_by(col(HistoryRow.seq))
            ).scalars()
        )
    engine.dispose()
    last_year = datetime.now(UTC).year - 1
    # Carried over from the previous system with last year closed on 31 December: its
    # self-evaluation (due 31 March) is overdue today, on the finance list and the to-do list.
    assert ("JT-005", "self_evaluation", last_year) in late
    assert todo_jtj[("JT-005", "self_evaluation", last_year)].overdue
    assert todo_jtj[("JT-005", "self_evaluation", last_year)].due == date(last_year + 1, 3, 31)
    assert report.ok, report.breaks
    assert report.projects == len(rows)
    carried = ProjectState.model_validate(next(r for r in rows if r.code == "JT-005").snapshot)
    imported = [e for e in history if e.detail.get("imported_from") == demo.PREVIOUS_SYSTEM]
    assert [(e.seq, e.actor, e.action) for e in imported] == [
        (1, "system", "file"),
        (2, "system", "carry_over"),
    ]
    assert imported[1].detail["approved_amount"] == "800000"
    assert imported[1].detail["closed_at"].startswith(f"{last_year}-12-31T16:00")
    closed = carried.cycle(last_year)
    assert closed is not None
    assert closed.state == "closed"
    assert closed.executed_amount == 760_000
    ladder = [e.action for e in history if e.detail.get("duty") == "self_evaluation"]
    assert ladder == ["reminder", "overdue", "escalation", "escalation"]
    assert [a.subject for a in carried.accountability] == ["department_head:JTJ"]
    assert len(rows) == 13
    assert {r.budget_type for r in rows} == {
        "general_public",
        "government_fund",
        "state_capital",
        "social_insurance",
    }
    assert {r.kind for r in rows} == {"project", "policy"}
    states = Counter(r.state for r in rows)
    assert states["filed"] == 1
    assert states["suspended"] == 1
    years = {
        (r.code, c.fiscal_year): c
        for r in rows
        for c in ProjectState.model_validate(r.snapshot).cycles
    }
    cycle_states = Counter(c.state for c in years.values())
    # Finance's to-do: its own reviews only, each on a year that waits for it, every one.
    waits_for = {"goals_review": "goals_submitted", "review": "self_evaluated"}
    assert {i.kind for i in todo_finance} == set(waits_for)
    for item in todo_finance:
        assert years[(item.code, item.fiscal_year)].state == waits_for[item.kind]
    waiting = [c for c in years.values() if c.state in waits_for.values()]
    assert len(todo_finance) == len(waiting)
    for state in ("goals_drafted", "goals_submitted", "executing", "rectifying",
                  "self_evaluated", "results_applied"):  # fmt: skip
        assert cycle_states[state] >= 1, (state, cycle_states)
    assert {r.warning for r in rows} >= {"red", "yellow"}
    graded = {c.grade.value for c in years.values() if c.grade is not None}
    assert graded == {"excellent", "good", "fair", "poor"}
    assert any(c.review is not None and c.review.cut_percent for c in years.values())
    assert any(c.rectification is not None and c.rectification.accepted_at for c in years.values())
    assert len({r.department for r in rows}) == 3
    # Each department's overall performance year, at three stages (部门整体绩效).
    this_year = datetime.now(UTC).year
    assert department_years == {
        ("JYJ", this_year): "goals_approved",
        ("WJW", this_year): "goals_submitted",
        ("JTJ", this_year): "goals_drafted",
    }
    # JTJ's overall goals, still drafted, are on its clerk's to-do beside its projects' duties,
    # linked to the department year's page; no other department year owes anything now.
    owed = todo_jtj[("JTJ", "goals", this_year)]
    assert owed.department_year
    assert owed.href == f"/departments/JTJ/years/{this_year}"
    assert not owed.overdue
    assert [i for i in todo_jtj.values() if i.department_year] == [owed]
    assert not any(i.department_year for i in todo_finance)


async def _projected(engine: Engine, code: str, action: str) -> None:
    """Wait until the read model holds a history entry `action` of project `code`."""
    for _ in range(300):
        with Session(engine) as session:
            query = select(HistoryRow).where(HistoryRow.code == code, HistoryRow.action == action)
            if session.execute(query).first() is not None:
                return
        await asyncio.sleep(0.1)
    raise AssertionError(f"{code} never projected a {action!r} entry")
