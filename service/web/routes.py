"""The workbench's pages: sign-in, the dashboard of each role, the project page and its forms.

Page routes stay out of the OpenAPI schema (they are HTML for people, not an API) but are in
the role matrix of tests/security like every route. A page asked for without a session
redirects to /login; a project another department owns is a 404 page, as in the API.
"""

from __future__ import annotations

import asyncio
import math
from collections.abc import Iterable
from datetime import UTC, datetime
from typing import Annotated, Any
from urllib.parse import quote

import structlog
from fastapi import APIRouter, Query, Request
from fastapi.responses import RedirectResponse, Response
from pydantic import ValidationError
from sqlmodel import Session

from models.engine_time import business_today
from models.lifecycle import CYCLE_STATES, PERSON_ACTIONS, PROJECT_STATES
from models.project_state import ProjectFiling, ProjectState
from models.vocabulary import BudgetType, Grade, ProjectKind, Role, WarningLevel
from service import calendar, projects, users
from service.auth import Principal
from service.deps import SessionDep, SettingsDep, TemporalClientDep
from service.problems import Problem, validation_errors
from service.routes.auth import get_login_throttle
from service.settings import Settings
from service.web import charts, dashboard, i18n
from service.web.forms import FormError, payload_from_form
from service.web.page_access import (
    error_page,
    form_fields,
    page_user,
    refuse_csrf,
)
from service.web.pages import lang_of, render
from service.web.session import (
    CSRF_FIELD,
    LANG_COOKIE,
    csrf_valid,
    end_session,
    login_csrf_valid,
    new_login_csrf,
    set_login_csrf,
    start_session,
)

router = APIRouter(include_in_schema=False)

log = structlog.get_logger(__name__)

PAGE_SIZE = 50


def _safe_next(value: str | None) -> str:
    """Only a local path: never send a user from our sign-in page to another site."""
    if value and value.startswith("/") and not value.startswith("//") and "\\" not in value:
        return value
    return "/"


def _see_other(path: str) -> RedirectResponse:
    return RedirectResponse(path, status_code=303)


# --- signing in and out, language ------------------------------------------------------------


def _login_page(
    request: Request,
    settings: Settings,
    next_path: str | None,
    *,
    error: str | None = None,
    status_code: int = 200,
) -> Response:
    token = new_login_csrf()
    page = render(
        request,
        "login.html",
        settings=settings,
        principal=None,
        next=_safe_next(next_path),
        login_csrf=token,
        error=error,
        status_code=status_code,
    )
    set_login_csrf(page, token, settings)
    return page


@router.get("/login")
def login_page(request: Request, settings: SettingsDep, next: str | None = None) -> Response:
    return _login_page(request, settings, next)


@router.post("/login")
async def login(request: Request, session: SessionDep, settings: SettingsDep) -> Response:
    form = await form_fields(request)
    lang = lang_of(request)
    next_path = form.get("next")

    def again(error: str, status_code: int) -> Response:
        return _login_page(request, settings, next_path, error=error, status_code=status_code)

    if not login_csrf_valid(request, form.get(CSRF_FIELD)):
        return again(i18n.message("login.expired", lang), 403)
    username, password = form.get("username", ""), form.get("password", "")
    throttle = get_login_throttle(request, settings)
    client = request.client.host if request.client else "unknown"
    wait = throttle.retry_after(username=username, client=client)
    if wait:
        return again(i18n.message("login.throttled", lang, seconds=wait), 429)
    user = await asyncio.to_thread(
        users.authenticate, session=session, username=username, password=password
    )
    if user is None:
        throttle.failed(username=username, client=client)
        log.info("web_sign_in_refused", username=username, client=client)
        return again(i18n.message("login.failed", lang), 401)
    throttle.succeeded(username=username)
    log.info("web_sign_in", username=user.username)
    response = _see_other(_safe_next(next_path))
    start_session(response, Principal.of(user), settings)
    return response


@router.post("/logout")
async def logout(request: Request, session: SessionDep, settings: SettingsDep) -> Response:
    principal = await page_user(request, session, settings)
    form = await form_fields(request)
    if not csrf_valid(request, settings, form.get(CSRF_FIELD)):
        return refuse_csrf(request, settings, principal)
    response = _see_other("/login")
    end_session(response)
    return response


