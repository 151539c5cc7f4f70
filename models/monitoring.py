"""Run-time monitoring (绩效运行监控), "双监控": goal achievement and budget execution together.

Why both: money spent on time with goals lagging is waste in the making; goals met with money
unspent means idle or over-budgeted funds. So a report warns when cumulative execution falls
below the expected rate for the date, or when goal achievement and execution drift apart.

Defaults (DOMAIN.md, after Sichuan 2025, configurable in `MonitoringRules`): expected execution
25 % by 30 April, 40 % by 30 June, 60 % by 31 August, 80 % by 31 October; a gap of more than 10
points between goal achievement and execution warns (yellow); lagging the expected rate by more
than 20 points is red.

Pure and deterministic: the workflow runs it on every monitoring report.
"""

from __future__ import annotations

import re
from collections.abc import Sequence
from datetime import date
from decimal import Decimal
from itertools import pairwise
from typing import Annotated, Protocol, Self

from pydantic import BaseModel, ConfigDict, Field, model_validator

from models.indicators import Indicator
from models.scoring import quantitative_ratio, round_half_up
from models.vocabulary import WarningLevel

HUNDRED = Decimal(100)
Percent = Annotated[Decimal, Field(ge=0, le=100)]


class Checkpoint(BaseModel):
    """By this day of the fiscal (calendar) year, cumulative execution should reach this percent."""

    model_config = ConfigDict(frozen=True, extra="forbid")

    month: Annotated[int, Field(ge=1, le=12)]
    day: Annotated[int, Field(ge=1, le=31)]
    min_execution_pct: Percent

    @model_validator(mode="after")
    def _real_day(self) -> Self:
        date(
            2000, self.month, self.day
        )  # a leap year, so 29 February is allowed; raises if not a day
        return self

    @property
    def month_day(self) -> tuple[int, int]:
        return (self.month, self.day)


def _checkpoint(month: int, day: int, pct: int) -> Checkpoint:
    return Checkpoint(month=month, day=day, min_execution_pct=Decimal(pct))


class MonitoringRules(BaseModel):
    """The deviation rule's numbers; checkpoints must be in calendar order."""

    model_config = ConfigDict(frozen=True, extra="forbid")

    checkpoints: tuple[Checkpoint, ...] = (
        _checkpoint(4, 30, 25),
        _checkpoint(6, 30, 40),
        _checkpoint(8, 31, 60),
        _checkpoint(10, 31, 80),
    )
    # |goal achievement − execution| above this many points warns (yellow).
    goal_gap_pct: Percent = Decimal(10)
    # Execution more than this many points below the expected rate is red rather than yellow.
    red_lag_pct: Percent = Decimal(20)

    @model_validator(mode="after")
    def _in_order(self) -> Self:
        days = [c.month_day for c in self.checkpoints]
        if any(a >= b for a, b in pairwise(days)):
            raise ValueError("checkpoints must be in strictly increasing calendar order")
        return self

    def checkpoint_on(self, period_end: date) -> Checkpoint | None:
        """The latest checkpoint on or before the day (any year); None before the first."""
        reached = [c for c in self.checkpoints if c.month_day <= (period_end.month, period_end.day)]
        return reached[-1] if reached else None


DEFAULT_MONITORING_RULES = MonitoringRules()


class ProgressLike(Protocol):
    """Anything reporting progress on an indicator: `actions.Progress`, `IndicatorResult`, ..."""

    @property
    def code(self) -> str: ...

    @property
    def actual(self) -> Decimal | None: ...


class MonitoringAssessment(BaseModel):
    """What one monitoring report shows: execution, the expected rate, the warning and why."""

    model_config = ConfigDict(frozen=True, extra="forbid")

    execution_pct: Decimal  # rounded half-up to cents; may exceed 100 when overspent
    threshold_pct: Decimal | None
    level: WarningLevel
    reasons: list[str]


def goal_achievement_pct(
    indicators: Sequence[Indicator], progress: Sequence[ProgressLike]
) -> Decimal | None:
    """Weighted mean of min(ratio, 1) × 100 over quantitative indicators with reported progress.

    The ratio is scoring's `quantitative_ratio`, so monitoring and evaluation judge an indicator
    alike. Qualitative indicators, indicators without a numeric target or positive weight, and
    progress without a number are left out (new reports are refused progress for unknown codes
    or in the wrong measure, but a history recorded before those guards may hold either, and
    must replay). When a code is reported twice, the last entry wins. None when
    nothing measurable was reported. Rounded half-up to cents.
    """
    latest = {p.code: p.actual for p in progress if p.actual is not None}
    weighted = Decimal(0)
    weights = Decimal(0)
    for ind in indicators:
        target = ind.numeric_target
        actual = latest.get(ind.code)
        if not ind.quantitative or target is None or actual is None or ind.weight <= 0:
            continue
        weighted += ind.weight * min(quantitative_ratio(ind.operator, target, actual), Decimal(1))
        weights += ind.weight
    if weights == 0:
        return None
    return round_half_up(weighted / weights * HUNDRED)


