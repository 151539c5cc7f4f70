"""SQLModel tables: reference data (departments, users) and the read model of the projects.

The project tables are a projection of the workflows (the source of truth): each row carries
the history seq it reflects, so writes are idempotent and never move a row backwards.
"""

from __future__ import annotations

from datetime import datetime
from decimal import Decimal
from typing import Any

from sqlalchemy import JSON, Column, Index, Numeric
from sqlmodel import Field, SQLModel


class Department(SQLModel, table=True):
    code: str = Field(primary_key=True, max_length=32)
    name: str = Field(max_length=200)
    head: str = Field(default="", max_length=100)  # 部门主要负责人
    created_at: datetime


class User(SQLModel, table=True):
    username: str = Field(primary_key=True, max_length=64)
    password_hash: str = Field(max_length=256)
    role: str = Field(max_length=16)
    department: str | None = Field(default=None, foreign_key="department.code", max_length=32)
    active: bool = True
    created_at: datetime


class ProjectRow(SQLModel, table=True):
    __tablename__ = "project"
    __table_args__ = (Index("ix_project_department_state", "department", "state"),)

    code: str = Field(primary_key=True, max_length=32)
    name: str = Field(max_length=200)
    kind: str = Field(max_length=16)
    budget_type: str = Field(max_length=32, index=True)
    department: str = Field(max_length=32, index=True)
    major: bool
    owner: str = Field(max_length=100)
    start_year: int
    end_year: int
    total_amount: Decimal = Field(sa_column=Column(Numeric(20, 2), nullable=False))
    state: str = Field(max_length=32, index=True)
    warning: str = Field(max_length=16, index=True)  # highest warning among open years
    grade: str | None = Field(default=None, max_length=16, index=True)  # latest graded year
    exit_proposed: bool = False
    seq: int  # the history seq this row reflects
    updated_at: datetime
    # The whole state (without history) for detail views and allowed-action checks.
    snapshot: dict[str, Any] = Field(sa_column=Column(JSON, nullable=False))


class CycleRow(SQLModel, table=True):
    __tablename__ = "project_cycle"
    __table_args__ = (Index("ix_cycle_year_grade", "fiscal_year", "grade"),)

    code: str = Field(primary_key=True, foreign_key="project.code", max_length=32)
    fiscal_year: int = Field(primary_key=True)
    state: str = Field(max_length=32)
    requested_amount: Decimal | None = Field(default=None, sa_column=Column(Numeric(20, 2)))
    approved_amount: Decimal | None = Field(default=None, sa_column=Column(Numeric(20, 2)))
    executed_amount: Decimal | None = Field(default=None, sa_column=Column(Numeric(20, 2)))
    warning: str = Field(max_length=16)
    score: Decimal | None = Field(default=None, sa_column=Column(Numeric(6, 2)))
    grade: str | None = Field(default=None, max_length=16)


class HistoryRow(SQLModel, table=True):
    __tablename__ = "project_history"

    code: str = Field(primary_key=True, foreign_key="project.code", max_length=32)
    seq: int = Field(primary_key=True)
    at: datetime
    actor: str = Field(max_length=64)
    role: str = Field(max_length=16)
    action: str = Field(max_length=40)
    fiscal_year: int | None = None
    from_state: str = Field(max_length=32)
    to_state: str = Field(max_length=32)
    detail: dict[str, Any] = Field(sa_column=Column(JSON, nullable=False))
    # The audit chain (`service.audit`): SHA-256 over this row's content and `prev_hash`,
    # which is the hash of the row at seq - 1 (a fixed genesis value for seq 1).
    prev_hash: str = Field(max_length=64)
    hash: str = Field(max_length=64)


class CalendarSetting(SQLModel, table=True):
    """The fiscal calendar in force, edited by an admin; one row (id 1). Absent: the settings'."""

    __tablename__ = "calendar_setting"

    id: int = Field(default=1, primary_key=True)
    calendar: dict[str, Any] = Field(sa_column=Column(JSON, nullable=False))
    updated_at: datetime
    updated_by: str = Field(max_length=64)
