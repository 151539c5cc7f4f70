"""A project carried over from the previous system owes what that system left undone."""

from __future__ import annotations

from datetime import UTC, date, datetime
from decimal import Decimal

from models.actions import PAYLOADS
from models.carry_over import ClosedYear, carried_over
from models.duties import DutyKind, open_duties
from models.engine import Lifecycle
from models.indicators import Indicator
from models.project_state import SYSTEM_ACTOR, Actor, ProjectInfo
from models.rules import Rules
from models.vocabulary import Grade, Role
from tests import factories as f

IMPORTED_AT = datetime(2026, 11, 27, 2, tzinfo=UTC)


def _carried() -> Lifecycle:
    info = ProjectInfo(**f.filing(start=2025, end=2025), department="D1")
    year = ClosedYear(
        fiscal_year=2025,
        indicators=[Indicator.model_validate(i) for i in f.indicators()],
        approved_amount=Decimal(1_000_000),
        executed_amount=Decimal(950_000),
        approved_on=date(2025, 1, 20),
    )
    state = carried_over(info, year, source="旧系统", imported_at=IMPORTED_AT, rules=Rules())
    return Lifecycle(state, Rules())


def test_the_closed_year_owes_its_self_evaluation_from_31_march() -> None:
    lifecycle = _carried()
    duties = open_duties(lifecycle.project, Rules().calendar, IMPORTED_AT.date())
    assert [(d.kind, d.fiscal_year, d.due) for d in duties] == [
        (DutyKind.SELF_EVALUATION, 2025, date(2026, 3, 31))
    ]


def test_the_ladder_fires_at_once_at_the_import_instant() -> None:
    lifecycle = _carried()
    fired = lifecycle.advance_clock(IMPORTED_AT, SYSTEM_ACTOR)
    ladder = [e.action for e in fired if e.detail.get("duty") == "self_evaluation"]
    assert ladder == ["reminder", "overdue", "escalation", "escalation"]
    assert {e.at for e in fired} == {IMPORTED_AT}  # not back-dated before the import
    assert [a.subject for a in lifecycle.project.accountability] == ["department_head:D1"]


def test_the_history_says_what_was_imported_by_whom() -> None:
    history = _carried().project.history
    assert [(e.seq, e.actor, e.role, e.action, e.to_state) for e in history] == [
        (1, "system", Role.SYSTEM, "file", "filed"),
        (2, "system", Role.SYSTEM, "carry_over", "active"),
    ]
    assert all(e.detail["imported_from"] == "旧系统" for e in history)
    assert history[1].detail["executed_amount"] == "950000"
    assert history[1].detail["closed_at"] == "2025-12-31T16:00:00+00:00"


def test_the_department_can_then_submit_the_late_self_evaluation() -> None:
    lifecycle = _carried()
    lifecycle.advance_clock(IMPORTED_AT, SYSTEM_ACTOR)
    clerk = Actor(username="clerk", role=Role.DEPARTMENT, department="D1")
    body = f.self_evaluation(2025, Grade.GOOD, executed=950_000)
    payload = PAYLOADS["submit_self_evaluation"].model_validate(body)
    lifecycle.execute("submit_self_evaluation", payload, actor=clerk, now=IMPORTED_AT)
    cycle = lifecycle.project.cycle(2025)
    assert cycle is not None
    assert cycle.state == "self_evaluated"
    assert open_duties(lifecycle.project, Rules().calendar, IMPORTED_AT.date())[0].kind is (
        DutyKind.REVIEW
    )
