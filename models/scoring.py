"""Self-evaluation scoring (单位自评打分), after 财预〔2020〕10号 and its self-evaluation table.

Why a pure module: the score decides the grade, the grade decides budget cuts and public
notification. It must be reproducible by hand from the rules below, identical inside a Temporal
workflow (deterministic, no I/O) and in the API, and every number in it is a configurable
default (`ScoringRules`) rather than something buried in code.

The rules (DOMAIN.md, stage 4):

* Parts of the 100 points: budget execution 10, output 50, effect 30, satisfaction 10. When no
  satisfaction indicator is set, its points go to effect (→ 40). A group without indicators
  contributes 0 and its maximum is 0: missing output or effect indicators simply lose points
  (goal review should have refused such a set; scoring does not invent indicators).
* Budget execution score = max × min(executed / available, 1).
* Inside a group, an indicator's maximum = group maximum × weight / sum of the group's weights.
* Indicator score = maximum × ratio, the ratio clamped to [0, 1] (see `quantitative_ratio` and
  `qualitative_ratio`).
* Total = sum of the unrounded parts, rounded half-up to 2 decimals; the grade is taken from
  that rounded total, so the grade always matches the number people see. Parts and indicator
  scores are rounded to 2 decimals (ratios to 4) for display only, so the displayed parts may
  differ from the total by a cent.

Numbers stay `Decimal` end to end, in the report too: pydantic serialises them to JSON strings
(e.g. ``"89.99"``), which round-trips losslessly through workflow history and the read model,
like every other amount in this project.
"""

from __future__ import annotations

from collections.abc import Sequence
from decimal import ROUND_HALF_UP, Decimal
from typing import Annotated, NamedTuple, Self

from pydantic import BaseModel, ConfigDict, Field, model_validator

from models.indicators import Indicator, IndicatorResult
from models.vocabulary import GRADE_ZH, Achievement, Grade, Level1, Operator

ZERO = Decimal(0)
ONE = Decimal(1)
CENT = Decimal("0.01")
RATIO_PLACES = Decimal("0.0001")

Share = Annotated[Decimal, Field(ge=0, le=1)]
Points = Annotated[Decimal, Field(ge=0, le=100)]


def round_half_up(value: Decimal, places: Decimal = CENT) -> Decimal:
    """Round the way finance tables do (half-up), not Python's banker's rounding."""
    return value.quantize(places, rounding=ROUND_HALF_UP)


# --------------------------------------------------------------------------- rules


class Band(BaseModel):
    """The share of an indicator's points a qualitative achievement may earn.

    Bounds are inclusive on both ends, so neighbouring bands share their boundary (0.8 is both
    the top of "partly" and the bottom of "achieved"): an evaluator on the line is never wrong.
    """

    model_config = ConfigDict(frozen=True, extra="forbid")

    low: Share
    high: Share
    default: Share  # used when the result gives no explicit ratio

    @model_validator(mode="after")
    def _ordered(self) -> Self:
        if not self.low <= self.default <= self.high:
            raise ValueError(
                f"band needs low ≤ default ≤ high, got {self.low}, {self.default}, {self.high}"
            )
        return self

    def contains(self, ratio: Decimal) -> bool:
        """Whether an explicitly given ratio is allowed for this achievement."""
        return self.low <= ratio <= self.high


