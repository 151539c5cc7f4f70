"""Result application (评价结果应用): what a reviewed grade does to the project."""

from __future__ import annotations

from dataclasses import dataclass
from decimal import Decimal

from models.lifecycle import CYCLE_STATES
from models.project_state import ProjectState
from models.rules import ResultRules
from models.vocabulary import Grade, ResultConsequence

_BUDGET_APPROVED_INDEX = CYCLE_STATES.index("budget_approved")


@dataclass(frozen=True)
class Application:
    consequence: ResultConsequence
    cut_percent: Decimal
    cut_applies_to: int | None
    public_notice: bool
    rectification: bool
    propose_exit: bool


def needs_rectification(grade: Grade) -> bool:
    return grade in (Grade.FAIR, Grade.POOR)


def next_open_budget_year(project: ProjectState, after: int) -> int:
    """The first fiscal year after `after` whose budget is not yet approved: where a cut lands.

    A review of year N happens in N+1, usually after N+1's budget was approved, so the cut
    normally reaches N+2 — "and N+1 where it is still open" (DOMAIN.md).
    """
    year = after + 1
    while True:
        cycle = project.cycle(year)
        if cycle is None or CYCLE_STATES.index(cycle.state) < _BUDGET_APPROVED_INDEX:
            return year
        year += 1


def apply_grade(
    *, project: ProjectState, fiscal_year: int, grade: Grade, rules: ResultRules
) -> Application:
    """Decide the consequence of a reviewed grade for the given year of the project."""
    if grade is Grade.EXCELLENT:
        consequence, cut, notice = ResultConsequence.PRIORITY, Decimal(0), False
    elif grade is Grade.GOOD:
        consequence, cut, notice = ResultConsequence.KEEP, Decimal(0), False
    elif grade is Grade.FAIR:
        consequence, cut, notice = ResultConsequence.CUT_AND_RECTIFY, rules.fair_cut_percent, False
    else:
        consequence, cut, notice = (
            ResultConsequence.CUT_RECTIFY_AND_NOTIFY,
            rules.poor_cut_percent,
            True,
        )
    applies_to = next_open_budget_year(project, fiscal_year) if cut > 0 else None
    if applies_to is not None and applies_to > project.info.end_year:
        applies_to = None  # nothing left to cut: the project ends before that year
    return Application(
        consequence=consequence,
        cut_percent=cut,
        cut_applies_to=applies_to,
        public_notice=notice,
        rectification=needs_rectification(grade),
        propose_exit=grade is Grade.POOR
        and _poor_streak(project, fiscal_year) >= rules.poor_years_to_exit,
    )


def _poor_streak(project: ProjectState, fiscal_year: int) -> int:
    """Poor years in a row ending with `fiscal_year` (counting that year as poor)."""
    streak, year = 1, fiscal_year - 1
    while (cycle := project.cycle(year)) is not None and cycle.applied_grade is not None:
        if cycle.applied_grade is not Grade.POOR:
            break
        streak, year = streak + 1, year - 1
    return streak


def cut_percent_for(project: ProjectState, fiscal_year: int) -> Decimal:
    """The cut that applies to a year's approvable amount: the largest one aimed at it.

    A year's key evaluation replaces the cut of its review (its grade overrides).
    """
    cuts: list[Decimal] = []
    for c in project.cycles:
        applied = c.key_result or c.review
        if applied is not None and applied.cut_applies_to == fiscal_year:
            cuts.append(applied.cut_percent)
    return max(cuts, default=Decimal(0))
