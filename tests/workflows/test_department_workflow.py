"""DepartmentYearWorkflow on the time-skipping test server: a department's year end to end."""

from __future__ import annotations

import asyncio
import itertools
import uuid
from collections.abc import AsyncIterator
from decimal import Decimal

import pytest
from sqlmodel import Session, col, select
from temporalio.client import WorkflowUpdateFailedError
from temporalio.contrib.pydantic import pydantic_data_converter
from temporalio.exceptions import ApplicationError
from temporalio.testing import WorkflowEnvironment

from models.control_number import ControlNumber, Line
from models.department_state import DepartmentYearState
from models.department_tables import DepartmentHistoryRow, DepartmentYearRow
from models.fiscal_notice import FiscalNotice, FiscalPhase
from models.vocabulary import Grade, Role
from service.department_projection import verify_department_years
from service.temporal_client import add_search_attributes, test_server_path
from tests import department_factories as df
from tests.workflows import department_scenarios as ds
from tests.workflows import scenarios
from workflows.department import (
    DepartmentYearWorkflow,
    ReserveRequest,
    SettleRequest,
)
from workflows.search_attributes import ALL_KEYS

start = ds.start
_act = ds.act
_finish = ds.finish


@pytest.fixture(scope="module")
async def time_skipping_env() -> AsyncIterator[WorkflowEnvironment]:
    """A test server of this module's own: the session's shared clock (and its fiscal years,
    which stop at 2200) is none of these tests' business, nor theirs of it."""
    env = await WorkflowEnvironment.start_time_skipping(
        data_converter=pydantic_data_converter,
        test_server_existing_path=str(test_server_path()),
    )
    async with env:
        await add_search_attributes(env.client, ALL_KEYS)
        yield env


async def test_a_department_year_from_goals_to_review(
    time_skipping_env: WorkflowEnvironment, sqlite_url: str
) -> None:
    """Goals over six dimensions, budget, a fiscal notice, self-evaluation after the year,
    finance's review: the workflow ends reviewed and the read model holds all of it."""
    env = time_skipping_env
    department = f"DW{uuid.uuid4().hex[:6].upper()}"
    async with scenarios.running_worker(env.client, sqlite_url) as (task_queue, engine):
        handle, year = await start(env, task_queue, department)
        # No budget before the goals are approved: refused with every reason, nothing recorded.
        with pytest.raises(WorkflowUpdateFailedError) as refused:
            await _act(handle, "approve_department_budget", {"amount": 100})
        cause = refused.value.cause
        assert isinstance(cause, ApplicationError)
        assert cause.type == "ActionRejected"
        unmet = cause.details[0]["unmet"]
        assert [u["guard"] for u in unmet] == ["state", "overall_goals_approved"]
        assert "无目标不得批复部门预算" in unmet[1]["message_zh"]

        await _act(handle, "submit_goals", df.goals())
        await _act(handle, "approve_goals", {"comment": "同意"})
        await handle.signal(
            DepartmentYearWorkflow.fiscal_notice,
            FiscalNotice(
                phase=FiscalPhase.BUDGET_PREPARATION,
                fiscal_year=year,
                issued_at=await env.get_current_time(),
            ),
        )
        await _act(handle, "approve_department_budget", {"amount": 5_000_000})
        final = await _finish(env, handle)

        assert final.state == "reviewed"
        assert final.self_evaluation is not None
        assert (final.self_evaluation.score, final.self_evaluation.grade) == (
            Decimal(85),
            Grade.GOOD,
        )
        assert final.grade is Grade.GOOD
        assert [e.action for e in final.history] == [
            "submit_goals",
            "approve_goals",
            "fiscal_notice",
            "approve_department_budget",
            "submit_self_evaluation",
            "review_self_evaluation",
        ]
        assert [e.seq for e in final.history] == list(range(1, 7))
        assert final.history[0].actor == "clerk"
        assert final.history[1].actor == "officer"

        with Session(engine) as session:
            row = session.get(DepartmentYearRow, (department, year))
            assert row is not None
            assert (row.state, row.grade, row.seq) == ("reviewed", "good", 6)
            assert row.budget_amount == Decimal(5_000_000)
            history = session.exec(
                select(DepartmentHistoryRow)
                .where(col(DepartmentHistoryRow.department) == department)
                .order_by(col(DepartmentHistoryRow.seq))
            ).all()
            assert [h.action for h in history] == [e.action for e in final.history]
            assert history[2].detail["phase"] == "budget_preparation"
            assert all(h.prev_hash == p.hash for p, h in itertools.pairwise(history))
            assert verify_department_years(session, department=department).ok
            # Tamper-evident like the projects' trail: an altered row is named.
            history[3].detail = {**history[3].detail, "amount": "9000000"}
            session.add(history[3])
            session.commit()
            report = verify_department_years(session, department=department)
            assert [(b.code, b.seq, b.kind) for b in report.breaks] == [
                (f"department-{department}-{year}", 4, "altered")
            ]


async def test_concurrent_reservations_never_exceed_the_control_number(
    time_skipping_env: WorkflowEnvironment, sqlite_url: str
) -> None:
    """Two approvals of 600,000 against a ceiling of 1,000,000 at once: exactly one is held."""
    env = time_skipping_env
    department = f"DR{uuid.uuid4().hex[:6].upper()}"
    async with scenarios.running_worker(env.client, sqlite_url) as (task_queue, _engine):
        handle, year = await start(env, task_queue, department)
        number = ControlNumber(
            department=department,
            fiscal_year=year,
            results_year=year - 1,
            ceiling=Decimal(1_000_000),
            lines=[Line(kind="result", amount=Decimal(1_000_000), text="t", text_zh="t")],
        )
        await _act(handle, "set_control_number", {"control_number": number.model_dump(mode="json")})
        finance = ds.ACTORS[Role.FINANCE]
        asks = [
            handle.execute_update(
                DepartmentYearWorkflow.reserve,
                ReserveRequest(
                    reservation_id=f"P{i}",
                    project_code=f"P{i}",
                    amount=Decimal(600_000),
                    actor=finance,
                ),
            )
            for i in (1, 2)
        ]
        answers = await asyncio.gather(*asks)
        assert sorted(a.granted for a in answers) == [False, True]
        refused = next(a for a in answers if not a.granted)
        assert refused.reserved_before == Decimal(600_000)
        granted = next(a for a in answers if a.granted)
        assert await handle.execute_update(
            DepartmentYearWorkflow.settle_reservation,
            SettleRequest(reservation_id=granted.reservation_id, confirmed=True, actor=finance),
        )
        state: DepartmentYearState = await handle.query(DepartmentYearWorkflow.snapshot)
        assert state.reserved == Decimal(600_000)
        assert [r.status for r in state.reservations] == ["confirmed"]
        await _finish(env, handle)
