"""Duties of a department's fiscal year (部门整体绩效), and when their ladder rungs fire.

The project's duty and ladder machinery (`models.duties`, `models.escalation`), applied to a
department year: its overall goals of year N are due on the projects' goals date in N−1, its
overall self-evaluation on the self-evaluation date of N+1 (31 March), finance's review on the
review date of N+1 (30 June). Derived from the state, never stored: the action that discharges
a duty makes it disappear, which stops its ladder at once.
"""

from __future__ import annotations

from datetime import date, datetime

from models.department_state import DepartmentYearState
from models.duties import Duty, DutyKind, late_start
from models.escalation import Firing, ladder_firings, next_unfired, unfired_due
from models.rules import Rules

# The state in which each duty is owed: where the action that discharges it may be taken.
OWED_IN: dict[str, DutyKind] = {
    "goals_drafted": DutyKind.GOALS,  # submit_goals (again, after finance returned them)
    "budget_approved": DutyKind.SELF_EVALUATION,  # submit_self_evaluation
    "self_evaluated": DutyKind.REVIEW,  # review_self_evaluation (finance's ladder)
}


def department_duties(year: DepartmentYearState, rules: Rules) -> list[Duty]:
    """What the department (or finance) owes for this year now, with its due date."""
    kind = OWED_IN.get(year.state)
    if kind is None:
        return []
    calendar, n = rules.calendar, year.info.fiscal_year
    due = {
        DutyKind.GOALS: calendar.due(calendar.goals_due, n - 1),
        DutyKind.SELF_EVALUATION: calendar.due(calendar.self_evaluation_due, n + 1),
        DutyKind.REVIEW: calendar.due(calendar.review_due, n + 1),
    }[kind]
    return [Duty(kind=kind, fiscal_year=n, due=late_start(due, _arisen(year), calendar))]


def _arisen(year: DepartmentYearState) -> date | None:
    """When the duty of the current state arose: that state entered, or the year opened."""
    at: datetime | None = year.entered.get(year.state, year.opened_at)
    return at.date() if at is not None else None


def department_due_firings(year: DepartmentYearState, rules: Rules, now: datetime) -> list[Firing]:
    return unfired_due(ladder_firings(department_duties(year, rules), rules), year.escalations, now)


def department_next_firing(
    year: DepartmentYearState, rules: Rules, now: datetime
) -> datetime | None:
    return next_unfired(
        ladder_firings(department_duties(year, rules), rules), year.escalations, now
    )
