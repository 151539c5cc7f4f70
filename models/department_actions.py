"""The bodies of the actions on a department's fiscal year, validated at the edge (HTTP 422)."""

from __future__ import annotations

from decimal import Decimal
from typing import Annotated

from pydantic import BaseModel, ConfigDict, Field

from models.actions import PositiveMoney, RequiredText, Text
from models.control_number import ControlNumber
from models.department_state import DepartmentIndicator
from models.indicators import IndicatorResult


class DepartmentPayload(BaseModel):
    model_config = ConfigDict(extra="forbid", frozen=True)


class SubmitOverallGoals(DepartmentPayload):
    indicators: Annotated[list[DepartmentIndicator], Field(min_length=1, max_length=200)]


class ApproveOverallGoals(DepartmentPayload):
    comment: Text = ""


class ReturnOverallGoals(DepartmentPayload):
    comment: RequiredText


class ApproveDepartmentBudget(DepartmentPayload):
    amount: PositiveMoney


class SubmitOverallSelfEvaluation(DepartmentPayload):
    results: Annotated[list[IndicatorResult], Field(min_length=1, max_length=200)]
    summary: Text = ""


class ReviewOverallSelfEvaluation(DepartmentPayload):
    adjusted_score: Annotated[Decimal, Field(ge=0, le=100, decimal_places=2)] | None = None
    comment: Text = ""


class SetControlNumber(DepartmentPayload):
    """Finance records a computed control number (the service computes it from the read model)."""

    control_number: ControlNumber


class ReleaseReservation(DepartmentPayload):
    """Finance frees a reservation left held by an approval that never finished."""

    reservation_id: Annotated[str, Field(min_length=1, max_length=200)]
    reason: RequiredText


DEPARTMENT_PAYLOADS: dict[str, type[DepartmentPayload]] = {
    "submit_goals": SubmitOverallGoals,
    "approve_goals": ApproveOverallGoals,
    "return_goals": ReturnOverallGoals,
    "approve_department_budget": ApproveDepartmentBudget,
    "submit_self_evaluation": SubmitOverallSelfEvaluation,
    "review_self_evaluation": ReviewOverallSelfEvaluation,
    "set_control_number": SetControlNumber,
    "release_reservation": ReleaseReservation,
}
