"""Ex-ante performance assessment (事前绩效评估) of new major policies and projects.

Why it matters: a passed assessment is a required attachment of the budget request — no pass, no
budget (未通过的，不得安排预算). The five dimensions of the source are scored 0–20 each (5 × 20 =
100); the conclusion bands (≥ 80 support, ≥ 60 support after adjustment, else reject) and the
pass mark are our defaults, configurable in `AssessmentRules`.

Pure and deterministic so the workflow, the API and a person with a calculator agree.
"""

from __future__ import annotations

from decimal import Decimal
from typing import Annotated, Self

from pydantic import BaseModel, ConfigDict, Field, model_validator

from models.scoring import round_half_up
from models.vocabulary import AssessmentConclusion

DimensionScore = Annotated[Decimal, Field(ge=0, le=20)]
Points = Annotated[Decimal, Field(ge=0, le=100)]


class AssessmentScores(BaseModel):
    """The five dimensions of the source, 0–20 points each; unknown dimensions are refused."""

    model_config = ConfigDict(frozen=True, extra="forbid")

    necessity: DimensionScore  # 立项必要性
    economy: DimensionScore  # 投入经济性
    goal_reasonableness: DimensionScore  # 绩效目标合理性
    feasibility: DimensionScore  # 实施方案可行性
    financing_compliance: DimensionScore  # 筹资合规性

    @property
    def total(self) -> Decimal:
        """The unrounded sum of the five dimensions."""
        return (
            self.necessity
            + self.economy
            + self.goal_reasonableness
            + self.feasibility
            + self.financing_compliance
        )


class AssessmentRules(BaseModel):
    """Conclusion bands and pass mark (defaults: support ≥ 80, after adjustment ≥ 60, pass ≥ 60).

    The pass mark is separate from the bands because "passed" gates the budget request while the
    conclusion is advice to finance; by default "support after adjustment" passes.
    """

    model_config = ConfigDict(frozen=True, extra="forbid")

    support_min: Points = Decimal(80)
    support_after_adjustment_min: Points = Decimal(60)
    pass_threshold: Points = Decimal(60)

    @model_validator(mode="after")
    def _ordered(self) -> Self:
        if self.support_after_adjustment_min > self.support_min:
            raise ValueError("support_after_adjustment_min must not exceed support_min")
        return self


DEFAULT_ASSESSMENT_RULES = AssessmentRules()


class AssessmentOutcome(BaseModel):
    """The total (rounded half-up to cents), the conclusion and whether it passes the budget gate."""

    model_config = ConfigDict(frozen=True, extra="forbid")

    total: Decimal
    conclusion: AssessmentConclusion
    passed: bool


def assess(
    scores: AssessmentScores, rules: AssessmentRules = DEFAULT_ASSESSMENT_RULES
) -> AssessmentOutcome:
    """Conclude an ex-ante assessment; bands and pass mark are judged on the rounded total shown."""
    total = round_half_up(scores.total)
    if total >= rules.support_min:
        conclusion = AssessmentConclusion.SUPPORT
    elif total >= rules.support_after_adjustment_min:
        conclusion = AssessmentConclusion.SUPPORT_AFTER_ADJUSTMENT
    else:
        conclusion = AssessmentConclusion.REJECT
    return AssessmentOutcome(
        total=total, conclusion=conclusion, passed=total >= rules.pass_threshold
    )
