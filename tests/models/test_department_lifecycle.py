"""The department year's lifecycle: overall goals, budget, self-evaluation, review, reservations."""

from __future__ import annotations

from datetime import UTC, date, datetime
from decimal import Decimal

import pytest

from models import department_actions as da
from models.control_number import ControlNumber, Line
from models.department_lifecycle import DepartmentYear
from models.department_state import DepartmentYearInfo, DepartmentYearState
from models.engine import ActionRejected
from models.fiscal_notice import FiscalNotice, FiscalPhase
from models.project_state import Actor
from models.rules import Rules
from models.vocabulary import Grade, Role
from tests import department_factories as df

DEPT = Actor(username="clerk", role=Role.DEPARTMENT, department="D1")
FIN = Actor(username="officer", role=Role.FINANCE)
NOW = datetime(2027, 3, 1, tzinfo=UTC)
IN_YEAR = date(2027, 3, 1)
AFTER_YEAR = date(2028, 2, 1)


def _year(state: str = "goals_drafted") -> DepartmentYear:
    return DepartmentYear(
        DepartmentYearState(
            info=DepartmentYearInfo(department="D1", fiscal_year=2027), state=state
        ),
        Rules(),
    )


def _do(
    year: DepartmentYear, action: str, body: dict[str, object], actor: Actor, today: date
) -> None:
    payload = da.DEPARTMENT_PAYLOADS[action].model_validate(body)
    year.execute(action, payload, actor=actor, today=today, now=NOW)


def _through_budget(year: DepartmentYear) -> None:
    _do(year, "submit_goals", df.goals(), DEPT, IN_YEAR)
    _do(year, "approve_goals", {}, FIN, IN_YEAR)
    _do(year, "approve_department_budget", {"amount": 5_000_000}, FIN, IN_YEAR)


def _ceiling(amount: int | None) -> ControlNumber:
    return ControlNumber(
        department="D1",
        fiscal_year=2027,
        results_year=2026,
        ceiling=None if amount is None else Decimal(amount),
        lines=[Line(kind="result", amount=Decimal(amount or 0), text="t", text_zh="t")],
    )


def test_goals_must_cover_every_dimension() -> None:
    """Overall goals missing a dimension are refused, naming it in English and in Chinese."""
    year = _year()
    payload = da.SubmitOverallGoals.model_validate(df.goals(without="satisfaction"))
    rejection = year.evaluate("submit_goals", payload, role=Role.DEPARTMENT, today=IN_YEAR)
    assert rejection is not None
    [unmet] = rejection.unmet
    assert unmet.guard == "goals_cover_dimensions"
    assert "satisfaction (服务对象满意度)" in unmet.message
    assert "服务对象满意度" in unmet.message_zh
    assert year.year.state == "goals_drafted"


def test_duplicate_codes_and_missing_targets_are_listed_together() -> None:
    """Every problem of the goals is in the one message."""
    indicators = df.indicators()
    indicators[1] = {**indicators[1], "code": "C1"}
    indicators[2] = {**indicators[2], "target": None}
    payload = da.SubmitOverallGoals.model_validate({"indicators": indicators})
    rejection = _year().evaluate("submit_goals", payload, role=Role.DEPARTMENT, today=IN_YEAR)
    assert rejection is not None
    message = rejection.unmet[0].message
    assert "unique: C1" in message
    assert "indicator D1 is quantitative and needs a numeric target" in message


def test_no_department_budget_without_approved_overall_goals() -> None:
    """Finance cannot approve the department budget while the goals wait for review."""
    year = _year()
    _do(year, "submit_goals", df.goals(), DEPT, IN_YEAR)
    with pytest.raises(ActionRejected) as refused:
        _do(year, "approve_department_budget", {"amount": 100}, FIN, IN_YEAR)
    guards = {u.guard for u in refused.value.rejection.unmet}
    assert guards == {"state", "overall_goals_approved"}
    zh = [
        u.message_zh for u in refused.value.rejection.unmet if u.guard == "overall_goals_approved"
    ]
    assert zh == ["部门整体绩效目标已批复（无目标不得批复部门预算）"]
    assert year.year.budget_amount is None


