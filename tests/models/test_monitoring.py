"""Run-time monitoring ("双监控"): expected execution by date, goal/execution gap, goal achievement."""

from __future__ import annotations

from dataclasses import dataclass
from datetime import date
from decimal import Decimal

import pytest
from pydantic import ValidationError

from models.indicators import Indicator, IndicatorResult
from models.monitoring import (
    Checkpoint,
    MonitoringRules,
    goal_achievement_pct,
    monitoring_warning,
    reason_zh,
)
from models.vocabulary import Achievement, Level1, Level2, Operator, WarningLevel

D = Decimal


@dataclass(frozen=True)
class Progress:
    """Shaped like `actions.Progress`: a code and the actual value reached so far."""

    code: str
    actual: Decimal


def ind(code: str, operator: Operator, target: Decimal | str | None, weight: int) -> Indicator:
    return Indicator(
        code=code,
        level1=Level1.OUTPUT,
        level2=Level2.QUANTITY,
        name=code,
        operator=operator,
        target=target,
        weight=D(weight),
    )


def warn(
    period_end: date, executed: str, goal: str | None = None, approved: str = "1000"
) -> tuple[Decimal, Decimal | None, WarningLevel, int]:
    """Run the rule on a 1000 budget and keep what the tables compare."""
    judged = monitoring_warning(
        period_end=period_end,
        approved=D(approved),
        executed=D(executed),
        goal_achievement_pct=None if goal is None else D(goal),
    )
    return judged.execution_pct, judged.threshold_pct, judged.level, len(judged.reasons)


# --------------------------------------------------------------------------- thresholds by date


@pytest.mark.parametrize(
    ("period_end", "threshold"),
    [
        (date(2025, 3, 31), None),  # before the first checkpoint
        (date(2025, 4, 29), None),
        (date(2025, 4, 30), D(25)),  # on the checkpoint
        (date(2025, 6, 29), D(25)),
        (date(2025, 6, 30), D(40)),
        (date(2025, 7, 31), D(40)),
        (date(2025, 8, 31), D(60)),
        (date(2025, 9, 30), D(60)),
        (date(2025, 10, 31), D(80)),
        (date(2025, 12, 31), D(80)),  # latest checkpoint still applies
    ],
)
def test_threshold_is_latest_checkpoint_on_or_before_period_end(
    period_end: date, threshold: Decimal | None
) -> None:
    """The expected execution is that of the latest checkpoint on or before the period end."""
    assert warn(period_end, "1000")[1] == threshold


# --------------------------------------------------------------------------- warning levels


@pytest.mark.parametrize(
    ("period_end", "executed", "goal", "expected"),
    [
        # 250 / 1000 = 25 % at end-April: exactly on the line → no warning
        (date(2025, 4, 30), "250", None, ("25.00", WarningLevel.NONE, 0)),
        # 249.9 → 24.99 %: below 25 % → yellow
        (date(2025, 4, 30), "249.9", None, ("24.99", WarningLevel.YELLOW, 1)),
        # 200 → 20 % at end-June: 40 − 20 = 20 points behind, not more than 20 → yellow
        (date(2025, 6, 30), "200", None, ("20.00", WarningLevel.YELLOW, 1)),
        # 199.9 → 19.99 %: 20.01 behind → red
        (date(2025, 6, 30), "199.9", None, ("19.99", WarningLevel.RED, 1)),
        # 0 at end-October: 80 behind → red
        (date(2025, 10, 31), "0", None, ("0.00", WarningLevel.RED, 1)),
        # March: no threshold yet, no goal figure → nothing to judge
        (date(2025, 3, 31), "0", None, ("0.00", WarningLevel.NONE, 0)),
        # gap exactly 10 (execution 50, goal 60) → no warning
        (date(2025, 6, 30), "500", "60", ("50.00", WarningLevel.NONE, 0)),
        # gap 10.01 → yellow, in either direction
        (date(2025, 6, 30), "500", "60.01", ("50.00", WarningLevel.YELLOW, 1)),
        (date(2025, 6, 30), "500", "39.99", ("50.00", WarningLevel.YELLOW, 1)),
        # gap warns even before the first checkpoint
        (date(2025, 3, 31), "100", "50", ("10.00", WarningLevel.YELLOW, 1)),
        # both reasons, yellow: execution 30 % < 40 %, goal 80 % differs by 50
        (date(2025, 6, 30), "300", "80", ("30.00", WarningLevel.YELLOW, 2)),
        # both reasons, red wins: execution 10 % vs 60 % (50 behind), goal 90 %
        (date(2025, 8, 31), "100", "90", ("10.00", WarningLevel.RED, 2)),
        # overspent: 120 % execution, goal 100 % → gap 20 → yellow
        (date(2025, 12, 31), "1200", "100", ("120.00", WarningLevel.YELLOW, 1)),
    ],
)
def test_warning_levels(
    period_end: date, executed: str, goal: str | None, expected: tuple[str, WarningLevel, int]
) -> None:
    """Yellow below the expected rate or on a gap over 10 points; red more than 20 points behind."""
    execution, _, level, reason_count = warn(period_end, executed, goal)
    assert (execution, level, reason_count) == (D(expected[0]), expected[1], expected[2])


