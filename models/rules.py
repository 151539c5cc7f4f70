"""Every configurable number of the domain in one object.

A workflow receives its `Rules` in its input and carries them across continue-as-new, so a
project is judged by the same rules for its whole run unless an operator changes them.
"""

from __future__ import annotations

from decimal import Decimal

from pydantic import BaseModel, ConfigDict, Field

from models.assessment import AssessmentRules
from models.calendar import FiscalCalendar
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


class Rules(BaseModel):
    model_config = ConfigDict(frozen=True, extra="forbid")

    scoring: ScoringRules = ScoringRules()
    assessment: AssessmentRules = AssessmentRules()
    monitoring: MonitoringRules = MonitoringRules()
    results: ResultRules = ResultRules()
    escalation: EscalationRules = EscalationRules()
    calendar: FiscalCalendar = FiscalCalendar()
    ladder: Ladder = Ladder()
    # The business day is China Standard Time (no daylight saving): a year ends at local midnight.
    utc_offset_minutes: int = Field(default=480, ge=-720, le=840)