@router.get("/lang/{lang}")
def switch_language(lang: i18n.Lang, next: str | None = None) -> Response:
    response = _see_other(_safe_next(next))
    response.set_cookie(LANG_COOKIE, lang, max_age=365 * 86400, samesite="lax", path="/")
    return response


# --- the dashboard ---------------------------------------------------------------------------


def _choice(value: str | None, allowed: Iterable[str]) -> str | None:
    """A filter as a form sends it: empty ("all") or not one of `allowed` is no filter."""
    return value if value and value in allowed else None


@router.get("/")
async def home(
    request: Request,
    session: SessionDep,
    settings: SettingsDep,
    state: str | None = None,
    department: str | None = None,
    warning: str | None = None,
    grade: str | None = None,
    fiscal_year: str | None = None,
    page: Annotated[int, Query(ge=1, le=100_000)] = 1,
) -> Response:
    principal = await page_user(request, session, settings)
    year = int(fiscal_year) if fiscal_year and fiscal_year.isdigit() else None
    context = await asyncio.to_thread(
        _dashboard,
        request,
        session,
        settings,
        principal,
        filters={
            "state": _choice(state, (*PROJECT_STATES, *CYCLE_STATES)),
            "department": department or None,
            "warning": _choice(warning, [w.value for w in WarningLevel]),
            "grade": _choice(grade, [g.value for g in Grade]),
            "fiscal_year": year if year is not None and 2000 <= year <= 2200 else None,
        },
        page=page,
    )
    return render(request, "dashboard.html", settings=settings, principal=principal, **context)


def _dashboard(
    request: Request,
    session: Session,
    settings: Settings,
    principal: Principal,
    *,
    filters: dict[str, Any],
    page: int,
) -> dict[str, Any]:
    lang = lang_of(request)
    now = datetime.now(UTC)
    rules = calendar.rules_in_force(session=session, settings=settings)
    today = business_today(now, rules)
    listing = projects.list_projects(
        session=session, principal=principal, page=page, page_size=PAGE_SIZE, **filters
    )
    year = filters["fiscal_year"] or today.year
    progress = dashboard.time_progress(today, year)
    bars = dashboard.execution_bars(session, [p.code for p in listing.items], year)
    grades = dashboard.grade_distribution(session, principal)
    counts = dashboard.state_counts(session, principal)
    grade_names = {g.value: i18n.grade_name(g.value, lang) for g in Grade}
    context: dict[str, Any] = {
        "filters": filters,
        "listing": listing,
        "pages": max(1, math.ceil(listing.total / PAGE_SIZE)),
        "year": year,
        "state_counts": counts,
        "warnings": dashboard.warning_counts(session, principal),
        "departments": dashboard.departments_seen(session, principal),
        "grades": grades,
        "execution_chart": charts.execution_chart(
            [charts.Bar(f"{b.code} {b.name}", b.rate, progress, b.warning) for b in bars],
            title=i18n.message("dash.execution", lang) + f" {year}",
            value_name=i18n.message("chart.execution", lang),
            marker_name=i18n.message("chart.time", lang),
            warning_names=i18n.warning_names(lang),
        )
        if bars
        else None,
        "grade_chart": charts.grade_chart(
            [(f"{d} {y}", counts) for (d, y), counts in grades.items()],
            title=i18n.message("dash.grades", lang),
            grade_names=grade_names,
        )
        if grades
        else None,
        "all_states": [s for s, _ in counts],
        "grade_values": [g.value for g in Grade],
    }
    if principal.role in (Role.DEPARTMENT, Role.FINANCE):
        context["todo"] = dashboard.todo(session, principal, now=now, rules=rules)
    if principal.role in projects.READ_ALL:
        context["overdue"] = dashboard.overdue_list(session, principal, now=now, rules=rules)
        context["cuts"] = dashboard.cuts(session, principal)
    return context


# --- filing ----------------------------------------------------------------------------------


