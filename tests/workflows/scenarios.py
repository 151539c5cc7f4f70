"""Whole project lives driven against a Temporal server, shared by tests and the history recorder.

A scenario talks to the workflow the way the API does (the `act` update, as the actor the
action needs) and moves the server's clock with `env.sleep`, which the time-skipping test
server turns into an instant jump.
"""

from __future__ import annotations

import contextlib
import uuid
from collections.abc import AsyncIterator
from concurrent.futures import ThreadPoolExecutor
from contextlib import asynccontextmanager
from dataclasses import dataclass
from datetime import UTC, datetime, timedelta
from typing import Any

from sqlalchemy import Engine
from sqlmodel import SQLModel
from temporalio.client import Client, WorkflowHandle
from temporalio.testing import WorkflowEnvironment

from models.lifecycle import ACTIONS
from models.project_state import Actor, HistoryEntry, ProjectFiling, ProjectInfo, ProjectState
from models.rules import Rules
from models.vocabulary import Grade, Role
from service.db import engine_for
from service.worker import build_worker
from tests import factories as f
from tests.support.started import LONGEST_TEST_SPAN, end_started
from workflows.project import (
    WRITE_THROUGH_SETTLE,
    ActOutcome,
    ActRequest,
    ProjectWorkflow,
    ProjectWorkflowInput,
)

ACTORS = {
    Role.DEPARTMENT: Actor(username="clerk", role=Role.DEPARTMENT, department="D1"),
    Role.FINANCE: Actor(username="officer", role=Role.FINANCE),
    Role.EVALUATOR: Actor(username="expert1", role=Role.EVALUATOR),
}


@asynccontextmanager
async def running_worker(
    client: Client,
    database_url: str,
    task_queue: str | None = None,
    *,
    cache: bool = True,
    end_workflows: bool = True,
) -> AsyncIterator[tuple[str, Engine]]:
    """A worker writing the projection to `database_url`, on a fresh task queue by default.

    On the way out, while the worker still runs, every workflow started on its task queue that
    is still open is ended with finance's `exit` (`tests.support.started`): one left running
    would push the shared time-skipping server's clock on by years at every later wait. With
    `end_workflows=False` they are left for a next worker on the same queue, unless the block
    failed: then no next worker is coming.
    """
    engine = engine_for(database_url)
    SQLModel.metadata.create_all(engine)
    task_queue = task_queue or f"test-{uuid.uuid4()}"
    with ThreadPoolExecutor(max_workers=4) as executor:
        async with build_worker(
            client,
            task_queue=task_queue,
            engine=engine,
            executor=executor,
            max_cached_workflows=1000 if cache else 0,
        ):
            try:
                yield task_queue, engine
            except BaseException:
                # The failure is the news; the autouse guard names any workflow still open.
                with contextlib.suppress(Exception):
                    await end_started(client, task_queue)
                raise
            if end_workflows:
                await end_started(client, task_queue)


@dataclass
class Scenario:
    env: WorkflowEnvironment
    handle: WorkflowHandle[Any, Any]

    async def act(self, action: str, body: dict[str, Any] | None = None) -> ActOutcome:
        request = ActRequest(action=action, payload=body or {}, actor=ACTORS[ACTIONS[action].role])
        result: ActOutcome = await self.handle.execute_update(ProjectWorkflow.act, request)
        return result

    async def until(self, year: int, month: int, day: int = 15) -> None:
        """Move the server clock to noon (UTC) of a business day."""
        target = datetime(year, month, day, 4, tzinfo=UTC)
        now = await self.env.get_current_time()
        if target > now:
            await self.env.sleep(target - now)

    async def at(self, when: datetime) -> None:
        """Move the server clock to an exact instant (no-op if it has passed)."""
        now = await self.env.get_current_time()
        if when > now:
            await self.env.sleep(when - now)

    async def settled(self) -> None:
        """Move the clock past the settle after an action, when the workflow publishes its
        search attributes and projects (workflows.project.WRITE_THROUGH_SETTLE)."""
        await self.env.sleep(WRITE_THROUGH_SETTLE + timedelta(seconds=1))

    async def state(self) -> ProjectState:
        result: ProjectState = await self.handle.query(ProjectWorkflow.snapshot)
        return result

    async def events(self, action: str, duty: str | None = None) -> list[HistoryEntry]:
        """History entries of one kind (e.g. "reminder"), optionally for one duty."""
        history = (await self.state()).history
        return [
            e
            for e in history
            if e.action == action and (duty is None or e.detail.get("duty") == duty)
        ]

    async def fund(self, year: int, amount: int = 1_000_000) -> None:
        await self.act("submit_goals", f.goals(year, amount))
        await self.act("approve_goals", {"fiscal_year": year})
        await self.act("approve_budget", {"fiscal_year": year, "amount": amount})

    async def evaluate(self, year: int, grade: Grade, executed: int = 1_000_000) -> None:
        await self.act("submit_self_evaluation", f.self_evaluation(year, grade, executed))
        await self.act("review_self_evaluation", {"fiscal_year": year, "comment": "审核意见"})


