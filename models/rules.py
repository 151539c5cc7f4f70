"""Every configurable number of the domain in one object.

A workflow receives its `Rules` in its input and carries them across continue-as-new, so a
project is judged by the same rules for its whole run unless an operator changes them.
"""

from __future__ import annotations

from decimal import Decimal
from typing import Self

from pydantic import BaseModel, ConfigDict, Field, model_validator

from models.assessment import AssessmentRules
from models.calendar import FiscalCalendar
from models.department_rules import DepartmentRules
from models.kinds import KindRules
from models.ladder import Ladder
from models.monitoring import MonitoringRules
from models.scoring import ScoringRules


class EscalationRules(BaseModel):
    """Event-triggered escalations (defaults of DOMAIN.md and the monitoring practice)."""

    model_config = ConfigDict(frozen=True, extra="forbid")

    # Finance's reviewed score this far from the self-evaluated one flags a key evaluation.
    review_gap_points: Decimal = Field(default=Decimal(10), ge=0, le=100)
    # A major project warned yellow this many times in a year is red.
    major_yellow_to_red: int = Field(default=2, ge=1)


class ResultRules(BaseModel):
    """Result application (评价结果应用): defaults of DOMAIN.md; no published percentage exists."""

    model_config = ConfigDict(frozen=True, extra="forbid")

    fair_cut_percent: Decimal = Field(default=Decimal(10), ge=0, le=100)
    poor_cut_percent: Decimal = Field(default=Decimal(50), ge=0, le=100)
    # How many poor years in a row propose the project for exit (清理退出).
    poor_years_to_exit: int = Field(default=2, ge=1)


class KeyEvaluationRules(BaseModel):
    """财政重点评价: the weights of its four parts and how finance samples the rest.

    The source document asks that output and effect together weigh at least 60 % of the 100
    points (DOMAIN.md, stage 4); the default split 20/20/30/30 is our choice.
    """

    model_config = ConfigDict(frozen=True, extra="forbid")

    decision_weight: Decimal = Field(default=Decimal(20), ge=0, le=100)  # 决策
    process_weight: Decimal = Field(default=Decimal(20), ge=0, le=100)  # 过程
    output_weight: Decimal = Field(default=Decimal(30), ge=0, le=100)  # 产出
    effect_weight: Decimal = Field(default=Decimal(30), ge=0, le=100)  # 效益
    # Share of the projects neither major nor flagged that a seeded draw adds to the selection.
    sample_percent: Decimal = Field(default=Decimal(10), ge=0, le=100)

    @model_validator(mode="after")
    def _weights_add_up(self) -> Self:
        total = self.decision_weight + self.process_weight + self.output_weight + self.effect_weight
        if total != 100:
            raise ValueError(f"the four key-evaluation weights must add up to 100, not {total}")
        if self.output_weight + self.effect_weight < 60:
            raise ValueError(
                "output (产出) + effect (效益) must weigh at least 60 of the 100 points, not "
                f"{self.output_weight + self.effect_weight}"
            )
        return self

    def weights(self) -> dict[str, Decimal]:
        return {
            "decision": self.decision_weight,
            "process": self.process_weight,
            "output": self.output_weight,
            "effect": self.effect_weight,
        }


class Rules(BaseModel):
    model_config = ConfigDict(frozen=True, extra="forbid")

    scoring: ScoringRules = ScoringRules()
    assessment: AssessmentRules = AssessmentRules()
    monitoring: MonitoringRules = MonitoringRules()
    results: ResultRules = ResultRules()
    escalation: EscalationRules = EscalationRules()
    calendar: FiscalCalendar = FiscalCalendar()
    ladder: Ladder = Ladder()
    key_evaluation: KeyEvaluationRules = KeyEvaluationRules()
    # The four budgets' and special instruments' rules (monitoring thresholds, fund table).
    kinds: KindRules = KindRules()
    # 部门整体绩效: control-number adjustments by grade and the assessment's weights (defaults).
    department: DepartmentRules = DepartmentRules()
    # The business day is China Standard Time (no daylight saving): a year ends at local midnight.
    utc_offset_minutes: int = Field(default=480, ge=-720, le=840)
