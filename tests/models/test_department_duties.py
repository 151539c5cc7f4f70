"""A department year's duties and their ladder, on hand-worked dates (China Standard Time).

Year 2027: overall goals due 31 October 2026 — a Saturday, so Monday 2 November; the overall
self-evaluation due Friday 31 March 2028, overdue from 1 April 00:00 CST = 31 March 16:00 UTC;
finance's review due Friday 30 June 2028.
"""

from __future__ import annotations

from datetime import UTC, date, datetime
from decimal import Decimal

from models import department_actions as da
from models.control_number import ControlNumber, Line
from models.department_duties import department_duties
from models.department_lifecycle import DepartmentYear
from models.department_state import DepartmentYearInfo, DepartmentYearState
from models.duties import DutyKind
from models.notify import Audience, Desk
from models.project_state import Actor, HistoryEntry
from models.rules import Rules
from models.vocabulary import Role
from tests import department_factories as df

DEPT = Actor(username="clerk", role=Role.DEPARTMENT, department="D1")
FIN = Actor(username="officer", role=Role.FINANCE)
IN_YEAR = datetime(2027, 3, 1, 2, tzinfo=UTC)
SELF_EVALUATION_DEADLINE = datetime(2028, 3, 31, 16, tzinfo=UTC)


def _year(opened_at: datetime | None = None) -> DepartmentYear:
    info = DepartmentYearInfo(department="D1", fiscal_year=2027)
    return DepartmentYear(DepartmentYearState(info=info, opened_at=opened_at), Rules())


def _do(
    year: DepartmentYear, action: str, body: dict[str, object], actor: Actor, now: datetime
) -> None:
    payload = da.DEPARTMENT_PAYLOADS[action].model_validate(body)
    year.execute(action, payload, actor=actor, today=now.date(), now=now)


def _budget_approved() -> DepartmentYear:
    """Goals submitted and approved, budget approved, all on 1 March 2027 (before any rung)."""
    year = _year(opened_at=datetime(2026, 7, 1, tzinfo=UTC))
    _do(year, "submit_goals", df.goals(), DEPT, IN_YEAR)
    _do(year, "approve_goals", {}, FIN, IN_YEAR)
    _do(year, "approve_department_budget", {"amount": 5_000_000}, FIN, IN_YEAR)
    return year


def _rungs(entries: list[HistoryEntry]) -> list[tuple[str, datetime, int | None]]:
    return [(e.action, e.at, e.detail.get("offset_days")) for e in entries]


def test_goals_are_due_on_the_projects_goals_date_of_the_year_before() -> None:
    year = _year(opened_at=datetime(2026, 7, 1, tzinfo=UTC))
    (duty,) = department_duties(year.year, year.rules)
    assert (duty.kind, duty.fiscal_year, duty.due) == (DutyKind.GOALS, 2027, date(2026, 11, 2))
    assert duty.owner is Role.DEPARTMENT


def test_a_year_opened_after_its_goals_date_gets_the_late_start_days() -> None:
    """Opened 27 November 2026: +30 days is Sunday 27 December, so Monday 28 December."""
    year = _year(opened_at=datetime(2026, 11, 27, 3, tzinfo=UTC))
    assert [d.due for d in department_duties(year.year, year.rules)] == [date(2026, 12, 28)]
    # Nothing fires on the day it opens: the reminder is 7 days before the deadline.
    assert year.advance_clock(datetime(2026, 11, 27, 3, tzinfo=UTC)) == []
    assert year.next_deadline(datetime(2026, 11, 27, 3, tzinfo=UTC)) == datetime(
        2026, 12, 21, 16, tzinfo=UTC
    )


def test_only_the_duty_of_the_current_state_is_owed() -> None:
    year = _budget_approved()
    (duty,) = department_duties(year.year, year.rules)
    assert (duty.kind, duty.due) == (DutyKind.SELF_EVALUATION, date(2028, 3, 31))
    for state in ("goals_submitted", "goals_approved", "reviewed"):
        year.year.state = state
        assert department_duties(year.year, year.rules) == []


