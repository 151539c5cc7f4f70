"""The responsibility register (责任清单): finance, administrators and auditors read all of it;
a department reads its own."""

from __future__ import annotations

from typing import Annotated

from fastapi import APIRouter, Query

from models.vocabulary import Role
from service import responsibility
from service.deps import CurrentUser, SessionDep, SettingsDep
from service.problems import Problem

router = APIRouter(prefix="/api/responsibility", tags=["responsibility"])

READ_ALL = frozenset({Role.FINANCE, Role.ADMIN, Role.AUDITOR})


@router.get("")
def get_register(
    principal: CurrentUser,
    session: SessionDep,
    settings: SettingsDep,
    department: Annotated[str | None, Query(min_length=1, max_length=32)] = None,
    subject: Annotated[str | None, Query(min_length=1, max_length=100)] = None,
    year: Annotated[int | None, Query(ge=2000, le=2200)] = None,
    page: Annotated[int, Query(ge=1, le=100_000)] = 1,
    page_size: Annotated[int, Query(ge=1, le=500)] = 100,
) -> responsibility.Register:
    """Who decided what (every lifecycle decision with its reason), the 问责 records, major
    projects' owners' lifelong records, and leads transferred to discipline inspection.

    `subject`: a user name (decisions, transfers) or a person named in a record (an owner)."""
    if principal.role not in READ_ALL:
        if principal.role is not Role.DEPARTMENT or principal.department is None:
            raise Problem(
                status=403,
                title="Forbidden",
                detail="the register is for finance, administrators, auditors and departments",
            )
        if department is not None and department != principal.department:
            raise Problem(
                status=403,
                title="Forbidden",
                detail=f"a department reads its own register only ({principal.department})",
            )
        department = principal.department
    return responsibility.register(
        session=session,
        department=department,
        subject=subject,
        year=year,
        utc_offset_minutes=settings.rules.utc_offset_minutes,
        page=page,
        page_size=page_size,
    )
