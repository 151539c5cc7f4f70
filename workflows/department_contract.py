"""The shapes DepartmentYearWorkflow takes and gives: its input, its updates' requests and
outcome, its view.

Kept out of `workflows.department` and passed through to the sandbox, as
`workflows.project_contract` is for projects: the sandbox imports a workflow's own module
afresh for every workflow run, and would build these pydantic classes again each time.
Callers import them from `workflows.department`, as before.
"""

from __future__ import annotations

from decimal import Decimal
from typing import Any

from pydantic import BaseModel, Field

from models.department_state import DepartmentYearState
from models.project_state import Actor, HistoryEntry
from models.rules import Rules


class DepartmentYearInput(BaseModel):
    year: DepartmentYearState
    rules: Rules = Rules()
    projected_seq: int = 0
    # As in ProjectWorkflowInput: business time = server time + this (tests, demos).
    clock_offset_seconds: float = 0
    # Updates a run takes before it hands over to a new one (ROLLOVER_PATCH).
    rollover_after_updates: int = Field(default=500, ge=1)


class DepartmentActOutcome(BaseModel):
    year: DepartmentYearState  # without history
    entries: list[HistoryEntry]


class ReserveRequest(BaseModel):
    reservation_id: str = Field(min_length=1, max_length=200)
    project_code: str
    amount: Decimal = Field(gt=0)
    actor: Actor


class SettleRequest(BaseModel):
    reservation_id: str
    confirmed: bool  # True: the project approved; False: it refused, free the amount
    actor: Actor


class AssessmentNoticeRequest(BaseModel):
    detail: dict[str, Any]
    actor: Actor


class DepartmentYearView(BaseModel):
    year: DepartmentYearState
    allowed: dict[str, list[str]]  # by role
