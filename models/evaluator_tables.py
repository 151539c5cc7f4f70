"""SQLModel tables of the expert and third-party institution library (专家和第三方机构库), the
recorded key-evaluation selections, and the projection of who evaluates which project.

The library is reference data (the database is its source of truth); the assignments are a
projection of the workflows, rebuilt from their snapshots like the project tables.
"""

from __future__ import annotations

from datetime import datetime
from decimal import Decimal
from typing import Any

from sqlalchemy import JSON, Column, Numeric, UniqueConstraint
from sqlmodel import Field, SQLModel


class Expert(SQLModel, table=True):
    """An expert (专家) or a third-party institution (第三方机构) that may be commissioned."""

    __tablename__ = "expert"

    id: int | None = Field(default=None, primary_key=True)
    kind: str = Field(max_length=16)  # expert | institution
    name: str = Field(max_length=200)
    # The `evaluator` user who acts for this expert or institution (User ↔ expert by username).
    username: str | None = Field(default=None, max_length=64, unique=True)
    # The department an expert works in, if any (excludes them from its projects).
    department: str | None = Field(default=None, max_length=32)
    # An expert's employer; for an institution, left empty (its name is the institution).
    institution: str | None = Field(default=None, max_length=200)
    specialities: list[str] = Field(default_factory=list, sa_column=Column(JSON, nullable=False))
    suspended: bool = False
    suspended_reason: str = Field(default="", max_length=4000)
    created_at: datetime
    created_by: str = Field(max_length=64)


class ExpertRating(SQLModel, table=True):
    """Finance's rating (1–5) of one job: one key evaluation of one project's fiscal year."""

    __tablename__ = "expert_rating"
    __table_args__ = (UniqueConstraint("expert_id", "project_code", "fiscal_year"),)

    id: int | None = Field(default=None, primary_key=True)
    expert_id: int = Field(foreign_key="expert.id", index=True)
    project_code: str = Field(max_length=32)
    fiscal_year: int
    score: int
    comment: str = Field(default="", max_length=4000)
    rated_by: str = Field(max_length=64)
    rated_at: datetime


class KeyEvaluationSelectionRow(SQLModel, table=True):
    """One zone-wide selection for key evaluation: its seed and its draw, to reproduce it."""

    __tablename__ = "key_evaluation_selection"

    id: int | None = Field(default=None, primary_key=True)
    fiscal_year: int = Field(index=True)
    seed: int
    sample_percent: Decimal = Field(sa_column=Column(Numeric(5, 2), nullable=False))
    sample_pool: list[str] = Field(sa_column=Column(JSON, nullable=False))
    # [{"code", "reasons", "outcome"}]: outcome "selected" or why the project refused it.
    selected: list[dict[str, Any]] = Field(sa_column=Column(JSON, nullable=False))
    selected_by: str = Field(max_length=64)
    selected_at: datetime


class EvaluatorAssignmentRow(SQLModel, table=True):
    """Who is commissioned for which project's key evaluation (projected from the workflow):
    what an evaluator may see, and what a rating must refer to."""

    __tablename__ = "evaluator_assignment"

    code: str = Field(primary_key=True, foreign_key="project.code", max_length=32)
    fiscal_year: int = Field(primary_key=True)
    expert_id: int = Field(primary_key=True)
    username: str | None = Field(default=None, max_length=64, index=True)
    submitted: bool = False
