"""Rendering: the Jinja2 environment of the workbench and the helpers its templates use."""

from __future__ import annotations

from datetime import date, datetime
from decimal import Decimal
from pathlib import Path
from typing import Any

from fastapi import Request
from fastapi.templating import Jinja2Templates
from markupsafe import Markup
from sqlalchemy import select
from sqlmodel import Session
from starlette.responses import HTMLResponse

from models.department_state import Dimension
from models.lifecycle import ACTIONS, CYCLE_STATES, PROJECT_STATES
from models.reason_text import reason_zh
from models.tables import Department
from service.auth import Principal
from service.db import engine_for
from service.settings import Settings
from service.web import charts, i18n
from service.web.forms import (
    ACHIEVEMENTS,
    ASSESSMENT_DIMENSIONS,
    MAX_DIMENSION_ROWS,
    MAX_INDICATOR_ROWS,
    department_form_for,
    form_for,
)
from service.web.session import CSRF_FIELD, LANG_COOKIE, csrf_token

HERE = Path(__file__).parent
templates = Jinja2Templates(directory=HERE / "templates")

# The main path through a fiscal year, in order; rectification is a detour drawn after it.
CYCLE_PATH = tuple(s for s in CYCLE_STATES if s not in ("rectifying", "rectification_submitted"))
RECTIFICATION_PATH = ("rectifying", "rectification_submitted")
PROJECT_PATH = ("filed", "under_assessment", "active", "completed")
PROJECT_DETOURS = ("suspended", "exited")


def lang_of(request: Request) -> i18n.Lang:
    chosen = request.cookies.get(LANG_COOKIE)
    return "en" if chosen == "en" else i18n.DEFAULT_LANG


def money(value: Decimal | float | int | None) -> str:
    if value is None:
        return "—"
    return f"{Decimal(value):,.2f}"


def percent(value: Decimal | float | None) -> str:
    if value is None:
        return "—"
    return f"{float(value):.1f}%"


def when(value: datetime | date | str | None) -> str:
    if value is None:
        return "—"
    if isinstance(value, str):
        value = datetime.fromisoformat(value)
    if isinstance(value, datetime):
        return value.astimezone().strftime("%Y-%m-%d %H:%M")
    return value.isoformat()


def department_names(settings: Settings) -> dict[str, str]:
    """Department code → name, read per page (departments are few and may be added any time)."""
    with Session(engine_for(settings.effective_database_url)) as session:
        return {d.code: d.name for d in session.execute(select(Department)).scalars()}


def render(
    request: Request,
    name: str,
    *,
    settings: Settings,
    principal: Principal | None,
    status_code: int = 200,
    **context: Any,
) -> HTMLResponse:
    lang = lang_of(request)
    names = department_names(settings)

    def t(key: str, **values: object) -> str:
        return i18n.message(key, lang, **values)

    def execution_svg(bars: list[charts.Bar]) -> Markup:
        return charts.execution_chart(
            bars,
            title=t("dash.execution"),
            value_name=t("chart.execution"),
            marker_name=t("chart.time"),
            warning_names=i18n.warning_names(lang),
        )

    return templates.TemplateResponse(
        request,
        name,
        {
            "lang": lang,
            "t": t,
            "state_name": lambda s: i18n.state_name(s, lang),
            "action_name": lambda a: i18n.action_name(a, lang),
            "grade_name": lambda g: i18n.grade_name(g, lang),
            "duty_name": lambda k: i18n.duty_name(k, lang),
            "dept_state_name": lambda s: i18n.department_state_name(s, lang),
            "dept_action_name": lambda a: i18n.department_action_name(a, lang),
            "dimension_name": lambda d: i18n.dimension_name(d, lang),
            "reason_text": lambda r: reason_zh(r) if lang == "zh" else r,
            "dept_name": lambda code: names.get(code, code) if code else "",
            "unmet_message": lambda u: u.get("message_zh") if lang == "zh" else u.get("message"),
            "execution_svg": execution_svg,
            "money": money,
            "percent": percent,
            "when": when,
            "me": principal,
            "csrf_field": CSRF_FIELD,
            "csrf": csrf_token(request, settings) if principal else "",
            "form_for": form_for,
            "department_form_for": department_form_for,
            "overall_dimensions": [d.value for d in Dimension],
            "dimension_indicator_rows": MAX_DIMENSION_ROWS,
            "actions": ACTIONS,
            "achievements": ACHIEVEMENTS,
            "dimensions": ASSESSMENT_DIMENSIONS,
            "indicator_rows": MAX_INDICATOR_ROWS,
            "cycle_path": CYCLE_PATH,
            "rectification_path": RECTIFICATION_PATH,
            "project_path": PROJECT_PATH,
            "project_detours": PROJECT_DETOURS,
            "project_states": PROJECT_STATES,
            "path": request.url.path,
            **context,
        },
        status_code=status_code,
        headers={"Cache-Control": "no-store"},
    )
