"""The fiscal calendar in force: read, replace, and push to every running project workflow.

New projects start with the calendar in force; running ones receive it by signal and move
their deadline timers without a restart.
"""

from __future__ import annotations

import asyncio
from datetime import UTC, datetime

from sqlalchemy import Table, select
from sqlmodel import Session
from temporalio.client import Client
from temporalio.service import RPCError

from models.calendar import FiscalCalendar
from models.rules import Rules
from models.tables import CalendarSetting
from service.settings import Settings

# The fiscal year's run times the zone's calls by the calendar too.
RUNNING_PROJECTS = (
    '(WorkflowType="ProjectWorkflow" OR WorkflowType="FiscalYearWorkflow") '
    'AND ExecutionStatus="Running"'
)
# Signals in flight at once while fanning out: far inside the server's rate limits.
FAN_OUT = 20


_SETTINGS: Table = CalendarSetting.__table__  # type: ignore[attr-defined]
# Read before every action and page that judges deadlines: a prebuilt Core statement of the
# one column (an ORM load of the row cost an action more than the query did).
_SAVED_CALENDAR = select(_SETTINGS.c.calendar).where(_SETTINGS.c.id == 1)


def current_calendar(*, session: Session, settings: Settings) -> FiscalCalendar:
    saved = session.connection().execute(_SAVED_CALENDAR).scalar()
    if saved is None:
        return settings.rules.calendar
    return FiscalCalendar.model_validate(saved)


def save_calendar(*, session: Session, calendar: FiscalCalendar, actor: str) -> None:
    row = session.get(CalendarSetting, 1)
    data = calendar.model_dump(mode="json")
    now = datetime.now(UTC)
    if row is None:
        session.add(CalendarSetting(id=1, calendar=data, updated_at=now, updated_by=actor))
    else:
        row.calendar, row.updated_at, row.updated_by = data, now, actor
    session.commit()


async def push_calendar(*, client: Client, calendar: FiscalCalendar) -> int:
    """Signal the calendar to every running project workflow; how many were signalled."""
    gate = asyncio.Semaphore(FAN_OUT)
    seen: set[str] = set()

    async def signal(workflow_id: str) -> bool:
        async with gate:
            try:
                await client.get_workflow_handle(workflow_id).signal(
                    "update_calendar",
                    calendar,  # the same signal on both workflow types
                )
            except RPCError:
                return False  # finished meanwhile: nothing left to re-time
            return True

    tasks = []
    async for execution in client.list_workflows(RUNNING_PROJECTS):
        if execution.id not in seen:
            seen.add(execution.id)
            tasks.append(asyncio.create_task(signal(execution.id)))
    return sum(await asyncio.gather(*tasks))


def rules_in_force(*, session: Session, settings: Settings) -> Rules:
    """The settings' rules with the calendar in force (the table's, when an admin set one)."""
    return settings.rules.model_copy(
        update={"calendar": current_calendar(session=session, settings=settings)}
    )
