"""What the dashboards show, read from the SQL read model only (never workflow queries).

Every query is an aggregate over indexed columns or a bounded page, so a dashboard stays fast
with tens of thousands of projects: counts by state and warning, grades by department and
year, the cuts decided, the overdue duties (found through the `overdue` history entries the
escalation ladder writes, then confirmed on those projects' states), and a department's to-do
list (from its own open projects).
"""

from __future__ import annotations

from collections import defaultdict
from dataclasses import dataclass
from datetime import date, datetime
from decimal import Decimal
from typing import Any, TypeVar

from sqlalchemy import Select, func, select
from sqlmodel import Session, col

from models.department_duties import OWED_IN, department_duties
from models.department_state import DepartmentYearState
from models.department_tables import DepartmentYearRow
from models.duties import FINANCE_WAITING_STATES, OWNER, Duty, open_duties
from models.engine_time import business_today
from models.escalation import is_overdue
from models.evaluator_tables import EvaluatorAssignmentRow
from models.lifecycle import CYCLE_OPEN_STATES, CYCLE_STATES, PROJECT_STATES
from models.project_state import ProjectState
from models.rules import Rules
from models.tables import CycleRow, HistoryRow, ProjectRow
from models.vocabulary import Role
from service.auth import Principal
from service.projects import READ_ALL
from service.web.charts import SETTLED

# Bounds that keep a dashboard's cost independent of the number of projects.
OVERDUE_SCAN = 200  # most recent overdue notices looked at
OVERDUE_SHOWN = 100  # the most overdue first
TODO_SCAN = 500  # open projects looked at for a to-do list (a department's, finance's)
CUTS_SHOWN = 50


@dataclass(frozen=True)
class TodoItem:
    code: str  # the project's, or the department's for a department year
    name: str  # the project's ("" for a department year: the page names the department)
    kind: str  # DutyKind value
    fiscal_year: int
    due: date
    overdue: bool
    days_left: int
    department_year: bool = False  # a duty of a department year (部门整体绩效), not a project

    @property
    def href(self) -> str:
        if self.department_year:
            return f"/departments/{self.code}/years/{self.fiscal_year}"
        return f"/projects/{self.code}"


@dataclass(frozen=True)
class Cut:
    code: str
    name: str
    department: str
    fiscal_year: int
    grade: str
    cut_percent: Decimal
    applies_to: int | None


_Query = TypeVar("_Query", bound=Select[*tuple[Any, ...]])


def _scope(query: _Query, principal: Principal) -> _Query:
    """Narrow a query over ProjectRow to what the caller may see."""
    if principal.role in READ_ALL:
        return query
    if principal.role is Role.DEPARTMENT and principal.department is not None:
        return query.where(col(ProjectRow.department) == principal.department)
    if principal.role is Role.EVALUATOR:  # the projects it is commissioned to evaluate
        assigned = select(col(EvaluatorAssignmentRow.code)).where(
            col(EvaluatorAssignmentRow.username) == principal.username
        )
        return query.where(col(ProjectRow.code).in_(assigned))
    return query.where(col(ProjectRow.code).is_(None))


def state_counts(session: Session, principal: Principal) -> list[tuple[str, int]]:
    """Projects per project state, then open fiscal years per cycle state, in lifecycle order."""
    project = _scope(
        select(col(ProjectRow.state), func.count()).group_by(col(ProjectRow.state)), principal
    )
    counts: dict[str, int] = dict(session.execute(project).all())
    cycle = _scope(
        select(col(CycleRow.state), func.count())
        .join(ProjectRow, col(ProjectRow.code) == col(CycleRow.code))
        .where(col(CycleRow.state).in_(CYCLE_OPEN_STATES))
        .group_by(col(CycleRow.state)),
        principal,
    )
    counts.update(dict(session.execute(cycle).all()))
    return [(s, counts[s]) for s in (*PROJECT_STATES, *CYCLE_STATES) if counts.get(s)]