def test_reasons_name_the_figures() -> None:
    """Each reason states the figures that triggered it."""
    judged = monitoring_warning(
        period_end=date(2025, 8, 31), approved=D(1000), executed=D(100), goal_achievement_pct=D(90)
    )
    assert judged.reasons == [
        "execution 10.00% is 50.00 points below the 60% expected by 2025-08-31 (more than 20)",
        "goal achievement 90% and execution 10.00% differ by 80.00 points (more than 10)",
    ]


def test_reasons_read_in_chinese() -> None:
    """The stored English reasons are shown in Chinese with the same figures; a wording not
    known (a future one, or free text) is shown as stored rather than lost."""
    judged = monitoring_warning(
        period_end=date(2025, 8, 31), approved=D(1000), executed=D(100), goal_achievement_pct=D(90)
    )
    assert [reason_zh(r) for r in judged.reasons] == [
        "预算执行率10.00%，低于2025-08-31应达到的60%达50.00个百分点（超过20个百分点）",
        "绩效目标完成率90%与预算执行率10.00%相差80.00个百分点（超过10个百分点）",
    ]
    yellow = monitoring_warning(
        period_end=date(2025, 8, 31), approved=D(1000), executed=D(500), goal_achievement_pct=None
    )
    assert [reason_zh(r) for r in yellow.reasons] == ["预算执行率50.00%，低于2025-08-31应达到的60%"]
    assert reason_zh("something else") == "something else"


@pytest.mark.parametrize("executed", ["0", "1", "250", "399.99", "555", "1200"])
@pytest.mark.parametrize("goal", [None, "0", "35.5", "100"])
@pytest.mark.parametrize("month", [3, 4, 6, 8, 10, 12])
def test_every_reason_has_a_chinese_reading(executed: str, goal: str | None, month: int) -> None:
    """Whatever figures and checkpoint, no reason is left in English."""
    judged = monitoring_warning(
        period_end=date(2025, month, 28),
        approved=D(1000),
        executed=D(executed),
        goal_achievement_pct=None if goal is None else D(goal),
    )
    for reason in judged.reasons:
        assert reason_zh(reason) != reason
        assert reason_zh(reason).isascii() is False


def test_execution_percent_judged_as_shown() -> None:
    """Execution is rounded half-up to cents before comparison, so 24.995 % counts as 25.00 %."""
    # 249.95 / 1000 = 24.995 % → 25.00 % → meets the end-April 25 %.
    assert warn(date(2025, 4, 30), "249.95")[::2] == (D("25.00"), WarningLevel.NONE)


def test_configured_rules() -> None:
    """Configured checkpoints, gap and red lag replace the defaults."""
    rules = MonitoringRules(
        checkpoints=(Checkpoint(month=3, day=31, min_execution_pct=D(50)),),
        goal_gap_pct=D(5),
        red_lag_pct=D(10),
    )
    # 390 / 1000 = 39 % at end-March: 11 behind 50 → red; goal 45 → gap 6 > 5.
    judged = monitoring_warning(
        period_end=date(2025, 3, 31),
        approved=D(1000),
        executed=D(390),
        goal_achievement_pct=D(45),
        rules=rules,
    )
    assert (judged.threshold_pct, judged.level, len(judged.reasons)) == (D(50), WarningLevel.RED, 2)


@pytest.mark.parametrize(("approved", "executed"), [("0", "0"), ("-5", "0"), ("100", "-1")])
def test_impossible_amounts_are_refused(approved: str, executed: str) -> None:
    """The approved amount must be positive and the executed amount non-negative."""
    with pytest.raises(ValueError, match="must"):
        monitoring_warning(
            period_end=date(2025, 6, 30),
            approved=D(approved),
            executed=D(executed),
            goal_achievement_pct=None,
        )


