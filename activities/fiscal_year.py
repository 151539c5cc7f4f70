"""Activities of `FiscalYearWorkflow`: the calendar in force, the fan-out of its calls in
batches, and the publication of a year's evaluations.

A fan-out batch signals at most `limit` workflows (a few at a time, with heartbeats) and
returns where the next batch starts, so the workflow's history grows by a few events per
batch however many projects there are. A workflow that has closed meanwhile is skipped, never
an error: a fan-out is not held up by the life of any one project.
"""

from __future__ import annotations

import asyncio
from datetime import datetime
from enum import StrEnum
from typing import Annotated

from pydantic import BaseModel, Field
from sqlalchemy import Engine, select
from sqlmodel import Session, col
from temporalio import activity
from temporalio.service import RPCError, RPCStatusCode

from models.calendar import FiscalCalendar
from models.fiscal_notice import FISCAL_NOTICE_SIGNAL, FiscalNotice
from models.lifecycle import PROJECT_FINAL_STATES
from models.tables import ProjectRow
from service.calendar import current_calendar
from service.disclosure import release_year
from service.settings import Settings

CALENDAR_IN_FORCE = "fiscal_calendar_in_force"
SIGNAL_BATCH = "signal_fiscal_notice_batch"
RELEASE_DISCLOSURES = "release_disclosures"

DEPARTMENT_WORKFLOW_TYPE = "DepartmentYearWorkflow"
# Signals in flight at once within a batch: far inside the server's rate limits.
SIGNALS_AT_ONCE = 20


class Target(StrEnum):
    PROJECTS = "projects"  # open projects, paged from the SQL read model by code
    DEPARTMENTS = "departments"  # running department-year workflows, paged from visibility


class SignalBatchInput(BaseModel):
    notice: FiscalNotice
    target: Target
    cursor: str | None = None  # where this batch starts; None: at the beginning
    limit: Annotated[int, Field(ge=1, le=1000)] = 200


class SignalBatchResult(BaseModel):
    signalled: int
    skipped: int  # closed (or gone) meanwhile
    next_cursor: str | None  # None: this was the last batch


class ReleaseInput(BaseModel):
    fiscal_year: int
    at: datetime


class FiscalYearActivities:
    def __init__(self, engine: Engine, settings: Settings) -> None:
        self._engine = engine
        self._settings = settings

    @activity.defn(name=CALENDAR_IN_FORCE)
    def calendar_in_force(self) -> FiscalCalendar:
        with Session(self._engine) as session:
            return current_calendar(session=session, settings=self._settings)

    @activity.defn(name=RELEASE_DISCLOSURES)
    def release_disclosures(self, inp: ReleaseInput) -> None:
        with Session(self._engine) as session:
            release_year(session=session, fiscal_year=inp.fiscal_year, at=inp.at)

    @activity.defn(name=SIGNAL_BATCH)
    async def signal_batch(self, inp: SignalBatchInput) -> SignalBatchResult:
        if inp.target is Target.PROJECTS:
            codes = await asyncio.to_thread(self._open_projects, inp.cursor, inp.limit)
            ids = [f"project-{code}" for code in codes]
            next_cursor = codes[-1] if len(codes) == inp.limit else None
        else:
            ids, next_cursor = await self._department_workflows(inp.cursor, inp.limit)
        signalled = await _signal_all(ids, inp.notice)
        return SignalBatchResult(
            signalled=signalled, skipped=len(ids) - signalled, next_cursor=next_cursor
        )

    def _open_projects(self, after: str | None, limit: int) -> list[str]:
        query = select(col(ProjectRow.code)).where(
            col(ProjectRow.state).not_in(sorted(PROJECT_FINAL_STATES))
        )
        if after is not None:
            query = query.where(col(ProjectRow.code) > after)
        with Session(self._engine) as session:
            return list(
                session.execute(query.order_by(col(ProjectRow.code)).limit(limit)).scalars()
            )

    async def _department_workflows(
        self, cursor: str | None, limit: int
    ) -> tuple[list[str], str | None]:
        # Only this task queue's: another deployment (or test) sharing the namespace is not ours.
        query = (
            f'WorkflowType="{DEPARTMENT_WORKFLOW_TYPE}" AND ExecutionStatus="Running" '
            f'AND TaskQueue="{activity.info().task_queue}"'
        )
        pages = activity.client().list_workflows(
            query, page_size=limit, next_page_token=bytes.fromhex(cursor) if cursor else None
        )
        await pages.fetch_next_page()
        ids = [execution.id for execution in pages.current_page or ()]
        token = pages.next_page_token
        return ids, token.hex() if token else None


async def _signal_all(workflow_ids: list[str], notice: FiscalNotice) -> int:
    """Signal each workflow; how many took it. Heartbeats as it goes (a stuck batch is retried,
    and a repeated notice is recorded once by its receiver)."""
    client = activity.client()
    gate = asyncio.Semaphore(SIGNALS_AT_ONCE)
    done = 0

    async def signal(workflow_id: str) -> bool:
        nonlocal done
        async with gate:
            try:
                await client.get_workflow_handle(workflow_id).signal(FISCAL_NOTICE_SIGNAL, notice)
            except RPCError as error:
                if error.status is not RPCStatusCode.NOT_FOUND:
                    raise
                return False  # closed meanwhile: nothing left to call
            finally:
                done += 1
                activity.heartbeat(done)
            return True

    return sum(await asyncio.gather(*(signal(i) for i in workflow_ids)))
