"""SQLModel tables of the department years: the read model of `DepartmentYearWorkflow`.

A projection like the project tables: each row carries the history seq it reflects, so writes
are idempotent and never move a row backwards; history rows are inserted once, hash-chained
like the projects' (`service.audit`, chain key `department-<code>-<year>`).
"""

from __future__ import annotations

from datetime import datetime
from decimal import Decimal
from typing import Any

from sqlalchemy import JSON, Column, Numeric
from sqlmodel import Field, SQLModel


class DepartmentYearRow(SQLModel, table=True):
    __tablename__ = "department_year"

    department: str = Field(primary_key=True, max_length=32)
    fiscal_year: int = Field(primary_key=True, index=True)
    state: str = Field(max_length=32, index=True)
    budget_amount: Decimal | None = Field(default=None, sa_column=Column(Numeric(20, 2)))
    self_score: Decimal | None = Field(default=None, sa_column=Column(Numeric(6, 2)))
    score: Decimal | None = Field(default=None, sa_column=Column(Numeric(6, 2)))
    grade: str | None = Field(default=None, max_length=16, index=True)
    control_number: Decimal | None = Field(default=None, sa_column=Column(Numeric(20, 2)))
    reserved: Decimal = Field(sa_column=Column(Numeric(20, 2), nullable=False))
    seq: int
    updated_at: datetime
    snapshot: dict[str, Any] = Field(sa_column=Column(JSON, nullable=False))


class DepartmentHistoryRow(SQLModel, table=True):
    __tablename__ = "department_year_history"

    department: str = Field(primary_key=True, max_length=32)
    fiscal_year: int = Field(primary_key=True)
    seq: int = Field(primary_key=True)
    at: datetime
    actor: str = Field(max_length=64)
    role: str = Field(max_length=16)
    action: str = Field(max_length=40)
    from_state: str = Field(max_length=32)
    to_state: str = Field(max_length=32)
    detail: dict[str, Any] = Field(sa_column=Column(JSON, nullable=False))
    prev_hash: str = Field(max_length=64)
    hash: str = Field(max_length=64)
