"""The fiscal calendar: everyone reads it; an admin replaces it (and running projects follow)."""

from __future__ import annotations

import asyncio

from fastapi import APIRouter
from pydantic import BaseModel

from models.calendar import FiscalCalendar
from models.vocabulary import Role
from service import calendar
from service.deps import CurrentUser, SessionDep, SettingsDep, TemporalClientDep, require_roles

router = APIRouter(prefix="/api/calendar", tags=["calendar"])


class CalendarChange(BaseModel):
    calendar: FiscalCalendar
    signalled: int  # running project workflows that re-timed their deadlines


@router.get("")
def get_calendar(_: CurrentUser, session: SessionDep, settings: SettingsDep) -> FiscalCalendar:
    """The calendar in force: due dates, thresholds, holidays and worked weekend days."""
    return calendar.current_calendar(session=session, settings=settings)


@router.put("")
async def put_calendar(
    body: FiscalCalendar,
    principal: CurrentUser,
    session: SessionDep,
    client: TemporalClientDep,
    _: object = require_roles(Role.ADMIN),
) -> CalendarChange:
    """Replace the calendar; every running project moves its deadline timers at once."""
    await asyncio.to_thread(
        calendar.save_calendar, session=session, calendar=body, actor=principal.username
    )
    signalled = await calendar.push_calendar(client=client, calendar=body)
    return CalendarChange(calendar=body, signalled=signalled)
