"""Rebuild the SQL read model from the workflows, the source of truth.

For a database restored from an old backup, a projection bug fixed after the fact, or a new
replica: each project's rows are replaced, in one transaction per project, by what its workflow
holds now (a query for a running workflow, the result for a finished one, which needs no
worker).
"""

from __future__ import annotations

import asyncio
from dataclasses import dataclass

from sqlalchemy import Engine, Table
from sqlmodel import Session, col, delete
from temporalio.client import Client, WorkflowExecutionStatus

from models.department_state import DepartmentYearState
from models.department_tables import DepartmentHistoryRow, DepartmentYearRow
from models.evaluator_tables import EvaluatorAssignmentRow
from models.project_state import ProjectState
from models.tables import CycleRow, HistoryRow, ProjectRow
from service import closed_transfers
from service.db import refresh_statistics
from service.department_projection import apply_department_snapshot
from service.projection import PROJECT_TABLES, apply_snapshot
from workflows.department import DepartmentYearWorkflow
from workflows.project import ProjectWorkflow

PROJECT_WORKFLOWS = 'WorkflowType="ProjectWorkflow"'


@dataclass(frozen=True)
class RebuildReport:
    projects: int
    history_entries: int


async def rebuild_projection(
    *, client: Client, engine: Engine, query: str | None = None
) -> RebuildReport:
    """Replace the projection of every project workflow matching `query` (all by default)."""
    visibility = PROJECT_WORKFLOWS + (f" AND ({query})" if query else "")
    seen: set[str] = set()
    projects = entries = 0
    async for execution in client.list_workflows(visibility):
        if execution.id in seen:
            continue  # visibility lists every run of a continued-as-new workflow
        seen.add(execution.id)
        state = await _current_state(client, execution.id)
        await asyncio.to_thread(_replace, engine, state)
        projects += 1
        entries += len(state.history)
    if projects:  # a bulk load: plan the next reads on what is there now
        await asyncio.to_thread(refresh_statistics, engine, PROJECT_TABLES)
    return RebuildReport(projects=projects, history_entries=entries)


async def _current_state(client: Client, workflow_id: str) -> ProjectState:
    handle = client.get_workflow_handle_for(ProjectWorkflow.run, workflow_id)
    description = await handle.describe()
    if description.status is WorkflowExecutionStatus.COMPLETED:
        return await handle.result()
    return await handle.query(ProjectWorkflow.snapshot)


def _replace(engine: Engine, state: ProjectState) -> None:
    code = state.info.code
    with Session(engine) as session:
        session.execute(delete(HistoryRow).where(col(HistoryRow.code) == code))
        session.execute(delete(CycleRow).where(col(CycleRow.code) == code))
        session.execute(
            delete(EvaluatorAssignmentRow).where(col(EvaluatorAssignmentRow.code) == code)
        )
        session.execute(delete(ProjectRow).where(col(ProjectRow.code) == code))
        apply_snapshot(
            session,
            project=state.model_copy(update={"history": []}),
            seq=state.seq,
            entries=state.history,
            notify=False,
        )
        # Leads transferred after the project closed are not in its workflow: chained again
        # after its history, in the order recorded, they hash as they did before.
        if closed_transfers.chain_unchained(session, code=code):
            session.commit()


DEPARTMENT_WORKFLOWS = 'WorkflowType="DepartmentYearWorkflow"'
DEPARTMENT_TABLES: tuple[Table, ...] = (
    DepartmentYearRow.__table__,  # type: ignore[attr-defined]
    DepartmentHistoryRow.__table__,  # type: ignore[attr-defined]
)


async def rebuild_department_years(
    *, client: Client, engine: Engine, query: str | None = None
) -> RebuildReport:
    """The same for every department-year workflow matching `query` (`projects` counts years)."""
    visibility = DEPARTMENT_WORKFLOWS + (f" AND ({query})" if query else "")
    seen: set[str] = set()
    years = entries = 0
    async for execution in client.list_workflows(visibility):
        if execution.id in seen:
            continue
        seen.add(execution.id)
        handle = client.get_workflow_handle_for(DepartmentYearWorkflow.run, execution.id)
        description = await handle.describe()
        if description.status is WorkflowExecutionStatus.COMPLETED:
            state = await handle.result()
        else:
            state = await handle.query(DepartmentYearWorkflow.snapshot)
        await asyncio.to_thread(_replace_department_year, engine, state)
        years += 1
        entries += len(state.history)
    if years:
        await asyncio.to_thread(refresh_statistics, engine, DEPARTMENT_TABLES)
    return RebuildReport(projects=years, history_entries=entries)


def _replace_department_year(engine: Engine, state: DepartmentYearState) -> None:
    department, fiscal_year = state.info.department, state.info.fiscal_year
    with Session(engine) as session:
        for table in (DepartmentHistoryRow, DepartmentYearRow):
            session.execute(
                delete(table).where(
                    col(table.department) == department, col(table.fiscal_year) == fiscal_year
                )
            )
        apply_department_snapshot(
            session,
            year=state.model_copy(update={"history": []}),
            seq=state.seq,
            entries=state.history,
            notify=False,
        )
