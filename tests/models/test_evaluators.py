"""Independence of evaluators (利益冲突回避) and the reproducible draw among eligible experts."""

from __future__ import annotations

from datetime import UTC, datetime

import pytest

from models.evaluators import ExpertFacts, NotEnoughEligibleError, conflicts_of, draw_evaluators
from models.project_state import Actor, ProjectInfo, ProjectState
from models.vocabulary import Role
from tests import factories as f
from tests.models.test_lifecycle import Driver

AT = datetime(2026, 11, 1, tzinfo=UTC)


def _expert(
    expert_id: int,
    *,
    name: str | None = None,
    kind: str = "expert",
    username: str | None = None,
    department: str | None = None,
    institution: str | None = None,
    specialities: tuple[str, ...] = ("交通",),
    suspended: bool = False,
) -> ExpertFacts:
    return ExpertFacts(
        expert_id=expert_id,
        name=name or f"专家{expert_id}",
        kind=kind,
        username=username,
        department=department,
        institution=institution,
        specialities=frozenset(specialities),
        suspended=suspended,
    )


def _assessed_project() -> ProjectState:
    """A major project of D1, owner 张三, filed by `clerk`, assessed ex ante by 甲评估公司."""
    d = Driver(major=True)
    d.do("submit")
    d.do("submit_assessment", {**f.assessment(), "institution": "甲评估公司"})
    return d.state


def test_an_independent_expert_has_no_conflict() -> None:
    """Another department, not involved, another institution: eligible."""
    expert = _expert(1, department="D2", institution="乙大学", username="prof")
    assert conflicts_of(expert.as_evaluator(), _assessed_project()) == []


@pytest.mark.parametrize(
    ("expert", "words"),
    [
        (_expert(1, department="D1"), "same department"),
        (_expert(2, name="张三"), "involved"),
        (_expert(3, username="clerk"), "involved"),
        (_expert(4, institution="甲评估公司"), "assessed the project ex ante"),
        (_expert(5, name="甲评估公司", kind="institution"), "assessed the project ex ante"),
    ],
)
def test_each_conflict_is_named(expert: ExpertFacts, words: str) -> None:
    """Same department, the owner, an actor in the history, the ex-ante assessor are conflicts."""
    reasons = conflicts_of(expert.as_evaluator(), _assessed_project())
    assert len(reasons) == 1
    assert words in reasons[0]


def test_no_assessment_institution_means_no_institution_conflict() -> None:
    """A project assessed by itself (no institution) conflicts with no institution."""
    info = ProjectInfo(**f.filing(), department="D1")
    project = ProjectState.filed(
        info, actor=Actor(username="clerk", role=Role.DEPARTMENT, department="D1"), at=AT
    )
    assert (
        conflicts_of(_expert(5, name="甲评估公司", kind="institution").as_evaluator(), project)
        == []
    )


LIBRARY = [
    _expert(1, department="D1"),  # conflict
    _expert(2, suspended=True),  # suspended
    _expert(3, specialities=("教育",)),  # other speciality
    _expert(4),
    _expert(5),
    _expert(6),
    _expert(7, specialities=("交通", "教育")),
]


def test_draw_excludes_conflicts_suspensions_and_other_specialities() -> None:
    """Eligible for 交通: 4, 5, 6, 7; 1 and 2 are excluded with their reasons; 3 lacks 交通."""
    draw = draw_evaluators(LIBRARY, _assessed_project(), speciality="交通", count=2, seed=99)
    assert draw.eligible == [4, 5, 6, 7]
    assert set(draw.excluded) == {"1", "2"}
    assert "same department" in draw.excluded["1"][0]
    assert "suspended" in draw.excluded["2"][0]
    assert len(draw.drawn) == 2
    assert set(draw.drawn) <= {4, 5, 6, 7}
    assert draw.seed == 99


def test_the_same_seed_draws_the_same_experts() -> None:
    """A draw is reproducible from its seed and eligible list, whatever the library's order."""
    project = _assessed_project()
    first = draw_evaluators(LIBRARY, project, speciality=None, count=3, seed=2027)
    again = draw_evaluators(list(reversed(LIBRARY)), project, speciality=None, count=3, seed=2027)
    assert first == again
    assert {
        tuple(draw_evaluators(LIBRARY, project, speciality=None, count=3, seed=s).drawn)
        for s in range(20)
    } != {tuple(first.drawn)}


def test_too_few_eligible_experts_is_an_error_naming_the_numbers() -> None:
    """Asking five 交通 experts when four are eligible fails and says so."""
    with pytest.raises(
        NotEnoughEligibleError, match="4 eligible expert\\(s\\) with speciality '交通', 5"
    ):
        draw_evaluators(LIBRARY, _assessed_project(), speciality="交通", count=5, seed=1)
