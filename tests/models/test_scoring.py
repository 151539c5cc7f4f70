"""Self-evaluation scoring: ratios, group maxima, rounding, grades and error reporting."""

from __future__ import annotations

from collections.abc import Sequence
from decimal import Decimal

import pytest
from pydantic import ValidationError

from models.indicators import Indicator, IndicatorResult
from models.scoring import (
    DEFAULT_SCORING_RULES,
    Band,
    BudgetFigures,
    Problem,
    ScoringError,
    ScoringRules,
    check_results,
    grade_for,
    qualitative_ratio,
    quantitative_ratio,
    score_self_evaluation,
)
from models.vocabulary import Achievement, Grade, Level1, Level2, Operator

D = Decimal
HUNDRED = D(100)
QUALITATIVE_TARGET = "done well"

LEVEL2_OF = {
    Level1.OUTPUT: Level2.QUANTITY,
    Level1.EFFECT: Level2.SOCIAL,
    Level1.SATISFACTION: Level2.SATISFACTION,
}


def ind(
    code: str,
    level1: Level1,
    operator: Operator = Operator.GE,
    target: Decimal | str | None = HUNDRED,
    weight: Decimal | int = 1,
) -> Indicator:
    """A test indicator with sensible defaults."""
    if operator is Operator.QUALITATIVE and target == HUNDRED:
        target = QUALITATIVE_TARGET
    return Indicator(
        code=code,
        level1=level1,
        level2=LEVEL2_OF[level1],
        name=f"indicator {code}",
        operator=operator,
        target=target,
        weight=D(weight),
    )


def num(code: str, actual: Decimal | int | str) -> IndicatorResult:
    return IndicatorResult(code=code, actual=D(actual))


def qual(code: str, achievement: Achievement, ratio: str | None = None) -> IndicatorResult:
    return IndicatorResult(
        code=code, achievement=achievement, ratio=None if ratio is None else D(ratio)
    )


def budget(available: int | str = 100, executed: int | str = 100) -> BudgetFigures:
    return BudgetFigures(available=D(available), executed=D(executed))


def full_marks(indicators: Sequence[Indicator]) -> list[IndicatorResult]:
    """Results meeting every indicator exactly."""
    return [
        qual(i.code, Achievement.ACHIEVED)
        if not i.quantitative
        else num(i.code, i.numeric_target or 0)
        for i in indicators
    ]


# --------------------------------------------------------------------------- quantitative ratios


@pytest.mark.parametrize(
    ("operator", "target", "actual", "expected"),
    [
        # higher is better
        (Operator.GE, "100", "120", "1"),
        (Operator.GE, "100", "100", "1"),
        (Operator.GE, "100", "80", "0.8"),
        (Operator.GT, "100", "80", "0.8"),
        (Operator.GT, "100", "100", "1"),  # strict scores like non-strict: 100/100 = 1
        # lower is better
        (Operator.LE, "10", "8", "1"),
        (Operator.LE, "10", "12.5", "0.8"),  # 10 / 12.5
        (Operator.LT, "10", "20", "0.5"),
        (Operator.LT, "10", "10", "1"),
        # equal: 1 − |actual − target| / |target|
        (Operator.EQ, "200", "180", "0.9"),
        (Operator.EQ, "200", "220", "0.9"),
        (Operator.EQ, "200", "500", "0"),  # 1 − 1.5 → clamped at 0
        (Operator.EQ, "-50", "-40", "0.8"),  # measured against |target|
    ],
)
def test_quantitative_ratio_formulas(
    operator: Operator, target: str, actual: str, expected: str
) -> None:
    """Each operator gives the documented proportional ratio, clamped to [0, 1]."""
    assert quantitative_ratio(operator, D(target), D(actual)) == D(expected)


