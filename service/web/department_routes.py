"""The workbench's pages of department years (部门整体绩效) and the assessment (考核).

They read and act through `service.department_years`, the functions the JSON API uses: who
sees a year, which actions the caller may take now, the control number line by line, the
ranking. A department's users see only their own department (another's is a 404 page);
finance, admin and auditors see all of them.
"""

from __future__ import annotations

import asyncio
from datetime import UTC, datetime
from typing import Annotated, Any
from urllib.parse import quote

import structlog
from fastapi import APIRouter, Path, Query, Request
from fastapi.responses import RedirectResponse, Response
from sqlalchemy import select
from sqlmodel import Session, col

from models.department_lifecycle import ACTIONS as DEPARTMENT_ACTIONS
from models.department_lifecycle import STATES as DEPARTMENT_STATES
from models.department_state import DepartmentYearState
from models.engine_time import business_today
from models.tables import Department
from models.vocabulary import Role
from service import calendar
from service import department_years as dy
from service.auth import Principal
from service.deps import SessionDep, SettingsDep, TemporalClientDep
from service.problems import Problem
from service.settings import Settings
from service.web.forms import FormError, department_payload_from_form
from service.web.page_access import error_page, form_fields, page_user, refuse_csrf
from service.web.pages import render
from service.web.session import CSRF_FIELD, csrf_valid

router = APIRouter(include_in_schema=False)

log = structlog.get_logger(__name__)

Year = Annotated[int, Path(ge=2000, le=2200)]


def _see_other(path: str) -> RedirectResponse:
    return RedirectResponse(path, status_code=303)


def _year_path(code: str, year: int) -> str:
    return f"/departments/{quote(code)}/years/{year}"


# --- the list of departments' years and the assessment ----------------------------------------


@router.get("/departments")
async def departments_page(
    request: Request,
    session: SessionDep,
    settings: SettingsDep,
    year: Annotated[int | None, Query(ge=2000, le=2200)] = None,
) -> Response:
    principal = await page_user(request, session, settings)
    if principal.role not in dy.READ_ALL and principal.role is not Role.DEPARTMENT:
        return error_page(request, settings, principal, 403, "error.forbidden")
    context = await asyncio.to_thread(_departments_context, session, settings, principal, year)
    return render(request, "departments.html", settings=settings, principal=principal, **context)


def _departments_context(
    session: Session, settings: Settings, principal: Principal, year: int | None
) -> dict[str, Any]:
    rules = calendar.rules_in_force(session=session, settings=settings)
    this_year = business_today(datetime.now(UTC), rules).year
    if principal.role is Role.DEPARTMENT:
        codes = [principal.department] if principal.department else []
    else:
        departments = session.execute(select(Department).order_by(col(Department.code)))
        codes = [d.code for d in departments.scalars()]
    years = {code: dy.list_years(session=session, principal=principal, code=code) for code in codes}
    shown = year or this_year
    ranking = (
        dy.assessment(session=session, fiscal_year=shown, rules=rules).ranking
        if principal.role in dy.READ_ALL
        else None
    )
    return {
        "years": years,
        "next_year": {
            code: (max(y.fiscal_year for y in found) + 1) if found else this_year
            for code, found in years.items()
        },
        "may_open": {code: dy.may_act(principal, code) for code in codes},
        "assessment_year": shown,
        "ranking": ranking,
    }


@router.post("/departments/{code}/years")
async def open_year_page(
    code: str,
    request: Request,
    session: SessionDep,
    settings: SettingsDep,
    client: TemporalClientDep,
) -> Response:
    """Open the department's year from the list (the API's `POST .../years`), then show it."""
    principal = await page_user(request, session, settings)
    form = await form_fields(request)
    if not csrf_valid(request, settings, form.get(CSRF_FIELD)):
        return refuse_csrf(request, settings, principal)
    year = form.get("fiscal_year", "")
    try:
        body = dy.OpenYear.model_validate({"fiscal_year": year})
        rules = await asyncio.to_thread(calendar.rules_in_force, session=session, settings=settings)
        await dy.open_year(
            session=session,
            client=client,
            settings=settings,
            principal=principal,
            code=code,
            fiscal_year=body.fiscal_year,
            rules=rules,
        )
    except ValueError:
        return error_page(request, settings, principal, 422, "dy.bad_year")
    except Problem as problem:
        return _problem_page(request, settings, principal, problem)
    return _see_other(_year_path(code, body.fiscal_year))