def test_returned_goals_go_back_to_drafting_with_the_comment() -> None:
    """Return sends the goals back; the department may submit again."""
    year = _year()
    _do(year, "submit_goals", df.goals(), DEPT, IN_YEAR)
    _do(year, "return_goals", {"comment": "满意度指标不具体"}, FIN, IN_YEAR)
    assert year.year.state == "goals_drafted"
    assert year.year.goals_comment == "满意度指标不具体"
    _do(year, "submit_goals", df.goals(), DEPT, IN_YEAR)
    assert year.year.state == "goals_submitted"


def test_wrong_role_and_state_are_both_reported() -> None:
    """A department user asking finance's action on a drafted year hears both reasons."""
    rejection = _year().evaluate(
        "approve_goals", da.ApproveOverallGoals(), role=Role.DEPARTMENT, today=IN_YEAR
    )
    assert rejection is not None
    assert [u.guard for u in rejection.unmet] == ["role", "state", "goals_submitted"]


@pytest.mark.parametrize(
    ("actual", "first", "score", "grade"),
    [
        (100, None, Decimal(100), Grade.EXCELLENT),
        (100, 0, Decimal(90), Grade.EXCELLENT),
        (85, None, Decimal(85), Grade.GOOD),
        (70, None, Decimal(70), Grade.FAIR),
        (50, None, Decimal(50), Grade.POOR),
    ],
)
def test_self_evaluation_is_scored_and_graded(
    actual: int, first: int | None, score: Decimal, grade: Grade
) -> None:
    """The weighted share of indicator ratios, out of 100, graded 优≥90 良≥80 中≥60 差<60."""
    year = _year()
    _through_budget(year)
    _do(year, "submit_self_evaluation", df.results(actual, first=first), DEPT, AFTER_YEAR)
    evaluation = year.year.self_evaluation
    assert evaluation is not None
    assert (evaluation.score, evaluation.grade) == (score, grade)


def test_self_evaluation_waits_for_the_year_to_end_and_needs_every_result() -> None:
    """During the year, and with a result missing, both guards are named."""
    year = _year()
    _through_budget(year)
    body = df.results()
    body["results"] = body["results"][1:]
    payload = da.SubmitOverallSelfEvaluation.model_validate(body)
    rejection = year.evaluate(
        "submit_self_evaluation", payload, role=Role.DEPARTMENT, today=IN_YEAR
    )
    assert rejection is not None
    assert [u.guard for u in rejection.unmet] == ["year_over", "results_complete"]
    assert "missing result for indicator 'C1'" in rejection.unmet[1].message


def test_finance_review_may_adjust_the_score() -> None:
    """Finance's adjusted score decides the grade; its comment is kept; the year ends."""
    year = _year()
    _through_budget(year)
    _do(year, "submit_self_evaluation", df.results(), DEPT, AFTER_YEAR)
    _do(
        year,
        "review_self_evaluation",
        {"adjusted_score": 72, "comment": "佐证不足"},
        FIN,
        AFTER_YEAR,
    )
    review = year.year.review
    assert review is not None
    assert (review.self_score, review.final_score, review.grade) == (
        Decimal(100),
        Decimal(72),
        Grade.FAIR,
    )
    assert review.comment == "佐证不足"
    assert year.year.state == "reviewed"
    assert year.allowed_actions(role=Role.FINANCE, today=AFTER_YEAR) == []