@pytest.mark.parametrize(
    ("operator", "target", "actual", "expected"),
    [
        # target 0, higher is better: met for any actual ≥ 0
        (Operator.GE, "0", "0", "1"),
        (Operator.GE, "0", "5", "1"),
        (Operator.GE, "0", "-1", "0"),  # missed with no positive target to scale by
        (Operator.GT, "0", "0", "1"),  # strict scores like non-strict
        # target 0, lower is better
        (Operator.LE, "0", "0", "1"),
        (Operator.LE, "0", "3", "0"),
        (Operator.LT, "0", "3", "0"),
        # actual 0 against lower-is-better: met, never divides by zero
        (Operator.LE, "5", "0", "1"),
        (Operator.LT, "5", "0", "1"),
        # equal with target 0: exact or nothing
        (Operator.EQ, "0", "0", "1"),
        (Operator.EQ, "0", "0.01", "0"),
        (Operator.EQ, "0", "-1", "0"),
        # negative numbers
        (Operator.GE, "100", "-20", "0"),  # −0.2 clamped to 0
        (Operator.GE, "-5", "-3", "1"),  # met
        (
            Operator.GE,
            "-5",
            "-10",
            "0",
        ),  # missed, target ≤ 0: no proportional credit (−10/−5 = 2 would reward)
        (Operator.LE, "-5", "-10", "1"),  # met
        (Operator.LE, "-3", "-1", "0"),  # missed, target ≤ 0 (−3/−1 = 3 would reward)
        (Operator.LE, "-3", "0", "0"),  # missed, and no division by the zero actual
        (Operator.LE, "10", "-4", "1"),  # met
    ],
)
def test_quantitative_ratio_edge_cases(
    operator: Operator, target: str, actual: str, expected: str
) -> None:
    """Zero targets, zero actuals and negative numbers follow the documented edge-case rules."""
    assert quantitative_ratio(operator, D(target), D(actual)) == D(expected)


def test_quantitative_ratio_refuses_qualitative() -> None:
    """A qualitative operator has no quantitative ratio."""
    with pytest.raises(ValueError, match="qualitative"):
        quantitative_ratio(Operator.QUALITATIVE, D(1), D(1))


# --------------------------------------------------------------------------- qualitative ratios


@pytest.mark.parametrize(
    ("achievement", "ratio", "expected"),
    [
        (Achievement.ACHIEVED, None, "1.0"),
        (Achievement.PARTLY, None, "0.7"),
        (Achievement.NOT_ACHIEVED, None, "0.3"),
        (Achievement.ACHIEVED, "0.85", "0.85"),
        (Achievement.ACHIEVED, "0.8", "0.8"),  # bounds are inclusive
        (Achievement.PARTLY, "0.8", "0.8"),  # ... so neighbouring bands share 0.8
        (Achievement.PARTLY, "0.6", "0.6"),
        (Achievement.NOT_ACHIEVED, "0", "0"),
        (Achievement.NOT_ACHIEVED, "0.6", "0.6"),
    ],
)
def test_qualitative_ratio_band_default_or_given(
    achievement: Achievement, ratio: str | None, expected: str
) -> None:
    """A qualitative result earns its given in-band ratio, or the band default when none is given."""
    assert qualitative_ratio(achievement, None if ratio is None else D(ratio)) == D(expected)


@pytest.mark.parametrize(
    ("achievement", "ratio"),
    [
        (Achievement.ACHIEVED, "0.79"),
        (Achievement.PARTLY, "0.9"),
        (Achievement.PARTLY, "0.5"),
        (Achievement.NOT_ACHIEVED, "0.61"),
    ],
)
def test_qualitative_ratio_outside_band_is_an_error(achievement: Achievement, ratio: str) -> None:
    """A ratio outside its achievement's band is refused."""
    with pytest.raises(ValueError, match="outside the band"):
        qualitative_ratio(achievement, D(ratio))


# --------------------------------------------------------------------------- worked cases


def test_worked_case_no_satisfaction_effect_worth_40() -> None:
    """A full self-evaluation without satisfaction indicators scores as computed by hand."""
    # Budget: 90 of 100 executed → 10 × 0.9 = 9.
    # Output (50), weights 2 + 3 = 5:
    #   O1 max 50×2/5 = 20, ≥ 100, actual 80 → ratio 0.8 → 16
    #   O2 max 50×3/5 = 30, ≤ 10, actual 8 → met → 30                     output = 46
    # Effect (30 + satisfaction's 10 = 40), weights 1 + 3 = 4:
    #   E1 max 40×1/4 = 10, qualitative partly, default 0.7 → 7
    #   E2 max 40×3/4 = 30, = 200, actual 180 → 1 − 20/200 = 0.9 → 27       effect = 34
    # Total 9 + 46 + 34 = 89.00 → 良 (good).
    indicators = [
        ind("O1", Level1.OUTPUT, Operator.GE, D(100), 2),
        ind("O2", Level1.OUTPUT, Operator.LE, D(10), 3),
        ind("E1", Level1.EFFECT, Operator.QUALITATIVE, weight=1),
        ind("E2", Level1.EFFECT, Operator.EQ, D(200), 3),
    ]
    results = [num("O1", 80), num("O2", 8), qual("E1", Achievement.PARTLY), num("E2", 180)]

    report = score_self_evaluation(budget=budget(100, 90), indicators=indicators, results=results)

    assert report.parts.budget_execution == D("9.00")
    assert report.parts.output == D("46.00")
    assert report.parts.effect == D("34.00")
    assert report.parts.satisfaction == D("0.00")
    assert report.total == D("89.00")
    assert report.grade is Grade.GOOD
    assert report.grade_zh == "良"
    lines = {line.code: (line.ratio, line.score, line.max) for line in report.indicators}
    assert lines == {
        "O1": (D("0.8000"), D("16.00"), D("20.00")),
        "O2": (D("1.0000"), D("30.00"), D("30.00")),
        "E1": (D("0.7000"), D("7.00"), D("10.00")),
        "E2": (D("0.9000"), D("27.00"), D("30.00")),
    }


