"""The zone's fiscal year as dated calls, and how a project receives one (pure)."""

from __future__ import annotations

from datetime import UTC, date, datetime

from models.calendar import FiscalCalendar, MonthDay
from models.fiscal_notice import FiscalNotice, FiscalPhase
from models.fiscal_year import (
    asks_of_project,
    business_date,
    local_midnight,
    milestones,
    receive_notice,
    too_late,
)
from models.notify import Audience, Desk
from tests.models.test_lifecycle import Driver

ISSUED = datetime(2027, 8, 1, tzinfo=UTC)


def _notice(phase: FiscalPhase, year: int) -> FiscalNotice:
    return FiscalNotice(phase=phase, fiscal_year=year, issued_at=ISSUED)


def test_the_year_of_calls_with_the_default_calendar() -> None:
    """Calendar year 2027 closes and evaluates 2026, monitors 2027 and prepares 2028."""
    calls = [(m.phase, m.fiscal_year, m.on) for m in milestones(FiscalCalendar(), 2027)]
    assert calls == [
        (FiscalPhase.YEAR_CLOSE, 2026, date(2027, 1, 1)),
        (FiscalPhase.SELF_EVALUATION, 2026, date(2027, 1, 15)),
        (FiscalPhase.BUDGET_PREPARATION, 2028, date(2027, 7, 1)),
        (FiscalPhase.DISCLOSURE, 2026, date(2027, 7, 15)),
        (FiscalPhase.MID_YEAR_MONITORING, 2027, date(2027, 8, 1)),
    ]


def test_the_dates_follow_the_calendar() -> None:
    """A calendar with other dates reorders the calls by date."""
    calendar = FiscalCalendar(
        budget_preparation_call=MonthDay(month=9, day=1),
        monitoring_call=MonthDay(month=8, day=5),
        self_evaluation_call=MonthDay(month=2, day=1),
        disclosure_publication=MonthDay(month=6, day=30),
    )
    calls = [(m.phase, m.on) for m in milestones(calendar, 2027)]
    assert calls == [
        (FiscalPhase.YEAR_CLOSE, date(2027, 1, 1)),
        (FiscalPhase.SELF_EVALUATION, date(2027, 2, 1)),
        (FiscalPhase.DISCLOSURE, date(2027, 6, 30)),
        (FiscalPhase.MID_YEAR_MONITORING, date(2027, 8, 5)),
        (FiscalPhase.BUDGET_PREPARATION, date(2027, 9, 1)),
    ]


def test_a_call_goes_out_at_local_midnight() -> None:
    """China Standard Time: 1 August 00:00 is 31 July 16:00 UTC, and that instant is 1 August."""
    at = local_midnight(date(2027, 8, 1), 480)
    assert at == datetime(2027, 7, 31, 16, tzinfo=UTC)
    assert business_date(at, 480) == date(2027, 8, 1)


def test_a_call_overdue_beyond_the_catch_up_window_is_skipped() -> None:
    """Thirty days late is still issued; thirty-one is skipped."""
    (monitoring,) = [
        m for m in milestones(FiscalCalendar(), 2027) if m.phase is FiscalPhase.MID_YEAR_MONITORING
    ]
    assert not too_late(monitoring, date(2027, 8, 31), 30)
    assert too_late(monitoring, date(2027, 9, 1), 30)
    assert not too_late(monitoring, date(2027, 8, 1), 0)


def test_which_calls_ask_something_of_a_project() -> None:
    """Goals for a year in the span without any, the report of an executing year, the
    self-evaluation of a closed one; the close of the year and publication ask nothing."""
    d = Driver(start=2027, end=2028)
    d.do("submit")
    assert asks_of_project(d.state, _notice(FiscalPhase.BUDGET_PREPARATION, 2027))
    assert not asks_of_project(d.state, _notice(FiscalPhase.BUDGET_PREPARATION, 2029))
    d.fund_year(2027)
    assert not asks_of_project(d.state, _notice(FiscalPhase.BUDGET_PREPARATION, 2027))
    assert not asks_of_project(d.state, _notice(FiscalPhase.MID_YEAR_MONITORING, 2027))
    d.at(2027, 6, 1)
    assert asks_of_project(d.state, _notice(FiscalPhase.MID_YEAR_MONITORING, 2027))
    assert not asks_of_project(d.state, _notice(FiscalPhase.SELF_EVALUATION, 2027))
    d.at(2028, 1, 10)
    assert asks_of_project(d.state, _notice(FiscalPhase.SELF_EVALUATION, 2027))
    assert not asks_of_project(d.state, _notice(FiscalPhase.YEAR_CLOSE, 2027))
    assert not asks_of_project(d.state, _notice(FiscalPhase.DISCLOSURE, 2027))


def test_a_notice_is_recorded_once_and_notifies_when_it_asks() -> None:
    """A system entry naming the phase; the department hears only of a call that asks; the
    same call received again records nothing."""
    d = Driver(start=2027, end=2028)
    d.do("submit")
    before = d.state.seq
    entry = receive_notice(d.lifecycle, _notice(FiscalPhase.BUDGET_PREPARATION, 2027), d.now)
    assert entry is not None
    assert (entry.seq, entry.actor, entry.action, entry.fiscal_year) == (
        before + 1,
        "system",
        "fiscal_notice",
        2027,
    )
    assert entry.detail["phase"] == "budget_preparation"
    assert entry.detail["phase_zh"] == "启动预算编制"
    assert entry.detail["asks"] is True
    assert entry.notify == [Audience(desk=Desk.DEPARTMENT, department="D1")]
    again = receive_notice(d.lifecycle, _notice(FiscalPhase.BUDGET_PREPARATION, 2027), d.now)
    assert again is None
    assert d.state.seq == before + 1
    closing = receive_notice(d.lifecycle, _notice(FiscalPhase.YEAR_CLOSE, 2026), d.now)
    assert closing is not None
    assert closing.notify == []
    assert d.state.fiscal_notices == ["budget_preparation:2027", "year_close:2026"]
