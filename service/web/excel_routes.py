"""Excel on the workbench: the goals template, goals imported from a sheet, the 绩效自评表."""

from __future__ import annotations

import asyncio
from datetime import UTC, datetime
from typing import Annotated
from urllib.parse import quote

from fastapi import APIRouter, Path, Request
from fastapi.responses import Response
from starlette.datastructures import UploadFile

from models.lifecycle import ACTIONS
from models.project_state import ProjectState
from service import excel, projects
from service.deps import SessionDep, SettingsDep, TemporalClientDep
from service.problems import Problem
from service.web.page_access import error_page, page_user, refuse_csrf
from service.web.routes import act_and_show, show_refusal
from service.web.session import CSRF_FIELD, csrf_valid

router = APIRouter(include_in_schema=False)

Year = Annotated[int, Path(ge=2000, le=2200)]


def _xlsx(data: bytes, filename: str) -> Response:
    # RFC 6266: a plain ASCII fallback name and the real (Chinese) one percent-encoded.
    return Response(
        data,
        media_type=excel.XLSX,
        headers={
            "Content-Disposition": f'attachment; filename="{filename.encode("ascii", "replace").decode()}"; '
            f"filename*=UTF-8''{quote(filename)}",
            "Cache-Control": "no-store",
        },
    )


@router.get("/excel/goals-template.xlsx")
async def goals_template(request: Request, session: SessionDep, settings: SettingsDep) -> Response:
    await page_user(request, session, settings)
    return _xlsx(excel.goals_template(), "goals-template.xlsx")


@router.post("/projects/{code}/goals/import")
async def import_goals(
    code: str,
    request: Request,
    session: SessionDep,
    settings: SettingsDep,
    client: TemporalClientDep,
) -> Response:
    """Read a 绩效目标申报表 and submit its goals for the year named in the form."""
    principal = await page_user(request, session, settings)
    async with request.form() as form:  # closes the uploaded file's spool at the end
        fields = {k: v for k, v in form.items() if isinstance(v, str)}
        upload = form.get("file")
        data = await upload.read() if isinstance(upload, UploadFile) else b""
    if any("\x00" in v for v in fields.values()):
        # The door lets this route's binary upload through unscanned (`service.app`).
        return error_page(request, settings, principal, 422, "error.nul")
    if not _csrf_ok(request, settings, fields):
        return refuse_csrf(request, settings, principal)
    try:
        await asyncio.to_thread(
            projects.visible_row, session=session, principal=principal, code=code
        )
    except Problem:
        return error_page(request, settings, principal, 404, "error.not_found")
    if principal.role is not ACTIONS["submit_goals"].role:
        return error_page(request, settings, principal, 403, "error.forbidden")

    def refused(errors: list[dict[str, str]]) -> dict[str, object]:
        return {
            "action": "submit_goals",
            "fiscal_year": fields.get("fiscal_year", ""),
            "status": 422,
            "unmet": [],
            "errors": errors,
            "detail": "",
            "form": fields,
        }

    try:
        amount, indicators = await asyncio.to_thread(excel.read_goals, data)
    except excel.SheetError as invalid:
        errors = [
            {"field": f"第 {e.row} 行 {e.column} 列（{e.heading}）", "reason": e.reason}
            if e.row
            else {"field": e.heading, "reason": e.reason}
            for e in invalid.errors
        ]
        return await show_refusal(
            request,
            session=session,
            settings=settings,
            principal=principal,
            code=code,
            outcome=refused(errors),
        )
    body = {
        "fiscal_year": fields.get("fiscal_year", ""),
        "requested_amount": str(amount),
        "indicators": indicators,
    }
    return await act_and_show(
        request,
        session=session,
        settings=settings,
        client=client,
        principal=principal,
        code=code,
        action="submit_goals",
        body=body,
        form=fields,
    )


def _csrf_ok(request: Request, settings: SettingsDep, fields: dict[str, str]) -> bool:
    return csrf_valid(request, settings, fields.get(CSRF_FIELD))


@router.get("/projects/{code}/self-evaluation/{year}.xlsx")
async def self_evaluation(
    code: str, year: Year, request: Request, session: SessionDep, settings: SettingsDep
) -> Response:
    principal = await page_user(request, session, settings)
    try:
        row = await asyncio.to_thread(
            projects.visible_row, session=session, principal=principal, code=code
        )
    except Problem:
        return error_page(request, settings, principal, 404, "error.not_found")
    data = excel.self_evaluation_sheet(ProjectState.model_validate(row.snapshot), year)
    if data is None:
        return error_page(request, settings, principal, 404, "error.not_found")
    stamp = datetime.now(UTC).strftime("%Y%m%d")
    return _xlsx(data, f"绩效自评表-{code}-{year}-{stamp}.xlsx")
