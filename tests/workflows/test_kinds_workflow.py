"""Special instruments on the time-skipping server: a PPP project paid by score over two years."""

from __future__ import annotations

from datetime import UTC, datetime
from decimal import Decimal

import pytest
from sqlmodel import Session, col, select
from temporalio.client import WorkflowUpdateFailedError
from temporalio.exceptions import ApplicationError
from temporalio.testing import WorkflowEnvironment

from models.engine import AllowedAction
from models.project_state import ProjectInfo, ProjectState
from models.rules import Rules
from models.tables import HistoryRow
from models.vocabulary import BudgetType, ProjectKind, Role
from tests import factories_kinds as fk
from tests.support.temporal import closed_result
from tests.workflows import scenarios
from workflows.project import ProjectWorkflow, ProjectWorkflowInput

GP, PPP = BudgetType.GENERAL_PUBLIC, ProjectKind.PPP


async def test_ppp_pays_two_periods_by_score(
    time_skipping_env: WorkflowEnvironment, sqlite_url: str
) -> None:
    """Year b reviewed at 75 pays 70 % of 1 200 000 (840 000), once only; year b+1 at 88 pays
    90 % of 1 000 000 (900 000); the project completes only after the last payment."""
    env = time_skipping_env
    async with scenarios.running_worker(env.client, sqlite_url) as (task_queue, engine):
        b = await scenarios.next_year(env)
        info = ProjectInfo(
            **fk.filing("TS-PPP", PPP, start_year=b, end_year=b + 1), department="D1"
        )
        state = ProjectState.filed(
            info, actor=scenarios.ACTORS[Role.DEPARTMENT], at=datetime.now(UTC)
        )
        handle = await env.client.start_workflow(
            ProjectWorkflow.run,
            ProjectWorkflowInput(project=state, rules=Rules()),
            id="project-TS-PPP",
            task_queue=task_queue,
        )
        s = scenarios.Scenario(env=env, handle=handle)

        await s.act("submit")
        for year, amount in ((b, 1_200_000), (b + 1, 1_000_000)):
            if year == b + 1:
                await s.until(b, 10)
            await s.act("submit_goals", fk.goals(year, GP, PPP, amount))
            await s.act("approve_goals", {"fiscal_year": year})
            await s.act("approve_budget", {"fiscal_year": year, "amount": amount})

        await s.until(b + 1, 3)
        await s.act("submit_self_evaluation", fk.self_evaluation(b, GP, PPP, executed=1_200_000))
        await s.act("review_self_evaluation", fk.review(b, "75"))  # 中: rectification too
        view = await handle.query(ProjectWorkflow.view)
        assert (
            AllowedAction(action="record_performance_payment", fiscal_year=b)
            in (view.allowed["finance"])
        )
        paid = await s.act("record_performance_payment", {"fiscal_year": b, "comment": "第一期"})
        assert paid.entries[-1].detail["amount"] == "840000.00"
        with pytest.raises(WorkflowUpdateFailedError) as twice:
            await s.act("record_performance_payment", {"fiscal_year": b})
        cause = twice.value.cause
        assert isinstance(cause, ApplicationError)
        assert [u["guard"] for u in cause.details[0]["unmet"]] == ["period_unpaid"]
        await s.act("submit_rectification", {"fiscal_year": b, "report": "运营整改报告"})
        await s.act("accept_rectification", {"fiscal_year": b, "comment": "整改到位"})

        await s.until(b + 2, 3)
        await s.act("submit_self_evaluation", fk.self_evaluation(b + 1, GP, PPP))
        await s.act("review_self_evaluation", fk.review(b + 1, "88"))
        assert (await s.state()).state == "active"  # last year's results applied, not paid
        await s.act("record_performance_payment", {"fiscal_year": b + 1, "comment": "第二期"})

        final: ProjectState = await closed_result(env, handle)
        assert final.state == "completed"
        payments = [c.performance_payment for c in final.cycles]
        assert [(p.score, p.band.payment_pct, p.amount) for p in payments if p] == [
            (Decimal(75), Decimal(70), Decimal("840000.00")),
            (Decimal(88), Decimal(90), Decimal("900000.00")),
        ]
        with Session(engine) as session:
            recorded = session.exec(
                select(HistoryRow.fiscal_year)
                .where(col(HistoryRow.code) == "TS-PPP")
                .where(col(HistoryRow.action) == "record_performance_payment")
                .order_by(col(HistoryRow.seq))
            ).all()
        assert recorded == [b, b + 1]
