"""The fiscal calendar (defaults of DOMAIN.md): when each duty of a fiscal year falls due.

All dates are business dates in the zone's time zone. A due date on a weekend or a listed
holiday moves to the next working day; `workdays` lists weekend days that are worked (调休).
"""

from __future__ import annotations

from datetime import date, timedelta
from decimal import Decimal
from typing import Annotated, Self

from pydantic import BaseModel, ConfigDict, Field, model_validator


class MonthDay(BaseModel):
    """A day of the year, e.g. 31 August; 29 February falls back to the 28th in common years."""

    model_config = ConfigDict(frozen=True, extra="forbid")

    month: Annotated[int, Field(ge=1, le=12)]
    day: Annotated[int, Field(ge=1, le=31)]

    @model_validator(mode="after")
    def _exists(self) -> Self:
        date(2024, self.month, self.day)  # a leap year: raises only for days that never exist
        return self

    def in_year(self, year: int) -> date:
        try:
            return date(year, self.month, self.day)
        except ValueError:
            return date(year, self.month, self.day - 1)


def _md(month: int, day: int) -> MonthDay:
    return MonthDay(month=month, day=day)


class FiscalCalendar(BaseModel):
    model_config = ConfigDict(frozen=True, extra="forbid")

    # Goals and budget request for year N are due in N−1.
    goals_due: MonthDay = _md(10, 31)
    # The mid-year monitoring report of year N covers January–July and is due 31 August of N.
    monitoring_due: MonthDay = _md(8, 31)
    monitoring_covers_to: MonthDay = _md(7, 31)
    # Self-evaluation for N due 31 March of N+1; finance review by 30 June of N+1.
    self_evaluation_due: MonthDay = _md(3, 31)
    review_due: MonthDay = _md(6, 30)
    # Money idle: execution below the threshold at this date of year N escalates.
    idle_funds_check: MonthDay = _md(10, 31)
    idle_funds_threshold_pct: Annotated[Decimal, Field(ge=0, le=100)] = Decimal(30)
    rectification_days: Annotated[int, Field(ge=1, le=3650)] = 60
    # Finance's own reviews of goals and rectification reports (our default).
    finance_review_days: Annotated[int, Field(ge=1, le=3650)] = 30
    # A duty that arises after its calendar date (a project activated late) gets this long.
    late_start_days: Annotated[int, Field(ge=0, le=3650)] = 30
    # A red warning must be answered within this many working days, or funding is suspended.
    warning_response_working_days: Annotated[int, Field(ge=1, le=365)] = 10
    # The zone's fiscal-year calls (`FiscalYearWorkflow`), our defaults: budget preparation for
    # N+1 opens 1 July of N (goals are due 31 October); the mid-year monitoring call goes out
    # 1 August of N (January–July data, report due 31 August); year N closes at the end of
    # 31 December (the call goes out on 1 January of N+1); the self-evaluation call for N goes
    # out 15 January of N+1 (due 31 March); N's evaluations are published 15 July of N+1, after
    # finance's review (30 June), with the final accounts (预决算同步公开).
    budget_preparation_call: MonthDay = _md(7, 1)
    monitoring_call: MonthDay = _md(8, 1)
    self_evaluation_call: MonthDay = _md(1, 15)
    disclosure_publication: MonthDay = _md(7, 15)
    holidays: frozenset[date] = frozenset()
    workdays: frozenset[date] = frozenset()

    def is_working_day(self, day: date) -> bool:
        if day in self.workdays:
            return True
        return day.weekday() < 5 and day not in self.holidays

    def working_day_on_or_after(self, day: date) -> date:
        while not self.is_working_day(day):
            day += timedelta(days=1)
        return day

    def add_working_days(self, day: date, count: int) -> date:
        """The `count`-th working day after `day` (the day itself not counted)."""
        while count > 0:
            day += timedelta(days=1)
            if self.is_working_day(day):
                count -= 1
        return day

    def due(self, month_day: MonthDay, year: int) -> date:
        return self.working_day_on_or_after(month_day.in_year(year))
