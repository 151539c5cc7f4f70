"""Budget control numbers (预算控制数): the computation and the project's guard on it."""

from __future__ import annotations

from decimal import Decimal
from typing import Any

import pytest

from models.actions import PAYLOADS
from models.control_number import ControlFacts, ProjectYearResult, compute_control_number
from models.department_rules import ControlNumberRules
from models.vocabulary import Grade, Role
from tests import factories as f
from tests.models.test_lifecycle import Driver

# Year 2026 of department D1, worked by hand:
#   base  P1 1,000,000 (中, cut 10 %) + P2 2,000,000 (差, cut 50 %) + P3 500,000 (优) = 3,500,000
#   cuts  −100,000 (P1) −1,000,000 (P2)                                   → 2,400,000
PROJECTS = [
    ProjectYearResult(
        code="P2", approved_amount=Decimal(2_000_000), grade=Grade.POOR, cut_percent=Decimal(50)
    ),
    ProjectYearResult(
        code="P1", approved_amount=Decimal(1_000_000), grade=Grade.FAIR, cut_percent=Decimal(10)
    ),
    ProjectYearResult(code="P3", approved_amount=Decimal(500_000), grade=Grade.EXCELLENT),
]


def _compute(grade: Grade | None, rules: ControlNumberRules | None = None) -> Any:
    return compute_control_number(
        department="D1",
        fiscal_year=2027,
        projects=PROJECTS,
        department_grade=grade,
        rules=rules or ControlNumberRules(),
    )


def test_lines_explain_base_cuts_grade_and_result() -> None:
    """A fair overall grade takes 5 % of what is left after the projects' cuts."""
    number = _compute(Grade.FAIR)
    assert number.results_year == 2026
    assert [(line.kind, line.project_code, line.amount) for line in number.lines] == [
        ("base", None, Decimal("3500000.00")),
        ("project_cut", "P1", Decimal("-100000.00")),
        ("project_cut", "P2", Decimal("-1000000.00")),
        ("grade_adjustment", None, Decimal("-120000.00")),
        ("result", None, Decimal("2280000.00")),
    ]
    assert number.ceiling == Decimal("2280000.00")
    assert "压减 50%" in number.lines[2].text_zh
    assert "等级中" in number.lines[3].text_zh


@pytest.mark.parametrize(
    ("grade", "ceiling"),
    [
        (Grade.EXCELLENT, Decimal("2520000.00")),  # 2,400,000 × 1.05
        (Grade.GOOD, Decimal("2400000.00")),
        (Grade.POOR, Decimal("2160000.00")),  # 2,400,000 × 0.90
        (None, Decimal("2400000.00")),  # not reviewed: no adjustment, said so
    ],
)
def test_overall_grade_moves_the_ceiling_by_the_default_percentages(
    grade: Grade | None, ceiling: Decimal
) -> None:
    """优 +5 %, 良 0, 差 −10 % by default; no grade, no adjustment."""
    assert _compute(grade).ceiling == ceiling


def test_percentages_are_settings() -> None:
    """A changed percentage changes the ceiling (the defaults are only defaults)."""
    rules = ControlNumberRules(fair_percent=Decimal(-20))
    assert _compute(Grade.FAIR, rules).ceiling == Decimal("1920000.00")


def test_no_approved_budget_means_no_basis_and_no_ceiling() -> None:
    """A department's first year: nothing to compute from, so no ceiling (and it says so)."""
    number = compute_control_number(
        department="D9",
        fiscal_year=2027,
        projects=[],
        department_grade=None,
        rules=ControlNumberRules(),
    )
    assert number.ceiling is None
    assert [line.kind for line in number.lines] == ["base"]
    assert "无控制数" in number.lines[0].text_zh


# --- the project's guard ----------------------------------------------------------------------


def _facts(amount: int, *, ceiling: int | None, before: int, granted: bool) -> dict[str, Any]:
    return ControlFacts(
        department="D1",
        fiscal_year=2027,
        reservation_id="r",
        amount=Decimal(amount),
        ceiling=None if ceiling is None else Decimal(ceiling),
        reserved_before=Decimal(before),
        granted=granted,
    ).model_dump(mode="json")


def _approvable() -> Driver:
    d = Driver()
    d.do("submit")
    d.do("submit_goals", f.goals(2027))
    d.do("approve_goals", {"fiscal_year": 2027})
    return d


def test_approval_beyond_the_control_number_is_refused_with_the_reason() -> None:
    """Reserved 700,000 of 1,500,000: another 1,000,000 does not fit, in English and Chinese."""
    d = _approvable()
    body = {
        "fiscal_year": 2027,
        "amount": 1_000_000,
        "control": _facts(1_000_000, ceiling=1_500_000, before=700_000, granted=False),
    }
    assert d.unmet("approve_budget", body) == ["within_control_number"]
    rejection = d.lifecycle.evaluate(
        "approve_budget",
        PAYLOADS["approve_budget"].model_validate(body),
        role=Role.FINANCE,
        today=d.now.date(),
    )
    assert rejection is not None
    [unmet] = rejection.unmet
    assert unmet.message_zh == "部门项目预算累计批复不得超过预算控制数"
    assert "to 1700000, above its control number 1500000" in unmet.message
    assert d.cycle_state(2027) == "goals_approved"


def test_approval_within_the_control_number_or_without_one_passes() -> None:
    """Granted facts within the ceiling, or no control number at all, let the budget through."""
    for control in (_facts(1_000_000, ceiling=1_500_000, before=500_000, granted=True), None):
        d = _approvable()
        d.do("approve_budget", {"fiscal_year": 2027, "amount": 1_000_000, "control": control})
        assert d.cycle_state(2027) == "budget_approved"


def test_facts_for_another_amount_or_department_do_not_count() -> None:
    """A reservation must be this approval's: same department, year and amount."""
    d = _approvable()
    control = _facts(900_000, ceiling=5_000_000, before=0, granted=True)
    assert d.unmet(
        "approve_budget", {"fiscal_year": 2027, "amount": 1_000_000, "control": control}
    ) == ["within_control_number"]