async def start_project(
    env: WorkflowEnvironment,
    task_queue: str,
    code: str,
    *,
    rollover_after_updates: int | None = None,
    refuse_updates_after: int | None = None,
    **filing: Any,
) -> Scenario:
    """`rollover_after_updates`: hand a run over after that many updates (ROLLOVER_PATCH)
    instead of the default, and refuse updates past `refuse_updates_after` (by default ten
    past it)."""
    limits = (
        {}
        if rollover_after_updates is None
        else {
            "rollover_after_updates": rollover_after_updates,
            "refuse_updates_after": refuse_updates_after or rollover_after_updates + 10,
        }
    )
    if "start" not in filing:
        filing["start"] = await next_year(env)
        filing["end"] = filing["start"] + 2
    info = ProjectInfo(**f.filing(code, **filing), department="D1")
    state = ProjectState.filed(info, actor=ACTORS[Role.DEPARTMENT], at=datetime.now(UTC))
    handle = await env.client.start_workflow(
        ProjectWorkflow.run,
        ProjectWorkflowInput(project=state, rules=Rules(), **limits),
        id=f"project-{code}",
        task_queue=task_queue,
        static_summary=f"{code} {info.name}",
    )
    return Scenario(env=env, handle=handle)


# The last year a filing may name, and the most years a scenario here runs past its first.
LAST_FILING_YEAR: int = ProjectFiling.model_json_schema()["properties"]["end_year"]["maximum"]
SCENARIO_YEARS = 4


async def next_year(env: WorkflowEnvironment) -> int:
    """The first fiscal year after the server's current one: scenarios are dated from it.

    A clock run so far that a scenario would cross the filing limit is named as such, rather
    than left to surface as a validation error of some filing deep in a scenario.
    """
    now = (await env.get_current_time()).astimezone(UTC)
    if now.year + 1 + SCENARIO_YEARS > LAST_FILING_YEAR:
        raise RuntimeError(
            f"the shared time-skipping server's clock is at {now:%Y-%m-%d}, too late for a "
            f"scenario of {SCENARIO_YEARS} years before {LAST_FILING_YEAR}: earlier tests ran "
            f"it away (tests.support.started fails any test moving it by more than "
            f"{LONGEST_TEST_SPAN.days} days, and names workflows left running)"
        )
    return now.year + 1


async def three_year_project_with_a_fair_year(
    env: WorkflowEnvironment, task_queue: str, code: str
) -> Scenario:
    """Three years (b..b+2) from filing to completion; year b is fair and goes through rectification."""
    b = await next_year(env)
    s = await start_project(env, task_queue, code, start=b, end=b + 2)
    await s.act("submit")
    await s.fund(b)
    await s.until(b, 5, 10)
    await s.act(
        "report_monitoring",
        {
            "fiscal_year": b,
            "period_end": f"{b}-04-30",
            "executed_amount": 300_000,
            "progress": [{"code": "O1", "actual": 30}],
        },
    )
    await s.until(b, 10)
    await s.fund(b + 1)
    await s.until(b + 1, 3)
    await s.evaluate(b, Grade.FAIR)
    await s.until(b + 1, 10)
    await s.act("submit_goals", f.goals(b + 2))
    await s.act("approve_goals", {"fiscal_year": b + 2})
    await s.act("approve_budget", {"fiscal_year": b + 2, "amount": 900_000})  # 10 % cut
    await s.act("submit_rectification", {"fiscal_year": b, "report": "整改报告"})
    await s.act("accept_rectification", {"fiscal_year": b, "comment": "整改到位"})
    await s.until(b + 2, 3)
    await s.evaluate(b + 1, Grade.GOOD)
    await s.until(b + 3, 3)
    await s.evaluate(b + 2, Grade.EXCELLENT, executed=900_000)
    return s


async def two_poor_years(env: WorkflowEnvironment, task_queue: str, code: str) -> Scenario:
    """Poor in two years in a row: the project is proposed for exit, and finance exits it."""
    b = await next_year(env)
    s = await start_project(env, task_queue, code, start=b, end=b + 3)
    await s.act("submit")
    await s.fund(b)
    await s.until(b, 10)
    await s.fund(b + 1)
    await s.until(b + 1, 3)
    await s.evaluate(b, Grade.POOR)
    await s.until(b + 2, 3)
    await s.evaluate(b + 1, Grade.POOR)
    return s


async def key_evaluated_poor(env: WorkflowEnvironment, task_queue: str, code: str) -> Scenario:
    """Self-evaluated 优, selected for finance key evaluation, evaluated 差 by the assigned
    expert: the key grade applies (rectification, 50 % cut, public notice)."""
    b = await next_year(env)
    s = await start_project(env, task_queue, code, start=b, end=b + 1)
    await s.act("submit")
    await s.fund(b)
    await s.until(b, 10)
    await s.fund(b + 1)
    await s.until(b + 1, 3)
    await s.act("submit_self_evaluation", f.self_evaluation(b, Grade.EXCELLENT))
    await s.act("select_for_key_evaluation", {"fiscal_year": b, "reasons": ["sample"], "seed": 1})
    await s.act(
        "assign_evaluators",
        {
            "fiscal_year": b,
            "evaluators": [
                {"expert_id": 7, "name": "李专家", "kind": "expert", "username": "expert1"}
            ],
            "draw": {"seed": 5, "eligible": [7, 9], "drawn": [7]},
        },
    )
    await s.until(b + 1, 5)
    await s.act(
        "submit_key_evaluation",
        {
            "fiscal_year": b,
            "scores": {"decision": 12, "process": 10, "output": 18, "effect": 10},
            "report": "重点评价报告",
        },
    )
    return s


async def rolling_over(env: WorkflowEnvironment, task_queue: str, code: str) -> Scenario:
    """Seven actions on a project whose runs hand over after three updates (ROLLOVER_PATCH):
    two runs or more, each after the first starting with what the one before had not projected."""
    s = await start_project(env, task_queue, code, rollover_after_updates=3)
    await s.act("submit")
    for i in range(6):
        await s.act("suspend_funding" if i % 2 == 0 else "resume_funding", {"reason": "测试"})
    return s