class ScoringRules(BaseModel):
    """Every number of self-evaluation scoring; the defaults are 财预〔2020〕10号 practice."""

    model_config = ConfigDict(frozen=True, extra="forbid")

    budget_execution_max: Points = Decimal(10)
    output_max: Points = Decimal(50)
    effect_max: Points = Decimal(30)
    # Goes to effect when a project sets no satisfaction indicator (DOMAIN.md default).
    satisfaction_max: Points = Decimal(10)

    achieved: Band = Band(low=Decimal("0.8"), high=Decimal(1), default=Decimal(1))
    partly: Band = Band(low=Decimal("0.6"), high=Decimal("0.8"), default=Decimal("0.7"))
    not_achieved: Band = Band(low=Decimal(0), high=Decimal("0.6"), default=Decimal("0.3"))

    # Grade floors on the rounded total: 优 ≥ 90, 良 ≥ 80, 中 ≥ 60, else 差.
    excellent_min: Points = Decimal(90)
    good_min: Points = Decimal(80)
    fair_min: Points = Decimal(60)

    @model_validator(mode="after")
    def _consistent(self) -> Self:
        # The grade floors are points out of 100, so the parts must add up to 100.
        parts = (
            self.budget_execution_max + self.output_max + self.effect_max + self.satisfaction_max
        )
        if parts != 100:
            raise ValueError(f"the four part maxima must sum to 100, got {parts}")
        # Strict order, or a grade would become unreachable.
        if not self.fair_min < self.good_min < self.excellent_min:
            raise ValueError("grade floors need fair_min < good_min < excellent_min")
        return self

    def band(self, achievement: Achievement) -> Band:
        """The band of one qualitative achievement."""
        match achievement:
            case Achievement.ACHIEVED:
                return self.achieved
            case Achievement.PARTLY:
                return self.partly
            case Achievement.NOT_ACHIEVED:
                return self.not_achieved


DEFAULT_SCORING_RULES = ScoringRules()


# --------------------------------------------------------------------------- inputs and report


class BudgetFigures(BaseModel):
    """The money side of the year: what was available to spend and what was spent."""

    model_config = ConfigDict(frozen=True, extra="forbid")

    available: Annotated[Decimal, Field(gt=0)]  # > 0: the execution rate divides by it
    executed: Annotated[Decimal, Field(ge=0)]


class ScoreParts(BaseModel):
    """The four parts of the total, each rounded half-up to 2 decimals for display."""

    model_config = ConfigDict(frozen=True, extra="forbid")

    budget_execution: Decimal
    output: Decimal
    effect: Decimal
    satisfaction: Decimal


class IndicatorScore(BaseModel):
    """One indicator's line in the report: ratio (4 decimals), score and maximum (2 decimals)."""

    model_config = ConfigDict(frozen=True, extra="forbid")

    code: str
    ratio: Decimal
    score: Decimal
    max: Decimal


class ScoreReport(BaseModel):
    """The self-evaluation score sheet.

    JSON shape (Decimals serialise as strings)::

        {"total": "89.00", "grade": "good", "grade_zh": "良",
         "parts": {"budget_execution": "9.00", "output": "46.00", "effect": "34.00",
                   "satisfaction": "0.00"},
         "indicators": [{"code": "O1", "ratio": "0.8000", "score": "16.00", "max": "20.00"}, ...]}
    """

    model_config = ConfigDict(frozen=True, extra="forbid")

    total: Decimal
    grade: Grade
    grade_zh: str
    parts: ScoreParts
    indicators: list[IndicatorScore]


# --------------------------------------------------------------------------- errors


class Problem(NamedTuple):
    """One thing wrong with the inputs: where (a field path such as ``results[2].actual``) and what."""

    field: str
    message: str


class ScoringError(ValueError):
    """The inputs cannot be scored; carries every problem found, so they can all be fixed at once."""

    def __init__(self, problems: Sequence[Problem]) -> None:
        self.problems: list[Problem] = list(problems)
        super().__init__("; ".join(f"{p.field}: {p.message}" for p in self.problems))


# --------------------------------------------------------------------------- ratios


