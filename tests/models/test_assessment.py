"""Ex-ante assessment (事前绩效评估): totals, conclusion bands and the pass mark."""

from __future__ import annotations

from decimal import Decimal

import pytest
from pydantic import ValidationError

from models.assessment import AssessmentRules, AssessmentScores, assess
from models.vocabulary import AssessmentConclusion

D = Decimal


def scores(*points: str) -> AssessmentScores:
    """Five dimension scores in source order."""
    names = ("necessity", "economy", "goal_reasonableness", "feasibility", "financing_compliance")
    return AssessmentScores(**{name: D(p) for name, p in zip(names, points, strict=True)})


@pytest.mark.parametrize(
    ("points", "total", "conclusion", "passed"),
    [
        (("20", "20", "20", "20", "20"), "100.00", AssessmentConclusion.SUPPORT, True),
        (("16", "16", "16", "16", "16"), "80.00", AssessmentConclusion.SUPPORT, True),  # boundary
        # 16 + 16 + 16 + 16 + 15.99 = 79.99
        (
            ("16", "16", "16", "16", "15.99"),
            "79.99",
            AssessmentConclusion.SUPPORT_AFTER_ADJUSTMENT,
            True,
        ),
        (
            ("12", "12", "12", "12", "12"),
            "60.00",
            AssessmentConclusion.SUPPORT_AFTER_ADJUSTMENT,
            True,
        ),  # boundary
        (("12", "12", "12", "12", "11.99"), "59.99", AssessmentConclusion.REJECT, False),
        # 12 × 4 + 11.995 = 59.995 → half-up 60.00: judged on the total shown
        (
            ("12", "12", "12", "12", "11.995"),
            "60.00",
            AssessmentConclusion.SUPPORT_AFTER_ADJUSTMENT,
            True,
        ),
        (("0", "0", "0", "0", "0"), "0.00", AssessmentConclusion.REJECT, False),
    ],
)
def test_conclusion_bands(
    points: tuple[str, ...], total: str, conclusion: AssessmentConclusion, passed: bool
) -> None:
    """≥ 80 support, ≥ 60 support after adjustment, else reject; pass at ≥ 60."""
    outcome = assess(scores(*points))
    assert outcome.total == D(total)
    assert outcome.conclusion is conclusion
    assert outcome.passed is passed


def test_configured_rules_move_the_bands_and_pass_mark() -> None:
    """A stricter configuration changes both the conclusion and the pass mark independently."""
    # 15 × 5 = 75: adjustment band under (90, 70); below a pass mark of 80.
    rules = AssessmentRules(
        support_min=D(90), support_after_adjustment_min=D(70), pass_threshold=D(80)
    )
    outcome = assess(scores("15", "15", "15", "15", "15"), rules)
    assert outcome.conclusion is AssessmentConclusion.SUPPORT_AFTER_ADJUSTMENT
    assert outcome.passed is False


def test_rules_with_bands_out_of_order_are_refused() -> None:
    """The adjustment floor may not exceed the support floor."""
    with pytest.raises(ValidationError):
        AssessmentRules(support_min=D(60), support_after_adjustment_min=D(70))


@pytest.mark.parametrize("bad", ["-0.01", "20.01", "100"])
def test_dimension_scores_stay_within_0_to_20(bad: str) -> None:
    """Each dimension is scored 0–20."""
    with pytest.raises(ValidationError):
        scores(bad, "10", "10", "10", "10")


def test_unknown_or_missing_dimensions_are_refused() -> None:
    """Exactly the five dimensions of the source are accepted."""
    five = {
        "necessity": 1,
        "economy": 1,
        "goal_reasonableness": 1,
        "feasibility": 1,
        "financing_compliance": 1,
    }
    with pytest.raises(ValidationError):
        AssessmentScores.model_validate({**five, "popularity": 1})
    with pytest.raises(ValidationError):
        AssessmentScores.model_validate({k: v for k, v in five.items() if k != "economy"})
