"""Department assessment (考核): finance's yearly rating of each department's
performance-management work, and the ranking that names the laggards.

Pure: the service counts the facts from the read model (`DepartmentFacts`); the weights are
`AssessmentWeights` (defaults, see there). Three parts, out of 100 together:

- timeliness of duties: full marks less a fixed cost per overdue notice or escalation of a duty
  the department owed (a finance duty running late is not the department's fault);
- escalations suffered: full marks less a cost per warning (预警) and per 问责 record;
- grades of its projects: the mean points of its graded projects' grades, scaled to the part.

Each part is floored at 0; the ranking is by total, then by code, so it is stable.
"""

from __future__ import annotations

from decimal import Decimal

from pydantic import BaseModel, ConfigDict

from models.department_rules import AssessmentWeights
from models.scoring import round_half_up
from models.vocabulary import Grade


class DepartmentFacts(BaseModel):
    """What the read model says about one department's year."""

    model_config = ConfigDict(frozen=True, extra="forbid")

    department: str
    late_duties: int = 0  # overdue notices and escalations of duties the department owed
    warnings: int = 0
    accountability: int = 0
    grades: list[Grade] = []


class AssessmentLine(BaseModel):
    part: str
    points: Decimal
    of: Decimal
    text: str


class DepartmentAssessment(BaseModel):
    department: str
    total: Decimal
    rank: int
    laggard: bool
    lines: list[AssessmentLine]


def _floor(value: Decimal) -> Decimal:
    return max(value, Decimal(0))


def assess(
    facts: DepartmentFacts, weights: AssessmentWeights
) -> tuple[Decimal, list[AssessmentLine]]:
    """One department's points and why."""
    timeliness = _floor(weights.timeliness - weights.per_late_duty * facts.late_duties)
    escalations = _floor(
        weights.escalations
        - weights.per_warning * facts.warnings
        - weights.per_accountability * facts.accountability
    )
    if facts.grades:
        mean = sum((weights.grade_points(g) for g in facts.grades), Decimal(0)) / len(facts.grades)
        grades = round_half_up(weights.grades * mean / 100)
        grades_text = (
            f"{len(facts.grades)} graded project year(s), mean {round_half_up(mean)} points"
        )
    else:
        grades = round_half_up(weights.grades * weights.no_grade_share)
        grades_text = "no graded project: the neutral share"
    lines = [
        AssessmentLine(
            part="timeliness",
            points=timeliness,
            of=weights.timeliness,
            text=f"{facts.late_duties} overdue notice(s) or escalation(s) of its duties",
        ),
        AssessmentLine(
            part="escalations",
            points=escalations,
            of=weights.escalations,
            text=f"{facts.warnings} warning(s), {facts.accountability} accountability record(s)",
        ),
        AssessmentLine(part="grades", points=grades, of=weights.grades, text=grades_text),
    ]
    return round_half_up(timeliness + escalations + grades), lines


def rank(facts: list[DepartmentFacts], weights: AssessmentWeights) -> list[DepartmentAssessment]:
    """Every department ranked, best first; laggards below the threshold or at the bottom."""
    scored = [(f.department, *assess(f, weights)) for f in facts]
    scored.sort(key=lambda s: (-s[1], s[0]))
    count = len(scored)
    bottom = weights.laggard_bottom if count > weights.laggard_bottom else 0
    return [
        DepartmentAssessment(
            department=department,
            total=total,
            rank=i + 1,
            laggard=total < weights.laggard_below or i >= count - bottom,
            lines=lines,
        )
        for i, (department, total, lines) in enumerate(scored)
    ]