def quantitative_ratio(operator: Operator, target: Decimal, actual: Decimal) -> Decimal:
    """The share of the points a quantitative result earns, clamped to [0, 1].

    Shared with monitoring (goal achievement), so both stages judge an indicator the same way.

    * ``>=`` / ``>``: 1 if actual ≥ target, else actual / target.
    * ``<=`` / ``<``: 1 if actual ≤ target, else target / actual.
    * ``=``: max(0, 1 − |actual − target| / |target|).

    Strict and non-strict operators score alike: at equality the proportional formula already
    gives exactly 1, and the self-evaluation table draws no line between them.

    Edge cases, decided here once:

    * Proportional credit needs a positive target. A missed ``>=``/``<=`` target that is 0 or
      negative earns 0: e.g. ``<= 0`` with actual 3 → 0; ``>= 0`` with actual −1 → 0;
      ``>= -5`` with actual −10 → 0 (dividing two negatives would otherwise reward the miss).
    * target 0 with ``>=``: met (→ 1) for any actual ≥ 0.
    * actual 0 with ``<=`` and a target ≥ 0: met (→ 1); the division target/actual is never
      reached, so it never divides by zero.
    * ``=`` with target 0: 1 if actual is exactly 0, else 0 (no scale to measure the miss by).
    * Negative actuals against a positive ``>=`` target give a negative quotient → clamped to 0;
      a negative target for ``=`` is measured against |target|.
    """
    match operator:
        case Operator.GE | Operator.GT:
            if actual >= target:
                return ONE
            return _clamp(actual / target) if target > 0 else ZERO
        case Operator.LE | Operator.LT:
            if actual <= target:
                return ONE
            return _clamp(target / actual) if target > 0 else ZERO
        case Operator.EQ:
            if target == 0:
                return ONE if actual == 0 else ZERO
            return _clamp(ONE - abs(actual - target) / abs(target))
        case Operator.QUALITATIVE:
            raise ValueError("a qualitative indicator has no quantitative ratio")


def qualitative_ratio(
    achievement: Achievement, ratio: Decimal | None, rules: ScoringRules = DEFAULT_SCORING_RULES
) -> Decimal:
    """The evaluator's ratio if given (it must lie in the achievement's band), else the band default."""
    band = rules.band(achievement)
    if ratio is None:
        return band.default
    if not band.contains(ratio):
        raise ValueError(_band_message(achievement, ratio, band))
    return _clamp(ratio)


def _clamp(value: Decimal) -> Decimal:
    return max(ZERO, min(ONE, value))


def _band_message(achievement: Achievement, ratio: Decimal, band: Band) -> str:
    return f"ratio {ratio} is outside the band of '{achievement}' [{band.low}, {band.high}]"


# --------------------------------------------------------------------------- checking


def check_results(
    indicators: Sequence[Indicator],
    results: Sequence[IndicatorResult],
    rules: ScoringRules = DEFAULT_SCORING_RULES,
) -> list[Problem]:
    """Every reason the results cannot be scored against the indicators; empty when they can.

    A guard in its own right (the workflow refuses a self-evaluation it could not score) and the
    precondition of `score_self_evaluation`, which therefore never fails half-way.
    """
    problems: list[Problem] = []

    by_code: dict[str, Indicator] = {}
    for i, ind in enumerate(indicators):
        if ind.code in by_code:
            problems.append(
                Problem(f"indicators[{i}].code", f"duplicate indicator code '{ind.code}'")
            )
            continue
        by_code[ind.code] = ind
        if ind.weight <= 0:
            problems.append(
                Problem(
                    f"indicators[{i}].weight", f"indicator '{ind.code}' needs a positive weight"
                )
            )
        if ind.quantitative and ind.numeric_target is None:
            problems.append(
                Problem(
                    f"indicators[{i}].target",
                    f"quantitative indicator '{ind.code}' needs a numeric target",
                )
            )

    seen: dict[str, int] = {}
    for j, res in enumerate(results):
        where = f"results[{j}]"
        if res.code in seen:
            problems.append(
                Problem(
                    f"{where}.code",
                    f"duplicate result for '{res.code}' (first at results[{seen[res.code]}])",
                )
            )
            continue
        seen[res.code] = j
        found = by_code.get(res.code)
        if found is None:
            problems.append(Problem(f"{where}.code", f"no indicator with code '{res.code}'"))
        elif found.quantitative:
            if res.actual is None:
                problems.append(
                    Problem(
                        f"{where}.actual",
                        f"quantitative indicator '{res.code}' needs an 'actual' value",
                    )
                )
        elif res.achievement is None:
            problems.append(
                Problem(
                    f"{where}.achievement",
                    f"qualitative indicator '{res.code}' needs an 'achievement'",
                )
            )
        elif res.ratio is not None and not rules.band(res.achievement).contains(res.ratio):
            band = rules.band(res.achievement)
            problems.append(
                Problem(f"{where}.ratio", _band_message(res.achievement, res.ratio, band))
            )

    problems.extend(
        Problem("results", f"missing result for indicator '{code}'")
        for code in by_code
        if code not in seen
    )
    return problems


