"""The zone's fiscal year as dated milestones: which call goes out when, about which year.

`FiscalYearWorkflow` runs once per calendar year (a Temporal Schedule starts it on 1 January)
and issues, on the dates of the fiscal calendar, the calls that concern three fiscal years at
once: year Y−1 is closed, self-evaluated and published; year Y is monitored; year Y+1 is
prepared. Pure: no clock, no I/O.
"""

from __future__ import annotations

from datetime import UTC, date, datetime, timedelta, timezone

from pydantic import BaseModel, ConfigDict

from models.calendar import FiscalCalendar, MonthDay
from models.engine import Lifecycle
from models.escalation import audiences
from models.fiscal_notice import PHASE_ZH, FiscalNotice, FiscalPhase
from models.lifecycle import PROJECT_FINAL_STATES
from models.notify import Desk, EventKind
from models.project_state import HistoryEntry, ProjectState


class Milestone(BaseModel):
    """One call of the run of calendar year `on.year`: `phase` about `fiscal_year`."""

    model_config = ConfigDict(frozen=True)

    phase: FiscalPhase
    fiscal_year: int
    on: date  # the business date it goes out (at local midnight)

    @property
    def key(self) -> str:
        return f"{self.phase.value}:{self.fiscal_year}"


def milestones(calendar: FiscalCalendar, year: int) -> list[Milestone]:
    """The calls of calendar year `year`, earliest first (ties keep the order of the year)."""

    def on(day: MonthDay) -> date:
        return day.in_year(year)

    calls = [
        Milestone(phase=FiscalPhase.YEAR_CLOSE, fiscal_year=year - 1, on=date(year, 1, 1)),
        Milestone(
            phase=FiscalPhase.SELF_EVALUATION,
            fiscal_year=year - 1,
            on=on(calendar.self_evaluation_call),
        ),
        Milestone(
            phase=FiscalPhase.BUDGET_PREPARATION,
            fiscal_year=year + 1,
            on=on(calendar.budget_preparation_call),
        ),
        Milestone(
            phase=FiscalPhase.MID_YEAR_MONITORING,
            fiscal_year=year,
            on=on(calendar.monitoring_call),
        ),
        Milestone(
            phase=FiscalPhase.DISCLOSURE,
            fiscal_year=year - 1,
            on=on(calendar.disclosure_publication),
        ),
    ]
    return sorted(calls, key=lambda m: m.on)


def business_date(now: datetime, utc_offset_minutes: int) -> date:
    """The zone's calendar day at the instant `now`."""
    return now.astimezone(timezone(timedelta(minutes=utc_offset_minutes))).date()


def local_midnight(day: date, utc_offset_minutes: int) -> datetime:
    """The start of `day` in the zone, in UTC: when a call dated `day` goes out."""
    zone = timezone(timedelta(minutes=utc_offset_minutes))
    return datetime(day.year, day.month, day.day, tzinfo=zone).astimezone(UTC)


def too_late(milestone: Milestone, today: date, catch_up_days: int) -> bool:
    """A call more than `catch_up_days` overdue is skipped rather than issued late.

    A run started mid-year (the schedule created on a new installation, or a worker down for
    weeks) issues what is still timely and does not flood every project with stale calls.
    """
    return today - milestone.on > timedelta(days=catch_up_days)


def asks_of_project(project: ProjectState, notice: FiscalNotice) -> bool:
    """Whether the call asks something of this project's department (then it is notified).

    Budget preparation asks for goals of a year in the project's span that has none yet; the
    monitoring call asks for the report of an executing year; the self-evaluation call asks for
    the self-evaluation of a closed year. The close of the year and publication ask nothing.
    """
    if project.state in PROJECT_FINAL_STATES:
        return False
    year = notice.fiscal_year
    cycle = project.cycle(year)
    match notice.phase:
        case FiscalPhase.BUDGET_PREPARATION:
            in_span = project.info.start_year <= year <= project.info.end_year
            return in_span and (cycle is None or cycle.state == "goals_drafted")
        case FiscalPhase.MID_YEAR_MONITORING:
            return cycle is not None and cycle.state == "executing"
        case FiscalPhase.SELF_EVALUATION:
            return cycle is not None and cycle.state == "closed"
        case FiscalPhase.YEAR_CLOSE | FiscalPhase.DISCLOSURE:
            return False


def receive_notice(
    lifecycle: Lifecycle, notice: FiscalNotice, now: datetime
) -> HistoryEntry | None:
    """Record a fiscal-year call in the project's history, once per phase and year.

    The department hears of it when the call asks something of this project; a call delivered
    again (a retried fan-out batch) records nothing.
    """
    project = lifecycle.project
    key = f"{notice.phase.value}:{notice.fiscal_year}"
    if key in project.fiscal_notices:
        return None
    project.fiscal_notices.append(key)
    asks = asks_of_project(project, notice)
    return lifecycle.record_event(
        EventKind.FISCAL_NOTICE.value,
        notice.fiscal_year,
        {
            "phase": notice.phase.value,
            "phase_zh": PHASE_ZH[notice.phase],
            "issued_at": notice.issued_at.isoformat(),
            "asks": asks,
        },
        audiences(project, [Desk.DEPARTMENT]) if asks else [],
        now,
    )
