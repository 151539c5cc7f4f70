"""A finance key evaluation on the time-skipping server: its grade, not the self-evaluation's,
decides the applied result, and only the assigned evaluator may submit it."""

from __future__ import annotations

from decimal import Decimal

import pytest
from sqlmodel import Session, col, select
from temporalio.client import WorkflowUpdateFailedError
from temporalio.exceptions import ApplicationError
from temporalio.testing import WorkflowEnvironment

from models.project_state import Actor, ProjectState
from models.tables import CycleRow
from models.vocabulary import Grade, Role
from tests import factories as f
from tests.support.temporal import closed_result
from tests.workflows import scenarios
from workflows import search_attributes as sa
from workflows.project import ActRequest, ProjectWorkflow

EXPERT = {"expert_id": 7, "name": "李专家", "kind": "expert", "username": "expert1"}
POOR = {"decision": 12, "process": 10, "output": 18, "effect": 10}  # 50 → 差


async def test_key_evaluation_grade_overrides_the_self_evaluation(
    time_skipping_env: WorkflowEnvironment, sqlite_url: str
) -> None:
    """Self-evaluated 优, key-evaluated 差 by the assigned expert: rectification, public
    notice and a 50 % cut of the next open budget, in the workflow and in the read model."""
    env = time_skipping_env
    async with scenarios.running_worker(env.client, sqlite_url) as (task_queue, engine):
        b = await scenarios.next_year(env)
        s = await scenarios.start_project(env, task_queue, "TS-KEY", start=b, end=b + 2)
        await s.act("submit")
        await s.fund(b)
        await s.until(b, 10)
        await s.fund(b + 1)
        await s.until(b + 1, 3)
        await s.act("submit_self_evaluation", f.self_evaluation(b, Grade.EXCELLENT))
        await s.act(
            "select_for_key_evaluation", {"fiscal_year": b, "reasons": ["sample"], "seed": 11}
        )
        draw = {"seed": 5, "speciality": "交通", "eligible": [7, 9], "drawn": [7]}
        await s.act(
            "assign_evaluators",
            {"fiscal_year": b, "evaluators": [EXPERT], "draw": draw, "departments": ["D2"]},
        )
        stranger = ActRequest(
            action="submit_key_evaluation",
            payload={"fiscal_year": b, "scores": POOR, "report": "报告"},
            actor=Actor(username="expert2", role=Role.EVALUATOR),
        )
        with pytest.raises(WorkflowUpdateFailedError) as refused:
            await s.handle.execute_update(ProjectWorkflow.act, stranger)
        cause = refused.value.cause
        assert isinstance(cause, ApplicationError)
        assert [u["guard"] for u in cause.details[0]["unmet"]] == ["assigned_evaluator"]

        await s.until(b + 1, 5)
        outcome = await s.act(
            "submit_key_evaluation", {"fiscal_year": b, "scores": POOR, "report": "重点评价报告"}
        )
        cycle = outcome.project.cycle(b)
        assert cycle is not None
        assert cycle.state == "rectifying"
        assert (cycle.grade, cycle.score) == (Grade.POOR, Decimal(50))
        record = cycle.key_evaluation_record
        assert record is not None
        assert record.draw is not None
        assert record.draw.drawn == [7]
        assert (record.cut_percent, record.cut_applies_to, record.public_notice) == (
            Decimal(50),
            b + 2,
            True,
        )
        assert record.submitted_by == "expert1"

        await s.until(b + 1, 10)
        await s.act("submit_goals", f.goals(b + 2))
        await s.act("approve_goals", {"fiscal_year": b + 2})
        with pytest.raises(WorkflowUpdateFailedError) as too_much:
            await s.act("approve_budget", {"fiscal_year": b + 2, "amount": 1_000_000})
        assert isinstance(too_much.value.cause, ApplicationError)
        assert "amount_within_request" in str(too_much.value.cause.details[0]["unmet"])
        await s.act("approve_budget", {"fiscal_year": b + 2, "amount": 500_000})

        state = await s.handle.query("snapshot", result_type=ProjectState)
        actions = [e.action for e in state.history]
        assert actions.index("select_for_key_evaluation") < actions.index("assign_evaluators")
        description = await s.handle.describe()
        assert description.typed_search_attributes.get(sa.GRADE) == "poor"
        await s.act("exit", {"reason": "cancelled", "comment": "测试结束"})
        await closed_result(env, s.handle)
        with Session(engine) as session:
            row = session.exec(
                select(CycleRow).where(
                    col(CycleRow.code) == "TS-KEY", col(CycleRow.fiscal_year) == b
                )
            ).one()
            assert (row.state, row.grade, row.score) == ("rectifying", "poor", Decimal(50))
