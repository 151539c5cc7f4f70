"""Duties: what a department or finance owes for a project now, and by when.

A duty is derived from the project's state, never stored: doing it (the action that
discharges it) makes it disappear, which is what stops its escalation ladder at once.
"""

from __future__ import annotations

from datetime import UTC, date, datetime, timedelta, timezone
from enum import StrEnum

from pydantic import BaseModel, ConfigDict

from models.calendar import FiscalCalendar
from models.project_state import Cycle, ProjectState
from models.vocabulary import Role


class DutyKind(StrEnum):
    GOALS = "goals"  # 申报绩效目标
    GOALS_REVIEW = "goals_review"  # 审核绩效目标
    MONITORING = "monitoring"  # 报送年中绩效监控
    SELF_EVALUATION = "self_evaluation"  # 提交绩效自评
    REVIEW = "review"  # 审核绩效自评
    KEY_EVALUATION = "key_evaluation"  # 完成财政重点评价
    RECTIFICATION = "rectification"  # 提交整改报告
    RECTIFICATION_REVIEW = "rectification_review"  # 审核整改报告
    WARNING_RESPONSE = "warning_response"  # 答复红色预警


OWNER: dict[DutyKind, Role] = {
    DutyKind.GOALS: Role.DEPARTMENT,
    DutyKind.GOALS_REVIEW: Role.FINANCE,
    DutyKind.MONITORING: Role.DEPARTMENT,
    DutyKind.SELF_EVALUATION: Role.DEPARTMENT,
    DutyKind.REVIEW: Role.FINANCE,
    DutyKind.KEY_EVALUATION: Role.FINANCE,  # finance answers for its commissioned evaluators
    DutyKind.RECTIFICATION: Role.DEPARTMENT,
    DutyKind.RECTIFICATION_REVIEW: Role.FINANCE,
    DutyKind.WARNING_RESPONSE: Role.DEPARTMENT,
}

# The year states in which finance owes the next move (`_cycle_duties` below: goals review, the
# review of a self-evaluation, the key evaluation it commissioned, the review of a
# rectification report). Finance's to-do looks for projects with a year in one of them;
# tests/models/test_duties.py holds the two together.
FINANCE_WAITING_STATES: frozenset[str] = frozenset(
    {"goals_submitted", "self_evaluated", "key_evaluating", "rectification_submitted"}
)

DISCHARGED_BY: dict[DutyKind, str] = {
    DutyKind.GOALS: "submit_goals",
    DutyKind.GOALS_REVIEW: "approve_goals",
    DutyKind.MONITORING: "report_monitoring",
    DutyKind.SELF_EVALUATION: "submit_self_evaluation",
    DutyKind.REVIEW: "review_self_evaluation",
    DutyKind.KEY_EVALUATION: "submit_key_evaluation",
    DutyKind.RECTIFICATION: "submit_rectification",
    DutyKind.RECTIFICATION_REVIEW: "accept_rectification",
    DutyKind.WARNING_RESPONSE: "respond_to_warning",
}

LABEL_ZH: dict[DutyKind, str] = {
    DutyKind.GOALS: "申报绩效目标",
    DutyKind.GOALS_REVIEW: "审核绩效目标",
    DutyKind.MONITORING: "报送年中绩效监控",
    DutyKind.SELF_EVALUATION: "提交绩效自评",
    DutyKind.REVIEW: "审核绩效自评",
    DutyKind.KEY_EVALUATION: "完成财政重点评价",
    DutyKind.RECTIFICATION: "提交整改报告",
    DutyKind.RECTIFICATION_REVIEW: "审核整改报告",
    DutyKind.WARNING_RESPONSE: "答复红色预警",
}


class Duty(BaseModel):
    model_config = ConfigDict(frozen=True)

    kind: DutyKind
    fiscal_year: int
    due: date  # the last business day on which doing it is on time

    @property
    def key(self) -> str:
        return f"{self.kind.value}:{self.fiscal_year}"

    @property
    def owner(self) -> Role:
        return OWNER[self.kind]


