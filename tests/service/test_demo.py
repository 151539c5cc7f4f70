"""The demo district: seeded through the real workflows, it shows every kind of situation."""

from __future__ import annotations

import uuid
from collections import Counter
from concurrent.futures import ThreadPoolExecutor
from pathlib import Path

from sqlmodel import Session, select
from temporalio.testing import WorkflowEnvironment

from models.project_state import ProjectState
from models.tables import ProjectRow, User
from service import demo
from service.db import init_db
from service.settings import Settings
from service.users import authenticate
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
    assert not demo.should_seed(settings)  # a second start does not seed again
    with Session(engine) as session:
        rows = list(session.execute(select(ProjectRow)).scalars())
        for username, (role, department) in demo.USERS.items():
            assert any(username in line and passwords[username] in line for line in printed)
            user = authenticate(session=session, username=username, password=passwords[username])
            assert user is not None
            assert (user.role, user.department) == (role.value, department)
        assert len(list(session.execute(select(User)).scalars())) == len(demo.USERS)
    engine.dispose()
    assert len(rows) == 12
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
    for state in ("goals_drafted", "goals_submitted", "executing", "rectifying",
                  "self_evaluated", "results_applied"):  # fmt: skip
        assert cycle_states[state] >= 1, (state, cycle_states)
    assert {r.warning for r in rows} >= {"red", "yellow"}
    graded = {c.grade.value for c in years.values() if c.grade is not None}
    assert graded == {"excellent", "good", "fair", "poor"}
    assert any(c.review is not None and c.review.cut_percent for c in years.values())
    assert any(c.rectification is not None and c.rectification.accepted_at for c in years.values())
    assert len({r.department for r in rows}) == 3