def warning_counts(session: Session, principal: Principal) -> dict[str, int]:
    query = _scope(
        select(col(ProjectRow.warning), func.count())
        .where(col(ProjectRow.warning) != "none")
        .group_by(col(ProjectRow.warning)),
        principal,
    )
    return dict(session.execute(query).all())


def grade_distribution(
    session: Session, principal: Principal
) -> dict[tuple[str, int], dict[str, int]]:
    """(department, fiscal year) → grade → number of graded years."""
    query = _scope(
        select(
            col(ProjectRow.department), col(CycleRow.fiscal_year), col(CycleRow.grade), func.count()
        )
        .join(ProjectRow, col(ProjectRow.code) == col(CycleRow.code))
        .where(col(CycleRow.grade).is_not(None))
        .group_by(col(ProjectRow.department), col(CycleRow.fiscal_year), col(CycleRow.grade)),
        principal,
    )
    table: dict[tuple[str, int], dict[str, int]] = defaultdict(dict)
    for department, year, grade, count in session.execute(query):
        table[(department, year)][grade] = count
    return dict(sorted(table.items()))


def cuts(session: Session, principal: Principal) -> list[Cut]:
    """Years graded 中 or 差 whose review cut a later budget (result application)."""
    query = _scope(
        select(ProjectRow, col(CycleRow.fiscal_year))
        .join(CycleRow, col(ProjectRow.code) == col(CycleRow.code))
        .where(col(CycleRow.grade).in_(("fair", "poor")))
        .order_by(col(CycleRow.fiscal_year).desc(), col(ProjectRow.code))
        .limit(CUTS_SHOWN),
        principal,
    )
    found: list[Cut] = []
    for row, year in session.execute(query):
        cycle = ProjectState.model_validate(row.snapshot).cycle(year)
        if cycle is None or cycle.review is None or not cycle.review.cut_percent:
            continue
        found.append(
            Cut(
                code=row.code,
                name=row.name,
                department=row.department,
                fiscal_year=year,
                grade=cycle.review.grade.value,
                cut_percent=cycle.review.cut_percent,
                applies_to=cycle.review.cut_applies_to,
            )
        )
    return found


def _todo_item(
    code: str, name: str, duty: Duty, *, now: datetime, rules: Rules, department_year: bool = False
) -> TodoItem:
    return TodoItem(
        code=code,
        name=name,
        kind=duty.kind.value,
        fiscal_year=duty.fiscal_year,
        due=duty.due,
        overdue=is_overdue(duty, rules, now),
        days_left=(duty.due - business_today(now, rules)).days,
        department_year=department_year,
    )


def _duties(row: ProjectRow, *, now: datetime, rules: Rules, owner: Role | None) -> list[TodoItem]:
    # The duty rules themselves, not `Lifecycle`: building its state machines per row would
    # cost more than everything else on the page.
    project = ProjectState.model_validate(row.snapshot)
    return [
        _todo_item(row.code, row.name, d, now=now, rules=rules)
        for d in open_duties(project, rules.calendar, business_today(now, rules))
        if owner is None or d.owner is owner
    ]


def overdue_list(
    session: Session, principal: Principal, *, now: datetime, rules: Rules
) -> list[TodoItem]:
    """Duties late now, on the projects whose ladder has sent an overdue notice."""
    recent = (
        select(col(HistoryRow.code))
        .where(col(HistoryRow.action) == "overdue")
        .order_by(col(HistoryRow.at).desc())
        .limit(OVERDUE_SCAN)
    )
    query = _scope(
        select(ProjectRow).where(
            col(ProjectRow.code).in_(recent.scalar_subquery()),
            col(ProjectRow.state).in_(("active", "suspended")),
        ),
        principal,
    )
    items = [
        item
        for row in session.execute(query).scalars()
        for item in _duties(row, now=now, rules=rules, owner=None)
        if item.overdue
    ]
    return sorted(items, key=lambda i: (i.due, i.code))[:OVERDUE_SHOWN]