@router.get("/projects/new")
async def new_project_page(
    request: Request, session: SessionDep, settings: SettingsDep
) -> Response:
    principal = await page_user(request, session, settings)
    if principal.role is not Role.DEPARTMENT:
        return error_page(request, settings, principal, 403, "error.forbidden")
    return render(
        request,
        "new_project.html",
        settings=settings,
        principal=principal,
        **_filing_choices(),
        values={},
    )


PAYMENT_BAND_ROWS = 5  # rows of the payment table offered by the filing form


def kind_fields(values: dict[str, str]) -> dict[str, Any]:
    """The filing's kind-specific fields from the form: only those filled in (the filing then
    says which its kind needs, or may not have, naming the field)."""
    found: dict[str, Any] = {}
    if values.get("management_fee"):
        found["management_fee"] = values["management_fee"]
    bands = [
        {"low": values.get(f"band_{i}_low", ""), "high": values.get(f"band_{i}_high", ""),
         "payment_pct": values.get(f"band_{i}_pct", "")}
        for i in range(PAYMENT_BAND_ROWS)
    ]  # fmt: skip
    filled = [b for b in bands if any(b.values())]  # blank rows are ignored
    if filled:
        found["payment_table"] = {"bands": filled}
    return found


def _filing_choices() -> dict[str, Any]:
    return {
        "kinds": [k.value for k in ProjectKind],
        "band_rows": PAYMENT_BAND_ROWS,
        "budget_types": [b.value for b in BudgetType],
        "this_year": datetime.now(UTC).year,
    }


@router.post("/projects")
async def file_project(
    request: Request,
    session: SessionDep,
    settings: SettingsDep,
    client: TemporalClientDep,
) -> Response:
    principal = await page_user(request, session, settings)
    form = await form_fields(request)
    if not csrf_valid(request, settings, form.get(CSRF_FIELD)):
        return refuse_csrf(request, settings, principal)
    if principal.role is not Role.DEPARTMENT:
        return error_page(request, settings, principal, 403, "error.forbidden")
    fields = (
        "code",
        "name",
        "kind",
        "budget_type",
        "start_year",
        "end_year",
        "total_amount",
        "owner",
    )
    values = {f: form.get(f, "").strip() for f in fields}
    kind_values = {
        key: form.get(key, "").strip()
        for key in ("management_fee", *(
            f"band_{i}_{part}" for i in range(PAYMENT_BAND_ROWS) for part in ("low", "high", "pct")
        ))
    }  # fmt: skip
    errors: list[dict[str, str]] = []
    try:
        filing = ProjectFiling.model_validate(
            {**values, "major": form.get("major") == "on", **kind_fields(kind_values)}
        )
        await projects.file_project(
            session=session, client=client, settings=settings, principal=principal, filing=filing
        )
    except ValidationError as invalid:
        errors = validation_errors(invalid.errors(include_input=False))
    except Problem as problem:
        errors = [{"field": "code", "reason": problem.detail}]
    if errors:
        return render(
            request,
            "new_project.html",
            settings=settings,
            principal=principal,
            status_code=422,
            errors=errors,
            values={**values, **kind_values, "major": form.get("major") == "on"},
            **_filing_choices(),
        )
    return _see_other(f"/projects/{quote(filing.code)}")


# --- the project page ------------------------------------------------------------------------


@router.get("/projects/{code}")
async def project_page(
    code: str,
    request: Request,
    session: SessionDep,
    settings: SettingsDep,
    done: str | None = None,
) -> Response:
    principal = await page_user(request, session, settings)
    try:
        context = await asyncio.to_thread(_project_context, session, settings, principal, code)
    except Problem as problem:
        if problem.status == 404:
            return error_page(request, settings, principal, 404, "error.not_found")
        raise
    return render(
        request,
        "project.html",
        settings=settings,
        principal=principal,
        done=done if done in PERSON_ACTIONS else None,
        **context,
    )


