"""Department years (部门整体绩效), control numbers (预算控制数) and the assessment (考核)."""

from __future__ import annotations

import asyncio
from datetime import UTC, datetime
from typing import Annotated, Any

from fastapi import APIRouter, Body, Path, status

from models.vocabulary import Role
from service import calendar
from service import department_years as dy
from service.deps import CurrentUser, SessionDep, SettingsDep, TemporalClientDep, require_roles
from service.routes.projects import IdempotencyKey

router = APIRouter(prefix="/api/departments", tags=["department years"])

Year = Annotated[int, Path(ge=2000, le=2200)]
FINANCE = require_roles(Role.FINANCE)
ASSESSORS = require_roles(Role.FINANCE, Role.ADMIN, Role.AUDITOR)


@router.get("/assessment/{year}", dependencies=[ASSESSORS])
def get_assessment(year: Year, session: SessionDep, settings: SettingsDep) -> dy.AssessmentView:
    """考核: every department's performance-management work rated and ranked, laggards marked."""
    rules = calendar.rules_in_force(session=session, settings=settings)
    return dy.assessment(session=session, fiscal_year=year, rules=rules)


@router.post("/assessment/{year}/notices", dependencies=[FINANCE])
async def send_assessment_notices(
    year: Year,
    principal: CurrentUser,
    session: SessionDep,
    client: TemporalClientDep,
    settings: SettingsDep,
) -> dy.NoticesSent:
    """Notify each laggard's staff and head through the outbox (a history entry of its year)."""
    rules = await asyncio.to_thread(calendar.rules_in_force, session=session, settings=settings)
    return await dy.send_notices(
        session=session,
        client=client,
        settings=settings,
        principal=principal,
        fiscal_year=year,
        rules=rules,
    )


@router.get("/{code}/control-numbers/{year}")
def get_control_number(
    code: str, year: Year, principal: CurrentUser, session: SessionDep, settings: SettingsDep
) -> dy.ControlNumberView:
    """The department's project budget ceiling for `year`, line by line (recorded or preview)."""
    rules = calendar.rules_in_force(session=session, settings=settings)
    return dy.explain_control_number(
        session=session, principal=principal, code=code, fiscal_year=year, rules=rules
    )


@router.post("/{code}/control-numbers/{year}", dependencies=[FINANCE])
async def set_control_number(
    code: str,
    year: Year,
    principal: CurrentUser,
    session: SessionDep,
    client: TemporalClientDep,
    settings: SettingsDep,
    idempotency_key: IdempotencyKey = None,
) -> dy.ControlNumberView:
    """Finance computes the control number from year−1's results and records it in the year."""
    rules = await asyncio.to_thread(calendar.rules_in_force, session=session, settings=settings)
    return await dy.set_control_number(
        session=session,
        client=client,
        principal=principal,
        code=code,
        fiscal_year=year,
        idempotency_key=idempotency_key,
        rules=rules,
    )


@router.post("/{code}/years", status_code=status.HTTP_201_CREATED)
async def open_year(
    code: str,
    body: dy.OpenYear,
    principal: CurrentUser,
    session: SessionDep,
    client: TemporalClientDep,
    settings: SettingsDep,
) -> dy.DepartmentYearDetail:
    """Open the department's year (finance or the department): its overall goals start drafted."""
    rules = await asyncio.to_thread(calendar.rules_in_force, session=session, settings=settings)
    return await dy.open_year(
        session=session,
        client=client,
        settings=settings,
        principal=principal,
        code=code,
        fiscal_year=body.fiscal_year,
        rules=rules,
    )


@router.get("/{code}/years")
def list_years(
    code: str, principal: CurrentUser, session: SessionDep
) -> list[dy.DepartmentYearSummary]:
    """The department's years, oldest first."""
    return dy.list_years(session=session, principal=principal, code=code)


@router.get("/{code}/years/{year}")
def get_year(
    code: str, year: Year, principal: CurrentUser, session: SessionDep, settings: SettingsDep
) -> dy.DepartmentYearDetail:
    """One department year: goals, budget, evaluation, control number, what the caller may do."""
    row = dy.visible_year(session=session, principal=principal, code=code, fiscal_year=year)
    rules = calendar.rules_in_force(session=session, settings=settings)
    return dy.year_detail(row, principal, now=datetime.now(UTC), rules=rules)


@router.post("/{code}/years/{year}/actions/{action}")
async def take_action(
    code: str,
    year: Year,
    action: str,
    principal: CurrentUser,
    session: SessionDep,
    client: TemporalClientDep,
    settings: SettingsDep,
    idempotency_key: IdempotencyKey = None,
    body: Annotated[dict[str, Any] | None, Body()] = None,
) -> dy.DepartmentYearDetail:
    """Take an action on the department year; 409 lists every unmet precondition."""
    rules = await asyncio.to_thread(calendar.rules_in_force, session=session, settings=settings)
    return await dy.take_department_action(
        session=session,
        client=client,
        principal=principal,
        code=code,
        fiscal_year=year,
        action=action,
        body=body,
        idempotency_key=idempotency_key,
        rules=rules,
    )


@router.get("/{code}/years/{year}/history")
def get_history(
    code: str, year: Year, principal: CurrentUser, session: SessionDep
) -> list[dy.DepartmentHistoryView]:
    """Every accepted action and notice of the department year, in order, with who took it."""
    return dy.year_history(session=session, principal=principal, code=code, fiscal_year=year)
