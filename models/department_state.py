"""The state of one department's fiscal year (部门整体绩效): what `DepartmentYearWorkflow` carries.

Overall goals with indicators over six dimensions, the department budget, the overall
self-evaluation and finance's review, the budget control number (预算控制数) of the year and
the reservations project budget approvals hold against it, and the history of it all.
"""

from __future__ import annotations

from datetime import datetime
from decimal import Decimal
from enum import StrEnum
from typing import Annotated, Literal

from pydantic import BaseModel, ConfigDict, Field

from models.control_number import ControlNumber
from models.indicators import Code, IndicatorResult
from models.project_state import HistoryEntry
from models.vocabulary import Grade, Operator


class Dimension(StrEnum):
    """The six dimensions of a department's overall goals; each needs an indicator."""

    OPERATING_COST = "operating_cost"  # 运行成本
    MANAGEMENT_EFFICIENCY = "management_efficiency"  # 管理效率
    DUTY_PERFORMANCE = "duty_performance"  # 履职效能
    SOCIAL_EFFECT = "social_effect"  # 社会效应
    SUSTAINABILITY = "sustainability"  # 可持续发展能力
    SATISFACTION = "satisfaction"  # 服务对象满意度


DIMENSION_ZH: dict[Dimension, str] = {
    Dimension.OPERATING_COST: "运行成本",
    Dimension.MANAGEMENT_EFFICIENCY: "管理效率",
    Dimension.DUTY_PERFORMANCE: "履职效能",
    Dimension.SOCIAL_EFFECT: "社会效应",
    Dimension.SUSTAINABILITY: "可持续发展能力",
    Dimension.SATISFACTION: "服务对象满意度",
}


class DepartmentIndicator(BaseModel):
    """One indicator of the overall goals: the project indicator's shape, with a dimension in
    place of the project's L1/L2 levels."""

    model_config = ConfigDict(frozen=True, extra="forbid")

    code: Code
    dimension: Dimension
    name: Annotated[str, Field(min_length=1, max_length=200)]
    operator: Operator
    target: Annotated[Decimal | str | None, Field(union_mode="left_to_right")] = None
    unit: Annotated[str, Field(max_length=32)] = ""
    weight: Annotated[Decimal, Field(gt=0, le=100)]

    @property
    def numeric_target(self) -> Decimal | None:
        return self.target if isinstance(self.target, Decimal) else None


class OverallSelfEvaluation(BaseModel):
    results: list[IndicatorResult]
    score: Decimal
    grade: Grade
    summary: str
    submitted_at: datetime


class OverallReview(BaseModel):
    self_score: Decimal
    final_score: Decimal
    grade: Grade
    comment: str
    reviewed_at: datetime


ReservationStatus = Literal["held", "confirmed", "released"]


class Reservation(BaseModel):
    """An amount a project budget approval holds against the control number, atomically."""

    id: str
    project_code: str
    amount: Decimal
    status: ReservationStatus
    actor: str
    at: datetime


class DepartmentYearInfo(BaseModel):
    model_config = ConfigDict(frozen=True, extra="forbid")

    department: Code
    fiscal_year: Annotated[int, Field(ge=2000, le=2200)]


class DepartmentYearState(BaseModel):
    """The state object of `DepartmentYearWorkflow`, and its continue-as-new input."""

    info: DepartmentYearInfo
    state: str = "goals_drafted"
    entered: dict[str, datetime] = {}
    indicators: list[DepartmentIndicator] = []
    goals_comment: str = ""
    budget_amount: Decimal | None = None
    self_evaluation: OverallSelfEvaluation | None = None
    review: OverallReview | None = None
    control_number: ControlNumber | None = None
    reservations: list[Reservation] = []
    # (phase, fiscal year) of each fiscal notice already recorded: a repeated signal is ignored.
    notices: list[str] = []
    # When the workflow first ran this year (behind the `department-deadlines` patch): a duty
    # whose calendar date had already passed then gets the calendar's `late_start_days`.
    opened_at: datetime | None = None
    # The ladder rungs (offset days) fired per duty key: each fires once.
    escalations: dict[str, list[int]] = {}
    history: list[HistoryEntry] = []

    @property
    def seq(self) -> int:
        return self.history[-1].seq if self.history else 0

    @property
    def grade(self) -> Grade | None:
        if self.review is not None:
            return self.review.grade
        return None

    @property
    def reserved(self) -> Decimal:
        """What approvals hold or have taken against the control number."""
        return sum((r.amount for r in self.reservations if r.status != "released"), Decimal(0))

    def reservation(self, reservation_id: str) -> Reservation | None:
        for r in self.reservations:
            if r.id == reservation_id:
                return r
        return None
