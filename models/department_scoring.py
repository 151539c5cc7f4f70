"""Scoring a department's overall self-evaluation (部门整体绩效自评).

Each indicator earns its weight times its ratio, judged exactly as a project indicator is
(`models.scoring`: min(actual/target, 1) and its variants for quantitative ones, the
achievement bands for qualitative ones); the total is that share of the summed weights, out of
100, graded 优 ≥ 90, 良 ≥ 80, 中 ≥ 60, 差 < 60 (`ScoringRules`).
"""

from __future__ import annotations

from collections.abc import Sequence
from decimal import Decimal

from models.department_state import DepartmentIndicator
from models.indicators import IndicatorResult
from models.scoring import (
    Problem,
    ScoringRules,
    grade_for,
    qualitative_ratio,
    quantitative_ratio,
    round_half_up,
)
from models.vocabulary import Grade, Operator


def check_overall_results(
    indicators: Sequence[DepartmentIndicator],
    results: Sequence[IndicatorResult],
    rules: ScoringRules,
) -> list[Problem]:
    """Every reason the results cannot be scored: one result per indicator, of the right kind."""
    problems: list[Problem] = []
    by_code = {i.code: i for i in indicators}
    seen: set[str] = set()
    for j, res in enumerate(results):
        where = f"results[{j}]"
        if res.code in seen:
            problems.append(Problem(f"{where}.code", f"duplicate result for '{res.code}'"))
            continue
        seen.add(res.code)
        ind = by_code.get(res.code)
        if ind is None:
            problems.append(Problem(f"{where}.code", f"no indicator with code '{res.code}'"))
        elif ind.operator is not Operator.QUALITATIVE:
            if res.actual is None:
                problems.append(
                    Problem(f"{where}.actual", f"indicator '{res.code}' needs an 'actual' value")
                )
        elif res.achievement is None:
            problems.append(
                Problem(f"{where}.achievement", f"indicator '{res.code}' needs an 'achievement'")
            )
        elif res.ratio is not None and not rules.band(res.achievement).contains(res.ratio):
            problems.append(
                Problem(f"{where}.ratio", f"ratio {res.ratio} is outside the achievement's band")
            )
    problems.extend(
        Problem("results", f"missing result for indicator '{code}'")
        for code in by_code
        if code not in seen
    )
    return problems


def score_overall(
    indicators: Sequence[DepartmentIndicator],
    results: Sequence[IndicatorResult],
    rules: ScoringRules,
) -> tuple[Decimal, Grade]:
    """The overall score (0–100, cents) and grade; the results must pass the check first."""
    by_code = {r.code: r for r in results}
    earned = Decimal(0)
    total_weight = sum((i.weight for i in indicators), Decimal(0))
    for ind in indicators:
        res = by_code[ind.code]
        if ind.operator is Operator.QUALITATIVE:
            assert res.achievement is not None
            ratio = qualitative_ratio(res.achievement, res.ratio, rules)
        else:
            target, actual = ind.numeric_target, res.actual
            assert target is not None
            assert actual is not None
            ratio = quantitative_ratio(ind.operator, target, actual)
        earned += ratio * ind.weight
    score = round_half_up(earned / total_weight * 100) if total_weight else Decimal(0)
    return score, grade_for(score, rules)