@pytest.mark.parametrize(
    "checkpoints",
    [
        ((6, 30), (4, 30)),  # out of order
        ((4, 30), (4, 30)),  # repeated
    ],
)
def test_checkpoints_must_be_in_calendar_order(checkpoints: tuple[tuple[int, int], ...]) -> None:
    """Checkpoints out of calendar order are refused."""
    with pytest.raises(ValidationError):
        MonitoringRules(
            checkpoints=tuple(
                Checkpoint(month=m, day=d, min_execution_pct=D(10)) for m, d in checkpoints
            )
        )


def test_checkpoint_must_be_a_real_day() -> None:
    """A checkpoint on a day that does not exist is refused; 29 February is allowed."""
    with pytest.raises(ValidationError):
        Checkpoint(month=4, day=31, min_execution_pct=D(10))
    assert Checkpoint(month=2, day=29, min_execution_pct=D(10)).month_day == (2, 29)


# --------------------------------------------------------------------------- goal achievement


def test_goal_achievement_worked_case() -> None:
    """Weighted mean of capped ratios over quantitative indicators with progress, computed by hand."""
    # A  ≥ 100, weight 2, progress 50   → ratio 0.5
    # B  ≤ 10,  weight 1, progress 20   → ratio 10/20 = 0.5
    # C  ≥ 10,  weight 1, progress 30   → met → 1 (capped, not 3)
    # Q  qualitative                    → left out
    # N  ≥ 100, weight 5, no progress   → left out
    # (2×0.5 + 1×0.5 + 1×1) / (2+1+1) = 2.5 / 4 = 0.625 → 62.50 %
    indicators = [
        ind("A", Operator.GE, D(100), 2),
        ind("B", Operator.LE, D(10), 1),
        ind("C", Operator.GE, D(10), 1),
        ind("Q", Operator.QUALITATIVE, "well", 3),
        ind("N", Operator.GE, D(100), 5),
    ]
    progress = [
        Progress(code="A", actual=D(50)),
        Progress(code="B", actual=D(20)),
        Progress(code="C", actual=D(30)),
        Progress(code="ZZ", actual=D(1)),  # unknown: ignored
    ]
    assert goal_achievement_pct(indicators, progress) == D("62.50")


def test_goal_achievement_accepts_indicator_results() -> None:
    """IndicatorResult works as progress; qualitative results (no actual) are ignored."""
    indicators = [ind("A", Operator.EQ, D(200), 1), ind("Q", Operator.QUALITATIVE, None, 1)]
    progress = [
        IndicatorResult(code="A", actual=D(180)),  # 1 − 20/200 = 0.9
        IndicatorResult(code="Q", achievement=Achievement.ACHIEVED),
    ]
    assert goal_achievement_pct(indicators, progress) == D("90.00")


def test_goal_achievement_last_report_wins() -> None:
    """When a code is reported twice, the last entry counts."""
    indicators = [ind("A", Operator.GE, D(100), 1)]
    progress = [Progress(code="A", actual=D(10)), Progress(code="A", actual=D(40))]
    assert goal_achievement_pct(indicators, progress) == D("40.00")


@pytest.mark.parametrize(
    ("indicators", "progress"),
    [
        ([], []),
        ([ind("A", Operator.GE, D(100), 1)], []),  # nothing reported
        (
            [ind("Q", Operator.QUALITATIVE, None, 1)],
            [Progress(code="Q", actual=D(1))],
        ),  # not measurable
        (
            [ind("A", Operator.GE, "a hundred", 1)],
            [Progress(code="A", actual=D(1))],
        ),  # no numeric target
    ],
)
def test_goal_achievement_none_when_nothing_measurable(
    indicators: list[Indicator], progress: list[Progress]
) -> None:
    """With no measurable progress the goal achievement is unknown (None), not 0."""
    assert goal_achievement_pct(indicators, progress) is None


def test_goal_achievement_shares_scoring_edge_cases() -> None:
    """Goal achievement uses scoring's ratio, including its zero-target rules."""
    # ≤ 0 with progress 3 → 0; ≥ 0 with progress 0 → 1: mean 50 %.
    indicators = [ind("A", Operator.LE, D(0), 1), ind("B", Operator.GE, D(0), 1)]
    progress = [Progress(code="A", actual=D(3)), Progress(code="B", actual=D(0))]
    assert goal_achievement_pct(indicators, progress) == D("50.00")
