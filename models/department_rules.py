"""Configurable defaults of department-level performance management (部门整体绩效).

No published rule fixes these numbers: they are **defaults**, our choice, changed through
settings (`PERFBUDGET_RULES__DEPARTMENT__…`) like every other rule.
"""

from __future__ import annotations

from decimal import Decimal
from typing import Self

from pydantic import BaseModel, ConfigDict, Field, model_validator

from models.vocabulary import Grade


class ControlNumberRules(BaseModel):
    """How a department's own overall grade of year N moves its project budget ceiling of N+1.

    Defaults: 优 +5 %, 良 0, 中 −5 %, 差 −10 % (DOMAIN.md names no percentage; ours).
    """

    model_config = ConfigDict(frozen=True, extra="forbid")

    excellent_percent: Decimal = Field(default=Decimal(5), ge=-100, le=100)
    good_percent: Decimal = Field(default=Decimal(0), ge=-100, le=100)
    fair_percent: Decimal = Field(default=Decimal(-5), ge=-100, le=100)
    poor_percent: Decimal = Field(default=Decimal(-10), ge=-100, le=100)

    def percent_for(self, grade: Grade) -> Decimal:
        return {
            Grade.EXCELLENT: self.excellent_percent,
            Grade.GOOD: self.good_percent,
            Grade.FAIR: self.fair_percent,
            Grade.POOR: self.poor_percent,
        }[grade]


class AssessmentWeights(BaseModel):
    """Finance's yearly rating (考核) of a department's performance-management work, out of 100.

    Defaults: timeliness of duties 30 (each overdue notice or escalation of a department duty
    costs 5), escalations suffered 20 (each warning costs 5, each 问责 record 10), grades of its
    projects 50 (the mean of 优 100, 良 85, 中 70, 差 40 over its graded projects, times 0.5;
    no graded project: the full 50 is not earned — half of it, 25, as a neutral middle).
    Laggards: below `laggard_below` points, or the last `laggard_bottom` of the ranking.
    """

    model_config = ConfigDict(frozen=True, extra="forbid")

    timeliness: Decimal = Field(default=Decimal(30), ge=0, le=100)
    per_late_duty: Decimal = Field(default=Decimal(5), ge=0, le=100)
    escalations: Decimal = Field(default=Decimal(20), ge=0, le=100)
    per_warning: Decimal = Field(default=Decimal(5), ge=0, le=100)
    per_accountability: Decimal = Field(default=Decimal(10), ge=0, le=100)
    grades: Decimal = Field(default=Decimal(50), ge=0, le=100)
    excellent_points: Decimal = Field(default=Decimal(100), ge=0, le=100)
    good_points: Decimal = Field(default=Decimal(85), ge=0, le=100)
    fair_points: Decimal = Field(default=Decimal(70), ge=0, le=100)
    poor_points: Decimal = Field(default=Decimal(40), ge=0, le=100)
    no_grade_share: Decimal = Field(default=Decimal("0.5"), ge=0, le=1)
    laggard_below: Decimal = Field(default=Decimal(60), ge=0, le=100)
    laggard_bottom: int = Field(default=1, ge=0, le=1000)

    @model_validator(mode="after")
    def _totals_100(self) -> Self:
        if self.timeliness + self.escalations + self.grades != 100:
            raise ValueError("timeliness + escalations + grades must total 100")
        return self

    def grade_points(self, grade: Grade) -> Decimal:
        return {
            Grade.EXCELLENT: self.excellent_points,
            Grade.GOOD: self.good_points,
            Grade.FAIR: self.fair_points,
            Grade.POOR: self.poor_points,
        }[grade]


class DepartmentRules(BaseModel):
    model_config = ConfigDict(frozen=True, extra="forbid")

    control_number: ControlNumberRules = ControlNumberRules()
    assessment: AssessmentWeights = AssessmentWeights()
