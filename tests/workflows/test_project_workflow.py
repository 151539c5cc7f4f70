"""ProjectWorkflow on the time-skipping test server: multi-year lives in seconds."""

from __future__ import annotations

import pytest
from sqlmodel import Session, col, func, select
from temporalio.client import WorkflowUpdateFailedError
from temporalio.exceptions import ApplicationError
from temporalio.testing import WorkflowEnvironment

from models.project_state import ProjectState
from models.tables import CycleRow, HistoryRow, ProjectRow
from models.vocabulary import Grade
from tests import factories as f
from tests.support.temporal import closed_result
from tests.workflows import scenarios
from workflows import search_attributes as sa


async def _run_ids(env: WorkflowEnvironment, workflow_id: str, first_run: str) -> list[str]:
    """Every run of a workflow, following its continue-as-new chain."""
    runs, run_id = [first_run], first_run
    while True:
        history = await env.client.get_workflow_handle(workflow_id, run_id=run_id).fetch_history()
        last = history.events[-1]
        if not last.HasField("workflow_execution_continued_as_new_event_attributes"):
            return runs
        run_id = last.workflow_execution_continued_as_new_event_attributes.new_execution_run_id
        runs.append(run_id)


async def test_three_year_project_completes_across_continue_as_new(
    time_skipping_env: WorkflowEnvironment, sqlite_url: str
) -> None:
    """Filing to completion over three fiscal years, a fair year rectified, nothing lost."""
    env = time_skipping_env
    async with scenarios.running_worker(env.client, sqlite_url) as (task_queue, engine):
        s = await scenarios.three_year_project_with_a_fair_year(env, task_queue, "TS-3Y")
        final: ProjectState = await closed_result(env, s.handle)

        assert final.state == "completed"
        assert [c.grade for c in final.cycles] == [Grade.FAIR, Grade.GOOD, Grade.EXCELLENT]
        fair = final.cycles[0]
        assert fair.review is not None
        assert fair.review.cut_applies_to == final.cycles[2].fiscal_year
        assert fair.rectification is not None
        assert fair.rectification.accepted_at is not None
        assert final.cycles[2].approved_amount == 900_000
        assert len(final.cycles[0].monitoring) == 1
        # One run per fiscal year at least: each 1 January hands the state to a new run.
        assert len(await _run_ids(env, s.handle.id, s.handle.result_run_id or "")) >= 4
        seqs = [e.seq for e in final.history]
        assert seqs == list(range(1, len(seqs) + 1))  # nothing lost, nothing twice

        with Session(engine) as session:
            row = session.get(ProjectRow, "TS-3Y")
            assert row is not None
            assert row.state == "completed"
            assert row.seq == seqs[-1]
            history_rows = session.exec(
                select(func.count()).select_from(HistoryRow).where(col(HistoryRow.code) == "TS-3Y")
            ).one()
            assert history_rows == len(seqs)
            grades = session.exec(
                select(CycleRow.grade)
                .where(col(CycleRow.code) == "TS-3Y")
                .order_by(col(CycleRow.fiscal_year))
            ).all()
            assert grades == ["fair", "good", "excellent"]


async def test_two_poor_years_propose_exit(
    time_skipping_env: WorkflowEnvironment, sqlite_url: str
) -> None:
    """A second poor year in a row proposes exit; finance's exit ends the workflow."""
    env = time_skipping_env
    async with scenarios.running_worker(env.client, sqlite_url) as (task_queue, _engine):
        s = await scenarios.two_poor_years(env, task_queue, "TS-POOR")
        state: ProjectState = await s.handle.query("snapshot", result_type=ProjectState)
        assert state.exit_proposed
        assert [c.review.public_notice for c in state.cycles if c.review] == [True, True]
        description = await s.handle.describe()
        assert description.typed_search_attributes.get(sa.GRADE) == "poor"
        await s.act("exit", {"reason": "low_performance", "comment": "连续两年差"})
        final: ProjectState = await closed_result(env, s.handle)
        assert final.state == "exited"
        assert final.exit_reason == "low_performance"


async def test_rejected_action_changes_nothing(
    time_skipping_env: WorkflowEnvironment, sqlite_url: str
) -> None:
    """An illegal action is refused by the validator with every unmet guard and no history."""
    env = time_skipping_env
    async with scenarios.running_worker(env.client, sqlite_url) as (task_queue, _engine):
        s = await scenarios.start_project(env, task_queue, "TS-REJ")
        year = await scenarios.next_year(env)
        await s.act("submit")
        before = await s.handle.query("snapshot", result_type=ProjectState)
        with pytest.raises(WorkflowUpdateFailedError) as failed:
            await s.act("approve_budget", {"fiscal_year": year, "amount": 10})
        cause = failed.value.cause
        assert isinstance(cause, ApplicationError)
        assert cause.type == "ActionRejected"
        assert {"state", "goals_approved"} <= {u["guard"] for u in cause.details[0]["unmet"]}
        after = await s.handle.query("snapshot", result_type=ProjectState)
        assert after == before
        history = await s.handle.fetch_history()
        updates = [
            e
            for e in history.events
            if e.HasField("workflow_execution_update_accepted_event_attributes")
        ]
        assert len(updates) == 1  # only `submit`: a rejected update leaves no trace
        await s.act("submit_goals", f.goals(year))
