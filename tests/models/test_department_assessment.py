"""Department assessment (考核): the scoring of each department and the ranking's laggards."""

from __future__ import annotations

from decimal import Decimal

import pytest
from pydantic import ValidationError

from models.department_assessment import DepartmentFacts, assess, rank
from models.department_rules import AssessmentWeights
from models.vocabulary import Grade

W = AssessmentWeights()


def test_a_clean_department_with_excellent_projects_scores_100() -> None:
    """No late duty, no escalation, every project 优: full marks in every part."""
    total, lines = assess(DepartmentFacts(department="D1", grades=[Grade.EXCELLENT]), W)
    assert total == Decimal(100)
    assert [(line.part, line.points) for line in lines] == [
        ("timeliness", Decimal(30)),
        ("escalations", Decimal(20)),
        ("grades", Decimal(50)),
    ]


def test_each_fact_costs_its_default_points() -> None:
    """Worked by hand: 2 late duties (30−10), 1 warning and 1 问责 (20−5−10),
    grades 良 and 差 (mean 62.5 → 31.25 of 50): 20 + 5 + 31.25 = 56.25."""
    facts = DepartmentFacts(
        department="D2",
        late_duties=2,
        warnings=1,
        accountability=1,
        grades=[Grade.GOOD, Grade.POOR],
    )
    total, lines = assess(facts, W)
    assert [line.points for line in lines] == [Decimal(20), Decimal(5), Decimal("31.25")]
    assert total == Decimal("56.25")


def test_parts_never_go_below_zero() -> None:
    """Ten late duties cost the whole timeliness part and no more."""
    total, lines = assess(DepartmentFacts(department="D3", late_duties=10, warnings=9), W)
    assert [line.points for line in lines[:2]] == [Decimal(0), Decimal(0)]
    assert total == Decimal(25)  # the neutral share of the grades part, nothing graded


def test_ranking_is_by_total_then_code_and_marks_laggards() -> None:
    """Best first; below 60 or last is a laggard."""
    facts = [
        DepartmentFacts(department="D3", grades=[Grade.GOOD]),  # 30 + 20 + 42.5 = 92.5
        DepartmentFacts(department="D1", grades=[Grade.EXCELLENT]),  # 100
        DepartmentFacts(department="D2", grades=[Grade.GOOD]),  # 92.5, D2 before D3
        DepartmentFacts(department="D4", late_duties=6, grades=[Grade.FAIR]),  # 0 + 20 + 35 = 55
    ]
    ranking = rank(facts, W)
    assert [(a.department, a.rank, a.total, a.laggard) for a in ranking] == [
        ("D1", 1, Decimal(100), False),
        ("D2", 2, Decimal("92.50"), False),
        ("D3", 3, Decimal("92.50"), False),
        ("D4", 4, Decimal(55), True),
    ]


def test_the_last_is_a_laggard_even_above_the_threshold() -> None:
    """The bottom of the ranking is talked to (default: the last one), however good."""
    ranking = rank(
        [
            DepartmentFacts(department="D1", grades=[Grade.EXCELLENT]),
            DepartmentFacts(department="D2", grades=[Grade.GOOD]),
        ],
        W,
    )
    assert [a.laggard for a in ranking] == [False, True]
    alone = rank([DepartmentFacts(department="D1", grades=[Grade.EXCELLENT])], W)
    assert [a.laggard for a in alone] == [False]  # one department is no ranking to be last in


def test_weights_must_total_100() -> None:
    """The three parts are shares of 100."""
    with pytest.raises(ValidationError, match="must total 100"):
        AssessmentWeights(timeliness=Decimal(40))