def test_worked_case_with_satisfaction_keeps_effect_at_30() -> None:
    """With a satisfaction indicator, effect is worth 30 and satisfaction 10."""
    # Budget 120 of 100 executed → rate capped at 1 → 10.
    # Output O1 alone: max 50, ≥ 100 actual 100 → 50.
    # Effect E1 alone: max 30, ≥ 100 actual 50 → 0.5 → 15.
    # Satisfaction S1 alone: max 10, ≥ 90 (%), actual 85.5 → 0.95 → 9.5.
    # Total 10 + 50 + 15 + 9.5 = 84.50 → 良.
    indicators = [
        ind("O1", Level1.OUTPUT),
        ind("E1", Level1.EFFECT),
        ind("S1", Level1.SATISFACTION, target=D(90)),
    ]
    results = [num("O1", 100), num("E1", 50), num("S1", "85.5")]

    report = score_self_evaluation(budget=budget(100, 120), indicators=indicators, results=results)

    assert report.parts.model_dump() == {
        "budget_execution": D("10.00"),
        "output": D("50.00"),
        "effect": D("15.00"),
        "satisfaction": D("9.50"),
    }
    assert report.total == D("84.50")
    assert report.grade is Grade.GOOD
    assert [line.max for line in report.indicators] == [D("50.00"), D("30.00"), D("10.00")]


def test_worked_case_89_995_rounds_up_to_excellent() -> None:
    """A total of exactly 89.995 rounds half-up to 90.00 and grades excellent."""
    # Budget 99.95 of 100 → 10 × 0.9995 = 9.995.
    # Output O1: max 50, met → 50.
    # Effect E1: max 40 (no satisfaction), ≥ 100 actual 75 → 0.75 → 30.
    # 9.995 + 50 + 30 = 89.995 → ROUND_HALF_UP → 90.00 → 优.
    indicators = [ind("O1", Level1.OUTPUT), ind("E1", Level1.EFFECT)]
    results = [num("O1", 100), num("E1", 75)]

    report = score_self_evaluation(
        budget=budget("100", "99.95"), indicators=indicators, results=results
    )

    assert report.parts.budget_execution == D("10.00")  # 9.995 shown as 10.00
    assert report.total == D("90.00")
    assert report.grade is Grade.EXCELLENT
    assert report.grade_zh == "优"


def test_worked_case_total_from_unrounded_parts() -> None:
    """The total sums unrounded parts, so displayed parts may add up to one cent more than the total."""
    # Budget 99.95 of 100 → 9.995 (shown 10.00).
    # Output O1: max 50, ≥ 10000 actual 9999 → 0.9999 → 49.995 (shown 50.00).
    # Effect E1: max 40, ≥ 100 actual 75 → 30.
    # Total 9.995 + 49.995 + 30 = 89.990 → 89.99 → 良, although the shown parts sum to 90.00.
    indicators = [ind("O1", Level1.OUTPUT, target=D(10000)), ind("E1", Level1.EFFECT)]
    results = [num("O1", 9999), num("E1", 75)]

    report = score_self_evaluation(
        budget=budget("100", "99.95"), indicators=indicators, results=results
    )

    assert report.parts.budget_execution + report.parts.output + report.parts.effect == D("90.00")
    assert report.total == D("89.99")
    assert report.grade is Grade.GOOD


def test_worked_case_thirds_sum_to_the_whole() -> None:
    """Three equal output weights each show 16.67 yet the full output part is exactly 50."""
    # Output max 50 / 3 = 16.666… each; all met; effect 40 met; budget 10 → total 100.00.
    indicators = [ind(c, Level1.OUTPUT) for c in ("O1", "O2", "O3")] + [ind("E1", Level1.EFFECT)]
    report = score_self_evaluation(
        budget=budget(), indicators=indicators, results=full_marks(indicators)
    )

    assert [line.max for line in report.indicators[:3]] == [D("16.67")] * 3
    assert report.parts.output == D("50.00")
    assert report.total == D("100.00")
    assert report.grade is Grade.EXCELLENT