def monitoring_warning(
    *,
    period_end: date,
    approved: Decimal,
    executed: Decimal,
    goal_achievement_pct: Decimal | None,
    rules: MonitoringRules = DEFAULT_MONITORING_RULES,
) -> MonitoringAssessment:
    """Judge one report: yellow below the expected rate or on a goal/execution gap, red far below.

    Comparisons use the execution percent rounded to cents, the figure the report shows.
    Raises ValueError if `approved` is not positive or `executed` is negative.
    """
    if approved <= 0:
        raise ValueError(f"approved amount must be positive, got {approved}")
    if executed < 0:
        raise ValueError(f"executed amount must not be negative, got {executed}")

    execution = round_half_up(executed / approved * HUNDRED)
    checkpoint = rules.checkpoint_on(period_end)
    threshold = checkpoint.min_execution_pct if checkpoint is not None else None
    level = WarningLevel.NONE
    reasons: list[str] = []

    if checkpoint is not None and threshold is not None and execution < threshold:
        lag = threshold - execution
        by = f"{period_end.year}-{checkpoint.month:02d}-{checkpoint.day:02d}"
        if lag > rules.red_lag_pct:
            level = WarningLevel.RED
            reasons.append(
                f"execution {execution}% is {lag} points below the {threshold}% expected by {by} "
                f"(more than {rules.red_lag_pct})"
            )
        else:
            level = WarningLevel.YELLOW
            reasons.append(f"execution {execution}% is below the {threshold}% expected by {by}")

    if goal_achievement_pct is not None:
        gap = abs(goal_achievement_pct - execution)
        if gap > rules.goal_gap_pct:
            if level is WarningLevel.NONE:
                level = WarningLevel.YELLOW
            reasons.append(
                f"goal achievement {goal_achievement_pct}% and execution {execution}% differ by "
                f"{gap} points (more than {rules.goal_gap_pct})"
            )

    return MonitoringAssessment(
        execution_pct=execution, threshold_pct=threshold, level=level, reasons=reasons
    )


# The reasons are stored in the workflow's state and history in English, as worded above; they
# are shown in Chinese by matching those wordings (stored histories stay as they are and keep
# replaying). A wording changed above must be changed here too: the tests translate every
# reason `monitoring_warning` gives.
_NUMBER = r"-?\d+(?:\.\d+)?"
_REASONS_ZH: tuple[tuple[re.Pattern[str], str], ...] = (
    (
        re.compile(
            rf"execution (?P<execution>{_NUMBER})% is (?P<lag>{_NUMBER}) points below the "
            rf"(?P<threshold>{_NUMBER})% expected by (?P<by>\d{{4}}-\d{{2}}-\d{{2}}) "
            rf"\(more than (?P<limit>{_NUMBER})\)"
        ),
        "预算执行率{execution}%，低于{by}应达到的{threshold}%达{lag}个百分点（超过{limit}个百分点）",
    ),
    (
        re.compile(
            rf"execution (?P<execution>{_NUMBER})% is below the (?P<threshold>{_NUMBER})% "
            rf"expected by (?P<by>\d{{4}}-\d{{2}}-\d{{2}})"
        ),
        "预算执行率{execution}%，低于{by}应达到的{threshold}%",
    ),
    (
        re.compile(
            rf"goal achievement (?P<goal>{_NUMBER})% and execution (?P<execution>{_NUMBER})% "
            rf"differ by (?P<gap>{_NUMBER}) points \(more than (?P<limit>{_NUMBER})\)"
        ),
        "绩效目标完成率{goal}%与预算执行率{execution}%相差{gap}个百分点（超过{limit}个百分点）",
    ),
)


def reason_zh(reason: str) -> str:
    """A stored warning reason in Chinese; a wording not known here is shown as stored."""
    for pattern, template in _REASONS_ZH:
        match = pattern.fullmatch(reason)
        if match is not None:
            return template.format(**match.groupdict())
    return reason