# --------------------------------------------------------------------------- scoring


def grade_for(total: Decimal, rules: ScoringRules = DEFAULT_SCORING_RULES) -> Grade:
    """The grade of a total, judged on the total rounded half-up to cents (as it is shown).

    Rounding here too means a caller passing an unrounded score (89.995) gets the same grade
    (优) as the report that displays it (90.00).
    """
    shown = round_half_up(total)
    if shown >= rules.excellent_min:
        return Grade.EXCELLENT
    if shown >= rules.good_min:
        return Grade.GOOD
    if shown >= rules.fair_min:
        return Grade.FAIR
    return Grade.POOR


def group_maxima(
    indicators: Sequence[Indicator], rules: ScoringRules = DEFAULT_SCORING_RULES
) -> dict[Level1, Decimal]:
    """What each indicator group is worth for this set of indicators.

    An empty group is worth 0; with no satisfaction indicator its points move to effect, but
    only if there is an effect indicator to carry them.
    """
    present = {ind.level1 for ind in indicators}
    has_satisfaction = Level1.SATISFACTION in present
    effect_max = rules.effect_max if has_satisfaction else rules.effect_max + rules.satisfaction_max
    return {
        Level1.OUTPUT: rules.output_max if Level1.OUTPUT in present else ZERO,
        Level1.EFFECT: effect_max if Level1.EFFECT in present else ZERO,
        Level1.SATISFACTION: rules.satisfaction_max if has_satisfaction else ZERO,
    }


def score_self_evaluation(
    *,
    budget: BudgetFigures,
    indicators: Sequence[Indicator],
    results: Sequence[IndicatorResult],
    rules: ScoringRules = DEFAULT_SCORING_RULES,
) -> ScoreReport:
    """Score a year's self-evaluation; raise `ScoringError` listing every problem if it cannot."""
    problems = check_results(indicators, results, rules)
    if problems:
        raise ScoringError(problems)

    execution_rate = min(budget.executed / budget.available, ONE)
    budget_score = rules.budget_execution_max * execution_rate

    maxima = group_maxima(indicators, rules)
    weight_sums: dict[Level1, Decimal] = dict.fromkeys(Level1, ZERO)
    for ind in indicators:
        weight_sums[ind.level1] += ind.weight

    result_for = {res.code: res for res in results}
    group_scores: dict[Level1, Decimal] = dict.fromkeys(Level1, ZERO)
    lines: list[IndicatorScore] = []
    for ind in indicators:
        ratio = _ratio(ind, result_for[ind.code], rules)
        ind_max = maxima[ind.level1] * ind.weight / weight_sums[ind.level1]
        score = ind_max * ratio
        group_scores[ind.level1] += score
        lines.append(
            IndicatorScore(
                code=ind.code,
                ratio=round_half_up(ratio, RATIO_PLACES),
                score=round_half_up(score),
                max=round_half_up(ind_max),
            )
        )

    total = round_half_up(budget_score + sum(group_scores.values(), ZERO))
    grade = grade_for(total, rules)
    return ScoreReport(
        total=total,
        grade=grade,
        grade_zh=GRADE_ZH[grade],
        parts=ScoreParts(
            budget_execution=round_half_up(budget_score),
            output=round_half_up(group_scores[Level1.OUTPUT]),
            effect=round_half_up(group_scores[Level1.EFFECT]),
            satisfaction=round_half_up(group_scores[Level1.SATISFACTION]),
        ),
        indicators=lines,
    )


def _ratio(ind: Indicator, res: IndicatorResult, rules: ScoringRules) -> Decimal:
    # check_results has vouched for the presence of target/actual/achievement.
    if ind.quantitative:
        assert ind.numeric_target is not None
        assert res.actual is not None
        return quantitative_ratio(ind.operator, ind.numeric_target, res.actual)
    assert res.achievement is not None
    return qualitative_ratio(res.achievement, res.ratio, rules)