# --------------------------------------------------------------------------- group maxima


@pytest.mark.parametrize(
    ("levels", "expected_total"),
    [
        # budget 10 always; groups that are present and fully met add their maxima.
        ((Level1.OUTPUT, Level1.EFFECT, Level1.SATISFACTION), "100.00"),
        ((Level1.OUTPUT, Level1.EFFECT), "100.00"),  # effect 40
        ((Level1.OUTPUT, Level1.SATISFACTION), "70.00"),  # effect's 30 lost: 10 + 50 + 10
        ((Level1.EFFECT, Level1.SATISFACTION), "50.00"),  # output's 50 lost: 10 + 30 + 10
        ((Level1.OUTPUT,), "60.00"),  # effect 40 lost: 10 + 50
        ((Level1.EFFECT,), "50.00"),  # output lost: 10 + 40
        ((Level1.SATISFACTION,), "20.00"),  # 10 + 10
    ],
)
def test_missing_groups_lose_their_points(levels: tuple[Level1, ...], expected_total: str) -> None:
    """An empty group is worth 0; satisfaction's points move to effect only when effect exists."""
    indicators = [ind(f"X{n}", level) for n, level in enumerate(levels)]
    report = score_self_evaluation(
        budget=budget(), indicators=indicators, results=full_marks(indicators)
    )
    assert report.total == D(expected_total)


def test_no_indicators_scores_budget_only() -> None:
    """With no indicators at all only budget execution counts."""
    report = score_self_evaluation(budget=budget(100, 50), indicators=[], results=[])
    assert report.total == D("5.00")
    assert report.grade is Grade.POOR
    assert report.indicators == []


def test_custom_rules_change_maxima_and_bands() -> None:
    """Configured maxima and band defaults are used instead of the defaults."""
    # Budget max 20 × 0.5 = 10; output max 40, met → 40; effect 30 + 10 = 40,
    # qualitative partly with default 0.5 → 20. Total 70.
    rules = ScoringRules(
        budget_execution_max=D(20),
        output_max=D(40),
        partly=Band(low=D("0.4"), high=D("0.8"), default=D("0.5")),
    )
    indicators = [ind("O1", Level1.OUTPUT), ind("E1", Level1.EFFECT, Operator.QUALITATIVE)]
    results = [num("O1", 100), qual("E1", Achievement.PARTLY)]
    report = score_self_evaluation(
        budget=budget(100, 50), indicators=indicators, results=results, rules=rules
    )
    assert report.parts.budget_execution == D("10.00")
    assert report.parts.effect == D("20.00")
    assert report.total == D("70.00")
    assert report.grade is Grade.FAIR


@pytest.mark.parametrize(
    "kwargs",
    [
        {"output_max": D(60)},  # parts sum to 110
        {"good_min": D(95)},  # above excellent
        {"fair_min": D(80)},  # equal to good
    ],
)
def test_inconsistent_rules_are_refused(kwargs: dict[str, Decimal]) -> None:
    """Rules whose parts do not sum to 100 or whose grade floors are out of order are refused."""
    with pytest.raises(ValidationError):
        ScoringRules(**kwargs)


def test_band_default_must_lie_inside_band() -> None:
    """A band's default ratio must lie between its bounds."""
    with pytest.raises(ValidationError):
        Band(low=D("0.6"), high=D("0.8"), default=D("0.9"))


# --------------------------------------------------------------------------- grades


@pytest.mark.parametrize(
    ("total", "grade"),
    [
        ("100", Grade.EXCELLENT),
        ("90", Grade.EXCELLENT),
        ("89.995", Grade.EXCELLENT),  # rounds half-up to 90.00
        ("89.994", Grade.GOOD),
        ("89.99", Grade.GOOD),
        ("80", Grade.GOOD),
        ("79.99", Grade.FAIR),
        ("60", Grade.FAIR),
        ("59.995", Grade.FAIR),
        ("59.99", Grade.POOR),
        ("0", Grade.POOR),
    ],
)
def test_grade_for_thresholds(total: str, grade: Grade) -> None:
    """优 ≥ 90, 良 ≥ 80, 中 ≥ 60, else 差, judged on the total rounded half-up to cents."""
    assert grade_for(D(total)) is grade


def test_grade_for_uses_configured_floors() -> None:
    """Configured grade floors replace the defaults."""
    rules = ScoringRules(excellent_min=D(95), good_min=D(85), fair_min=D(70))
    assert grade_for(D(94), rules) is Grade.GOOD
    assert grade_for(D(69), rules) is Grade.POOR


