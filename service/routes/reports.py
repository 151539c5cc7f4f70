"""Reports for finance, administrators and auditors."""

from __future__ import annotations

from typing import Annotated

from fastapi import APIRouter, Path

from models.vocabulary import Role
from models.zone_report import ZoneReport
from service.deps import SessionDep, SettingsDep, require_roles
from service.reports import zone_report_of

router = APIRouter(prefix="/api/reports", tags=["reports"])


@router.get("/zone/{year}", dependencies=[require_roles(Role.FINANCE, Role.ADMIN, Role.AUDITOR)])
def zone_year_report(
    year: Annotated[int, Path(ge=2000, le=2200)], session: SessionDep, settings: SettingsDep
) -> ZoneReport:
    """The zone's fiscal year: spending (approved vs executed), grades by department and by
    budget type, cuts, rectifications and exits."""
    return zone_report_of(
        session=session, fiscal_year=year, utc_offset_minutes=settings.rules.utc_offset_minutes
    )