def test_history_records_actor_time_and_states() -> None:
    """Each accepted action is a history entry with who, when, from and to."""
    year = _year()
    _through_budget(year)
    entries = year.year.history
    assert [(e.seq, e.action, e.actor, e.from_state, e.to_state) for e in entries] == [
        (1, "submit_goals", "clerk", "goals_drafted", "goals_submitted"),
        (2, "approve_goals", "officer", "goals_submitted", "goals_approved"),
        (3, "approve_department_budget", "officer", "goals_approved", "budget_approved"),
    ]
    assert all(e.at == NOW for e in entries)


def test_reservations_hold_until_the_ceiling_and_are_idempotent() -> None:
    """Room is taken in order; an over-ceiling amount is refused; asking again answers the same."""
    year = _year()
    _do(
        year,
        "set_control_number",
        {"control_number": _ceiling(1000).model_dump(mode="json")},
        FIN,
        IN_YEAR,
    )
    first = year.reserve(
        reservation_id="a", project_code="P1", amount=Decimal(600), actor=FIN, now=NOW
    )
    second = year.reserve(
        reservation_id="b", project_code="P2", amount=Decimal(500), actor=FIN, now=NOW
    )
    assert (first.granted, first.reserved_before) == (True, Decimal(0))
    assert (second.granted, second.reserved_before) == (False, Decimal(600))
    assert (
        year.reserve(reservation_id="a", project_code="P1", amount=Decimal(600), actor=FIN, now=NOW)
        == first
    )
    assert year.year.reserved == Decimal(600)
    # Released room is free again; confirming is final.
    assert year.settle(reservation_id="a", confirmed=False, actor=FIN, now=NOW)
    third = year.reserve(
        reservation_id="c", project_code="P2", amount=Decimal(500), actor=FIN, now=NOW
    )
    assert third.granted
    assert year.settle(reservation_id="c", confirmed=True, actor=FIN, now=NOW)
    assert not year.settle(reservation_id="c", confirmed=False, actor=FIN, now=NOW)
    assert year.year.reserved == Decimal(500)
    assert [e.action for e in year.year.history] == [
        "set_control_number",
        "reserve",
        "reserve_refused",
        "release_reservation",
        "reserve",
        "confirm_reservation",
    ]


def test_without_a_control_number_every_reservation_is_granted_and_counted() -> None:
    """No ceiling: granted, held — a ceiling set later counts it."""
    year = _year()
    facts = year.reserve(
        reservation_id="a", project_code="P1", amount=Decimal(700), actor=FIN, now=NOW
    )
    assert facts.granted
    assert facts.ceiling is None
    _do(
        year,
        "set_control_number",
        {"control_number": _ceiling(1000).model_dump(mode="json")},
        FIN,
        IN_YEAR,
    )
    later = year.reserve(
        reservation_id="b", project_code="P2", amount=Decimal(400), actor=FIN, now=NOW
    )
    assert (later.granted, later.reserved_before) == (False, Decimal(700))


def test_a_control_number_without_basis_or_for_another_year_is_refused() -> None:
    """Nothing to compute from, or the wrong department-year: refused, nothing recorded."""
    year = _year()
    for number, expected in (
        (_ceiling(None), "nothing to compute a control number from"),
        (_ceiling(1000).model_copy(update={"fiscal_year": 2028}), "is for D1 2028, not D1 2027"),
    ):
        payload = da.SetControlNumber(control_number=number)
        rejection = year.evaluate("set_control_number", payload, role=Role.FINANCE, today=IN_YEAR)
        assert rejection is not None
        assert expected in rejection.unmet[0].message
    assert year.year.control_number is None


def test_fiscal_notice_is_recorded_once() -> None:
    """A fiscal notice is a history entry; the same phase and year signalled again is not."""
    year = _year()
    notice = FiscalNotice(phase=FiscalPhase.SELF_EVALUATION, fiscal_year=2027, issued_at=NOW)
    entry = year.record_notice(notice, NOW)
    assert entry is not None
    assert entry.detail["phase_zh"] == "部署绩效自评"
    assert year.record_notice(notice, NOW) is None
    assert [e.action for e in year.year.history] == ["fiscal_notice"]