# --------------------------------------------------------------------------- errors


def test_all_problems_reported_at_once() -> None:
    """Every problem in the inputs is reported in one ScoringError, each with its field path."""
    indicators = [
        ind("O1", Level1.OUTPUT),  # result given as achievement → needs actual
        ind("O2", Level1.OUTPUT, target="about a hundred"),  # quantitative without numeric target
        ind(
            "E1", Level1.EFFECT, Operator.QUALITATIVE
        ),  # result given as actual → needs achievement
        ind("E2", Level1.EFFECT, Operator.QUALITATIVE),  # ratio outside band
        ind("E3", Level1.EFFECT),  # no result at all
        ind("S1", Level1.SATISFACTION),  # duplicate result
    ]
    results = [
        qual("O1", Achievement.ACHIEVED),
        num("O2", 5),
        num("E1", 1),
        qual("E2", Achievement.PARTLY, "0.95"),
        num("S1", 90),
        num("S1", 95),
        num("ZZ", 1),  # unknown code
    ]
    expected = [
        Problem("indicators[1].target", "quantitative indicator 'O2' needs a numeric target"),
        Problem("results[0].actual", "quantitative indicator 'O1' needs an 'actual' value"),
        Problem("results[2].achievement", "qualitative indicator 'E1' needs an 'achievement'"),
        Problem("results[3].ratio", "ratio 0.95 is outside the band of 'partly' [0.6, 0.8]"),
        Problem("results[5].code", "duplicate result for 'S1' (first at results[4])"),
        Problem("results[6].code", "no indicator with code 'ZZ'"),
        Problem("results", "missing result for indicator 'E3'"),
    ]

    assert check_results(indicators, results, DEFAULT_SCORING_RULES) == expected
    with pytest.raises(ScoringError) as caught:
        score_self_evaluation(budget=budget(), indicators=indicators, results=results)
    assert caught.value.problems == expected
    assert isinstance(caught.value, ValueError)
    assert "results[6].code: no indicator with code 'ZZ'" in str(caught.value)


def test_problems_unpack_as_path_and_message() -> None:
    """A problem is a (field_path, message) pair with named access as well."""
    problem = Problem("results[0].code", "no indicator with code 'X'")
    path, message = problem
    assert (path, message) == (problem.field, problem.message)


def test_indicator_set_problems_are_reported() -> None:
    """Duplicate indicator codes and non-positive weights are reported instead of crashing the division."""
    indicators = [ind("O1", Level1.OUTPUT, weight=0), ind("O1", Level1.OUTPUT)]
    problems = check_results(indicators, [num("O1", 100)])
    assert problems == [
        Problem("indicators[0].weight", "indicator 'O1' needs a positive weight"),
        Problem("indicators[1].code", "duplicate indicator code 'O1'"),
    ]


def test_clean_inputs_have_no_problems() -> None:
    """Complete, well-formed results produce no problems."""
    indicators = [ind("O1", Level1.OUTPUT), ind("E1", Level1.EFFECT, Operator.QUALITATIVE)]
    assert check_results(indicators, full_marks(indicators)) == []


@pytest.mark.parametrize(("available", "executed"), [("0", "0"), ("-1", "0"), ("100", "-1")])
def test_budget_figures_refuse_impossible_amounts(available: str, executed: str) -> None:
    """Available must be positive and executed non-negative."""
    with pytest.raises(ValidationError):
        BudgetFigures(available=D(available), executed=D(executed))


# --------------------------------------------------------------------------- serialisation


def test_report_json_shape_round_trips() -> None:
    """The report serialises with Decimals as strings and parses back unchanged."""
    indicators = [ind("O1", Level1.OUTPUT), ind("E1", Level1.EFFECT)]
    report = score_self_evaluation(
        budget=budget(100, 90), indicators=indicators, results=full_marks(indicators)
    )
    data = report.model_dump(mode="json")
    assert data == {
        "total": "99.00",
        "grade": "excellent",
        "grade_zh": "优",
        "parts": {
            "budget_execution": "9.00",
            "output": "50.00",
            "effect": "40.00",
            "satisfaction": "0.00",
        },
        "indicators": [
            {"code": "O1", "ratio": "1.0000", "score": "50.00", "max": "50.00"},
            {"code": "E1", "ratio": "1.0000", "score": "40.00", "max": "40.00"},
        ],
    }
    assert type(report).model_validate_json(report.model_dump_json()) == report