def _problem_page(
    request: Request, settings: Settings, principal: Principal, problem: Problem
) -> Response:
    key = {403: "error.forbidden", 404: "dy.not_found"}.get(problem.status)
    if key is not None:
        return error_page(request, settings, principal, problem.status, key)
    return render(
        request,
        "error.html",
        settings=settings,
        principal=principal,
        status_code=problem.status if problem.status < 500 else 503,
        message=problem.detail,
    )


# --- one department year -----------------------------------------------------------------------


@router.get("/departments/{code}/years/{year}")
async def department_year_page(
    code: str,
    year: Year,
    request: Request,
    session: SessionDep,
    settings: SettingsDep,
    done: str | None = None,
) -> Response:
    principal = await page_user(request, session, settings)
    try:
        context = await asyncio.to_thread(_year_context, session, settings, principal, code, year)
    except Problem as problem:
        if problem.status == 404:
            return error_page(request, settings, principal, 404, "dy.not_found")
        raise
    return render(
        request,
        "department_year.html",
        settings=settings,
        principal=principal,
        done=done if done in DEPARTMENT_ACTIONS else None,
        **context,
    )


def _year_context(
    session: Session, settings: Settings, principal: Principal, code: str, year: int
) -> dict[str, Any]:
    row = dy.visible_year(session=session, principal=principal, code=code, fiscal_year=year)
    rules = calendar.rules_in_force(session=session, settings=settings)
    return {
        "year": dy.year_detail(row, principal, now=datetime.now(UTC), rules=rules),
        "state": DepartmentYearState.model_validate(row.snapshot),
        "control": dy.explain_control_number(
            session=session, principal=principal, code=code, fiscal_year=year, rules=rules
        ),
        "history": list(
            reversed(
                dy.year_history(session=session, principal=principal, code=code, fiscal_year=year)
            )
        ),
        "department_path": DEPARTMENT_STATES,
    }


@router.post("/departments/{code}/years/{year}/actions/{action}")
async def department_action(
    code: str,
    year: Year,
    action: str,
    request: Request,
    session: SessionDep,
    settings: SettingsDep,
    client: TemporalClientDep,
) -> Response:
    """Take an action from its form; refused, the year page again with the reasons on top."""
    principal = await page_user(request, session, settings)
    form = await form_fields(request)
    if not csrf_valid(request, settings, form.get(CSRF_FIELD)):
        return refuse_csrf(request, settings, principal)
    if action not in DEPARTMENT_ACTIONS:
        return error_page(request, settings, principal, 404, "dy.not_found")
    outcome: dict[str, Any] = {"action": action, "form": form, "unmet": [], "errors": []}
    rules = await asyncio.to_thread(calendar.rules_in_force, session=session, settings=settings)
    key = form.get("idempotency_key") or None
    try:
        if action == "set_control_number":  # computed by finance from the read model, no body
            await dy.set_control_number(
                session=session,
                client=client,
                principal=principal,
                code=code,
                fiscal_year=year,
                idempotency_key=key,
                rules=rules,
            )
        else:
            await dy.take_department_action(
                session=session,
                client=client,
                principal=principal,
                code=code,
                fiscal_year=year,
                action=action,
                body=department_payload_from_form(action, form),
                idempotency_key=key,
                rules=rules,
            )
    except FormError as unreadable:
        outcome.update(
            status=422, errors=[{"field": unreadable.field, "reason": unreadable.reason}]
        )
    except Problem as problem:
        if problem.status == 404:
            return error_page(request, settings, principal, 404, "dy.not_found")
        log.info("web_department_action_refused", department=code, action=action)
        outcome.update(
            status=problem.status,
            unmet=problem.extra.get("unmet", []),
            errors=problem.extra.get("errors", []),
            detail=problem.detail,
        )
    else:
        return _see_other(f"{_year_path(code, year)}?done={action}")
    context = await asyncio.to_thread(_year_context, session, settings, principal, code, year)
    status = outcome["status"]
    return render(
        request,
        "department_year.html",
        settings=settings,
        principal=principal,
        status_code=status if status < 500 else 503,
        outcome=outcome,
        **context,
    )
