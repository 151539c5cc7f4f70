"""The evaluation report of a project and year, as a page and as PDF (`service.report`)."""

from __future__ import annotations

import asyncio
from datetime import UTC, datetime
from typing import Annotated
from urllib.parse import quote

from fastapi import APIRouter, Path, Request
from fastapi.responses import Response

from models.project_state import ProjectState
from service import projects, report
from service.deps import SessionDep, SettingsDep
from service.problems import Problem
from service.web.page_access import error_page, page_user
from service.web.pages import render

router = APIRouter(include_in_schema=False)

Year = Annotated[int, Path(ge=2000, le=2200)]


async def _report(
    request: Request, session: SessionDep, settings: SettingsDep, code: str, year: int
) -> tuple[report.Report | None, Response | None]:
    principal = await page_user(request, session, settings)
    try:
        row = await asyncio.to_thread(
            projects.visible_row, session=session, principal=principal, code=code
        )
        built = report.build_report(
            ProjectState.model_validate(row.snapshot), year, now=datetime.now(UTC)
        )
    except (Problem, report.NoEvaluationError):
        return None, error_page(request, settings, principal, 404, "error.not_found")
    return built, None


# Declared before the HTML route: "/report/2026.pdf" must not be read as the year "2026.pdf".
@router.get("/projects/{code}/report/{year}.pdf")
async def report_pdf(
    code: str, year: Year, request: Request, session: SessionDep, settings: SettingsDep
) -> Response:
    built, refused = await _report(request, session, settings, code, year)
    if built is None:
        assert refused is not None  # noqa: S101  (one of the two is always set)
        return refused
    try:
        data = await asyncio.to_thread(report.report_pdf, built)
    except report.NoCjkFontError as missing:
        raise Problem(status=503, title="PDF unavailable", detail=str(missing)) from None
    name = f"绩效评价报告-{code}-{year}.pdf"
    return Response(
        data,
        media_type="application/pdf",
        headers={
            "Content-Disposition": f"inline; filename=\"report-{year}.pdf\"; filename*=UTF-8''{quote(name)}",
            "Cache-Control": "no-store",
        },
    )


@router.get("/projects/{code}/report/{year}")
async def report_page(
    code: str, year: Year, request: Request, session: SessionDep, settings: SettingsDep
) -> Response:
    built, refused = await _report(request, session, settings, code, year)
    if built is None:
        assert refused is not None  # noqa: S101  (one of the two is always set)
        return refused
    principal = await page_user(request, session, settings)
    return render(
        request,
        "report.html",
        settings=settings,
        principal=principal,
        report=built,
        code=code,
        year=year,
        plain=report.plain,
    )
