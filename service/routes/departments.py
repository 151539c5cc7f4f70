"""Departments: admins create and edit them; every signed-in user may read them."""

from __future__ import annotations

from datetime import datetime

from fastapi import APIRouter, status
from pydantic import BaseModel, ConfigDict

from models.tables import Department
from service import users
from service.deps import AdminUser, CurrentUser, SessionDep
from service.routes.users import user_problem

router = APIRouter(prefix="/api/departments", tags=["departments"])


class DepartmentCreate(BaseModel):
    model_config = ConfigDict(extra="forbid")

    code: str
    name: str | None = None  # defaults to the code
    head: str = ""  # 部门主要负责人


class DepartmentUpdate(BaseModel):
    """Only the fields present change; the code is the department's identity."""

    model_config = ConfigDict(extra="forbid")

    name: str | None = None
    head: str | None = None


class DepartmentPublic(BaseModel):
    code: str
    name: str
    head: str
    created_at: datetime

    @classmethod
    def of(cls, department: Department) -> DepartmentPublic:
        return cls.model_validate(department, from_attributes=True)


@router.post("", status_code=status.HTTP_201_CREATED)
def create_department(
    body: DepartmentCreate, session: SessionDep, _: AdminUser
) -> DepartmentPublic:
    """Create a department."""
    try:
        department = users.create_department(
            session=session, code=body.code, name=body.name, head=body.head
        )
    except users.UserError as error:
        raise user_problem(error) from None
    return DepartmentPublic.of(department)


@router.get("")
def list_departments(session: SessionDep, _: CurrentUser) -> list[DepartmentPublic]:
    """Every department, by code."""
    return [DepartmentPublic.of(d) for d in users.list_departments(session=session)]


@router.get("/{code}")
def get_department(code: str, session: SessionDep, _: CurrentUser) -> DepartmentPublic:
    """One department."""
    try:
        return DepartmentPublic.of(users.get_department(session=session, code=code))
    except users.UserError as error:
        raise user_problem(error) from None


@router.patch("/{code}")
def update_department(
    code: str, body: DepartmentUpdate, session: SessionDep, _: AdminUser
) -> DepartmentPublic:
    """Rename a department or change its head."""
    try:
        department = users.update_department(
            session=session, code=code, name=body.name, head=body.head
        )
    except users.UserError as error:
        raise user_problem(error) from None
    return DepartmentPublic.of(department)