def todo(session: Session, principal: Principal, *, now: datetime, rules: Rules) -> list[TodoItem]:
    """The caller's own duties on open projects, most urgent first: a department's on its
    projects; finance's reviews (goals, self-evaluations, rectification reports, key
    evaluations) on every project that waits for one."""
    query = select(ProjectRow).where(col(ProjectRow.state).in_(("active", "suspended")))
    if principal.role is Role.DEPARTMENT:
        query = _scope(query.order_by(col(ProjectRow.code)).limit(TODO_SCAN), principal)
    elif principal.role is Role.FINANCE:
        # Only the projects with a year waiting on finance: the zone may hold thousands.
        waiting = select(col(CycleRow.code)).where(
            col(CycleRow.state).in_(sorted(FINANCE_WAITING_STATES))
        )
        query = (
            query.where(col(ProjectRow.code).in_(waiting))
            .order_by(col(ProjectRow.code))
            .limit(TODO_SCAN)
        )
    else:
        return []
    items = [
        item
        for row in session.execute(query).scalars()
        for item in _duties(row, now=now, rules=rules, owner=principal.role)
    ]
    items += _department_year_duties(session, principal, now=now, rules=rules)
    return sorted(items, key=lambda i: (i.due, i.code, i.kind))


def _department_year_duties(
    session: Session, principal: Principal, *, now: datetime, rules: Rules
) -> list[TodoItem]:
    """The caller's duties on department years: a department's overall goals and
    self-evaluation, finance's review of the self-evaluation."""
    states = sorted(s for s, kind in OWED_IN.items() if OWNER[kind] is principal.role)
    query = select(DepartmentYearRow).where(col(DepartmentYearRow.state).in_(states))
    if principal.role is Role.DEPARTMENT:
        query = query.where(col(DepartmentYearRow.department) == principal.department)
    query = query.order_by(
        col(DepartmentYearRow.department), col(DepartmentYearRow.fiscal_year)
    ).limit(TODO_SCAN)
    return [
        _todo_item(row.department, "", d, now=now, rules=rules, department_year=True)
        for row in session.execute(query).scalars()
        for d in department_duties(DepartmentYearState.model_validate(row.snapshot), rules)
    ]


@dataclass(frozen=True)
class ExecutionBar:
    code: str
    name: str
    rate: float  # executed / approved, 0..1+
    approved: Decimal
    # The year's warning as the monitoring rules judged it while the year is open (as the
    # project list counts it), SETTLED once its results are applied: its warning is history.
    warning: str


def execution_bars(session: Session, codes: list[str], fiscal_year: int) -> list[ExecutionBar]:
    """Execution rate of `fiscal_year` for the listed projects that have an approved budget."""
    if not codes:
        return []
    query = (
        select(
            col(ProjectRow.code),
            col(ProjectRow.name),
            col(CycleRow.approved_amount),
            col(CycleRow.executed_amount),
            col(CycleRow.warning),
            col(CycleRow.state),
        )
        .join(CycleRow, col(ProjectRow.code) == col(CycleRow.code))
        .where(
            col(ProjectRow.code).in_(codes),
            col(CycleRow.fiscal_year) == fiscal_year,
            col(CycleRow.approved_amount).is_not(None),
        )
        .order_by(col(ProjectRow.code))
    )
    bars = []
    for code, name, approved, executed, warning, state in session.execute(query):
        if not approved:
            continue
        bars.append(
            ExecutionBar(
                code=code,
                name=name,
                rate=float((executed or 0) / approved),
                approved=approved,
                warning=warning if state in CYCLE_OPEN_STATES else SETTLED,
            )
        )
    return bars


def time_progress(today: date, fiscal_year: int) -> float:
    """The share of `fiscal_year` elapsed on `today` (0 before it, 1 after it)."""
    start, end = date(fiscal_year, 1, 1), date(fiscal_year, 12, 31)
    if today < start:
        return 0.0
    if today > end:
        return 1.0
    return ((today - start).days + 1) / ((end - start).days + 1)


def departments_seen(session: Session, principal: Principal) -> list[str]:
    query = _scope(select(col(ProjectRow.department)).distinct(), principal)
    return sorted(session.execute(query).scalars())