def deadline(due: date, utc_offset_minutes: int) -> datetime:
    """The instant a duty becomes overdue: the end of its due day, in business time."""
    zone = timezone(timedelta(minutes=utc_offset_minutes))
    return datetime.combine(due + timedelta(days=1), datetime.min.time(), zone).astimezone(UTC)


def late_start(due: date, arisen: date | None, calendar: FiscalCalendar) -> date:
    """A duty arising after (or just before) its calendar date gets `late_start_days`."""
    if arisen is None:
        return due
    return max(due, calendar.working_day_on_or_after(arisen + timedelta(calendar.late_start_days)))


def _after(start: datetime | None, days: int, calendar: FiscalCalendar, today: date) -> date:
    base = start.date() if start is not None else today
    return calendar.working_day_on_or_after(base + timedelta(days=days))


def _entered(cycle: Cycle, state: str) -> date | None:
    at = cycle.entered.get(state)
    return at.date() if at is not None else None


def open_duties(project: ProjectState, calendar: FiscalCalendar, today: date) -> list[Duty]:
    """Every duty the project owes now, with its due date under `calendar`."""
    if project.state not in ("active", "suspended"):
        return []
    info = project.info
    activated = project.entered.get("active")
    duties: list[Duty] = []
    for year in range(max(info.start_year, today.year), min(info.end_year, today.year + 1) + 1):
        cycle = project.cycle(year)
        if cycle is None or cycle.state == "goals_drafted":
            arisen = max(
                date(year - 1, 1, 1), activated.date() if activated else date(year - 1, 1, 1)
            )
            due = late_start(calendar.due(calendar.goals_due, year - 1), arisen, calendar)
            duties.append(Duty(kind=DutyKind.GOALS, fiscal_year=year, due=due))
    for cycle in project.cycles:
        duties.extend(_cycle_duties(cycle, calendar, today))
    return sorted(duties, key=lambda d: (d.due, d.fiscal_year, d.kind.value))


def _cycle_duties(cycle: Cycle, calendar: FiscalCalendar, today: date) -> list[Duty]:
    year, state = cycle.fiscal_year, cycle.state
    duties: list[Duty] = []

    def owe(kind: DutyKind, due: date) -> None:
        duties.append(Duty(kind=kind, fiscal_year=year, due=due))

    if state == "goals_submitted":
        owe(
            DutyKind.GOALS_REVIEW,
            _after(cycle.entered.get(state), calendar.finance_review_days, calendar, today),
        )
    elif state == "executing":
        covered = calendar.monitoring_covers_to.in_year(year)
        if not any(r.period_end >= covered for r in cycle.monitoring):
            due = calendar.due(calendar.monitoring_due, year)
            owe(DutyKind.MONITORING, late_start(due, _entered(cycle, state), calendar))
        if cycle.warning_response_due is not None and cycle.warning_response is None:
            owe(DutyKind.WARNING_RESPONSE, cycle.warning_response_due)
    elif state == "closed":
        due = calendar.due(calendar.self_evaluation_due, year + 1)
        owe(DutyKind.SELF_EVALUATION, late_start(due, _entered(cycle, state), calendar))
    elif state == "self_evaluated":
        due = calendar.due(calendar.review_due, year + 1)
        owe(DutyKind.REVIEW, late_start(due, _entered(cycle, state), calendar))
    elif state == "key_evaluating":
        # Finance review and key evaluations are both due by the review date (30 June of N+1).
        due = calendar.due(calendar.review_due, year + 1)
        owe(DutyKind.KEY_EVALUATION, late_start(due, _entered(cycle, state), calendar))
    elif state == "rectifying":
        ordered = cycle.rectification.ordered_at if cycle.rectification else None
        owe(DutyKind.RECTIFICATION, _after(ordered, calendar.rectification_days, calendar, today))
    elif state == "rectification_submitted":
        owe(
            DutyKind.RECTIFICATION_REVIEW,
            _after(cycle.entered.get(state), calendar.finance_review_days, calendar, today),
        )
    return duties