def _project_context(
    session: Session, settings: Settings, principal: Principal, code: str
) -> dict[str, Any]:
    row = projects.visible_row(session=session, principal=principal, code=code)
    rules = calendar.rules_in_force(session=session, settings=settings)
    now = datetime.now(UTC)
    detail = projects.project_detail(row, principal, now=now, rules=rules)
    state = ProjectState.model_validate(row.snapshot)
    history = projects.project_history(session=session, code=code)
    monitoring_charts = {}
    for cycle in state.cycles:
        if cycle.monitoring:
            monitoring_charts[cycle.fiscal_year] = [
                charts.Bar(
                    r.period_end.isoformat(),
                    float(r.execution_pct) / 100,
                    dashboard.time_progress(r.period_end, cycle.fiscal_year),
                    r.warning.value,
                )
                for r in cycle.monitoring
            ]
    return {
        "project": detail,
        "state": state,
        "history": list(reversed(history)),
        "monitoring_bars": monitoring_charts,
        "today": business_today(now, rules),
    }


@router.post("/projects/{code}/actions/{action}")
async def project_action(
    code: str,
    action: str,
    request: Request,
    session: SessionDep,
    settings: SettingsDep,
    client: TemporalClientDep,
) -> Response:
    principal = await page_user(request, session, settings)
    form = await form_fields(request)
    if not csrf_valid(request, settings, form.get(CSRF_FIELD)):
        return refuse_csrf(request, settings, principal)
    try:
        row = await asyncio.to_thread(
            projects.visible_row, session=session, principal=principal, code=code
        )
    except Problem:
        return error_page(request, settings, principal, 404, "error.not_found")
    if action not in PERSON_ACTIONS:
        return error_page(request, settings, principal, 404, "error.not_found")
    year = form.get("fiscal_year", "")
    project = ProjectState.model_validate(row.snapshot)
    cycle = project.cycle(int(year)) if year.isdigit() else None
    codes = [i.code for i in cycle.indicators] if cycle else []
    try:
        body = payload_from_form(action, form, codes=codes)
    except FormError as unreadable:
        return await show_refusal(
            request,
            session=session,
            settings=settings,
            principal=principal,
            code=code,
            outcome={
                "action": action,
                "fiscal_year": year,
                "status": 422,
                "unmet": [],
                "errors": [{"field": unreadable.field, "reason": unreadable.reason}],
                "detail": "",
                "form": form,
            },
        )
    return await act_and_show(
        request,
        session=session,
        settings=settings,
        client=client,
        principal=principal,
        code=code,
        action=action,
        body=body,
        form=form,
    )


async def act_and_show(
    request: Request,
    *,
    session: Session,
    settings: Settings,
    client: TemporalClientDep,
    principal: Principal,
    code: str,
    action: str,
    body: dict[str, Any],
    form: dict[str, Any],
) -> Response:
    """Take the action; back to the project page, which shows why if it was refused."""
    try:
        await projects.take_action(
            session=session,
            client=client,
            principal=principal,
            code=code,
            action=action,
            body=body,
            # A form resubmitted (reload, double click) carries the same key: applied once.
            idempotency_key=form.get("idempotency_key") or None,
            rules=None,  # read with the project row, in the same trip to a thread
            settings=settings,
        )
    except Problem as problem:
        log.info("web_action_refused", project_code=code, action=action, status=problem.status)
        return await show_refusal(
            request,
            session=session,
            settings=settings,
            principal=principal,
            code=code,
            outcome={
                "action": action,
                "fiscal_year": form.get("fiscal_year", ""),
                "status": problem.status,
                "unmet": problem.extra.get("unmet", []),
                "errors": problem.extra.get("errors", []),
                "detail": problem.detail,
                "form": form,
            },
        )
    return _see_other(f"/projects/{quote(code)}?done={action}")


async def show_refusal(
    request: Request,
    *,
    session: Session,
    settings: Settings,
    principal: Principal,
    code: str,
    outcome: dict[str, Any],
) -> Response:
    """The project page again, with what was wrong above it and the form as it was filled."""
    context = await asyncio.to_thread(_project_context, session, settings, principal, code)
    status = outcome["status"]
    return render(
        request,
        "project.html",
        settings=settings,
        principal=principal,
        status_code=status if status < 500 else 503,
        outcome=outcome,
        **context,
    )