def test_a_missed_self_evaluation_climbs_the_department_ladder_once_per_rung() -> None:
    year = _budget_approved()
    seen = year.year.seq
    assert year.next_deadline(IN_YEAR) == datetime(2028, 3, 24, 16, tzinfo=UTC)

    fired = year.advance_clock(datetime(2028, 4, 20, tzinfo=UTC))
    assert _rungs(fired) == [
        ("reminder", datetime(2028, 3, 24, 16, tzinfo=UTC), -7),
        ("overdue", SELF_EVALUATION_DEADLINE, 0),
        ("escalation", datetime(2028, 4, 15, 16, tzinfo=UTC), 15),
    ]
    assert [e.seq for e in fired] == [seen + 1, seen + 2, seen + 3]
    assert all(e.actor == "system" and e.to_state == "budget_approved" for e in fired)
    assert fired[0].detail["duty"] == "self_evaluation"
    assert fired[0].detail["duty_zh"] == "提交部门整体绩效自评"
    assert fired[0].detail["due"] == "2028-03-31"
    # The department's staff hears the reminder (there is no project owner), its head the
    # overdue notice, finance the first escalation.
    assert fired[0].notify == [Audience(desk=Desk.DEPARTMENT, department="D1")]
    assert fired[1].notify == [Audience(desk=Desk.DEPARTMENT_HEAD, department="D1")]
    assert fired[2].notify == [Audience(desk=Desk.FINANCE)]
    # Each rung fires once: a second wake-up at the same or a later instant repeats none.
    assert year.advance_clock(datetime(2028, 4, 20, tzinfo=UTC)) == []
    assert year.next_deadline(datetime(2028, 4, 20, tzinfo=UTC)) == datetime(
        2028, 4, 30, 16, tzinfo=UTC
    )

    last = year.advance_clock(datetime(2028, 5, 2, tzinfo=UTC))
    assert [e.action for e in last] == ["escalation", "accountability"]
    assert last[0].notify == [Audience(desk=Desk.LEADERSHIP)]
    assert last[1].detail["subject"] == "department_head:D1"
    assert last[1].notify == [Audience(desk=Desk.LEADERSHIP), Audience(desk=Desk.DISCIPLINE)]
    assert year.year.escalations == {"self_evaluation:2027": [-7, 0, 15, 30]}
    assert year.next_deadline(datetime(2028, 5, 2, tzinfo=UTC)) is None


def test_a_rung_falling_due_before_the_last_entry_is_recorded_after_it() -> None:
    """A wake-up long after the deadline keeps the history in time order."""
    year = _budget_approved()
    late = datetime(2028, 3, 28, tzinfo=UTC)
    number = ControlNumber(
        department="D1",
        fiscal_year=2027,
        results_year=2026,
        ceiling=Decimal(1_000),
        lines=[Line(kind="result", amount=Decimal(1_000), text="t", text_zh="t")],
    )
    _do(year, "set_control_number", {"control_number": number.model_dump(mode="json")}, FIN, late)
    (reminder,) = year.advance_clock(late)
    assert (reminder.action, reminder.at) == ("reminder", late)


def test_submitting_the_self_evaluation_stops_its_ladder_at_once() -> None:
    year = _budget_approved()
    year.advance_clock(datetime(2028, 4, 1, tzinfo=UTC))  # reminder and overdue notice
    _do(year, "submit_self_evaluation", df.results(85), DEPT, datetime(2028, 4, 2, tzinfo=UTC))
    # No escalation of the self-evaluation follows; finance's review is owed by 30 June.
    assert department_duties(year.year, year.rules)[0].kind is DutyKind.REVIEW
    assert year.next_deadline(datetime(2028, 4, 2, tzinfo=UTC)) == datetime(
        2028, 6, 23, 16, tzinfo=UTC
    )
    assert year.advance_clock(datetime(2028, 5, 30, tzinfo=UTC)) == []


def test_finance_review_climbs_the_finance_ladder() -> None:
    year = _budget_approved()
    year.advance_clock(datetime(2028, 3, 2, tzinfo=UTC))
    _do(year, "submit_self_evaluation", df.results(85), DEPT, datetime(2028, 3, 2, tzinfo=UTC))
    fired = year.advance_clock(datetime(2028, 7, 2, tzinfo=UTC))
    assert _rungs(fired) == [
        ("reminder", datetime(2028, 6, 23, 16, tzinfo=UTC), -7),
        ("overdue", datetime(2028, 6, 30, 16, tzinfo=UTC), 0),
    ]
    assert all(e.detail["owner"] == "finance" for e in fired)
    assert fired[0].notify == [Audience(desk=Desk.FINANCE)]


def test_returned_goals_reopen_the_duty_without_repeating_a_fired_rung() -> None:
    year = _year(opened_at=datetime(2026, 7, 1, tzinfo=UTC))
    fired = year.advance_clock(datetime(2026, 11, 1, tzinfo=UTC))
    assert [e.action for e in fired] == ["reminder"]
    submitted = datetime(2026, 11, 1, 1, tzinfo=UTC)
    _do(year, "submit_goals", df.goals(), DEPT, submitted)
    assert year.next_deadline(submitted) is None  # finance's goals review has no ladder
    _do(year, "return_goals", {"comment": "补充"}, FIN, datetime(2026, 11, 2, tzinfo=UTC))
    # Returned on 2 November: 30 more days, to Wednesday 2 December; the reminder has fired.
    (duty,) = department_duties(year.year, year.rules)
    assert duty.due == date(2026, 12, 2)
    again = year.advance_clock(datetime(2026, 12, 3, tzinfo=UTC))
    assert [e.detail["offset_days"] for e in again] == [0]
