"""The lifecycle engine without Temporal: the definition, the guards, and whole project runs."""

from __future__ import annotations

import gc
import weakref
from datetime import UTC, datetime
from decimal import Decimal
from typing import Any

import pytest

from models.actions import PAYLOADS
from models.engine import ActionRejected, Lifecycle
from models.engine_time import start_of_year
from models.guards import GUARDS
from models.lifecycle import ACTIONS, CYCLE_STATES, PROJECT_STATES, Level
from models.project_state import Actor, ProjectInfo, ProjectState
from models.rules import Rules
from models.state_machines import build_machine
from models.vocabulary import Grade, Role
from tests import factories as f

DEPT = Actor(username="clerk", role=Role.DEPARTMENT, department="D1")
FIN = Actor(username="officer", role=Role.FINANCE)
SYSTEM = Actor(username="system", role=Role.SYSTEM)
ACTOR_FOR = {Role.DEPARTMENT: DEPT, Role.FINANCE: FIN, Role.SYSTEM: SYSTEM}


class Driver:
    """A project driven through the engine at a settable business time."""

    def __init__(
        self,
        *,
        major: bool = False,
        start: int = 2027,
        end: int = 2029,
        now: datetime = datetime(2026, 11, 1, tzinfo=UTC),
    ) -> None:
        info = ProjectInfo(**f.filing(major=major, start=start, end=end), department="D1")
        self.state = ProjectState(info=info)
        self.lifecycle = Lifecycle(self.state, Rules())
        self.now = now

    def do(self, action: str, body: dict[str, Any] | None = None) -> None:
        payload = PAYLOADS[action].model_validate(body or {})
        self.lifecycle.execute(action, payload, actor=ACTOR_FOR[ACTIONS[action].role], now=self.now)
        self.lifecycle.advance_clock(self.now, SYSTEM)

    def unmet(
        self, action: str, body: dict[str, Any] | None = None, role: Role | None = None
    ) -> list[str]:
        payload = PAYLOADS[action].model_validate(body or {})
        actor = ACTOR_FOR[role or ACTIONS[action].role]
        with pytest.raises(ActionRejected) as rejected:
            self.lifecycle.execute(action, payload, actor=actor, now=self.now)
        return [u.guard for u in rejected.value.rejection.unmet]

    def at(self, year: int, month: int = 6, day: int = 15) -> None:
        self.now = datetime(year, month, day, 4, tzinfo=UTC)
        self.lifecycle.advance_clock(self.now, SYSTEM)

    def cycle_state(self, year: int) -> str:
        cycle = self.state.cycle(year)
        assert cycle is not None
        return cycle.state

    def fund_year(self, year: int, amount: int = 1_000_000) -> None:
        self.do("submit_goals", f.goals(year, amount))
        self.do("approve_goals", {"fiscal_year": year})
        self.do("approve_budget", {"fiscal_year": year, "amount": amount})


# --- the definition ---------------------------------------------------------------------------


@pytest.mark.parametrize("name", list(ACTIONS))
def test_every_action_names_known_states_and_guards(name: str) -> None:
    """Each transition's sources, destination, guards and routing names exist."""
    action = ACTIONS[name]
    states = PROJECT_STATES if action.level is Level.PROJECT else CYCLE_STATES
    assert action.transitions
    for t in action.transitions:
        assert set(t.source) <= set(states)
        assert t.dest in states
        for guard in (*t.guards, *(g for g in (t.when, t.unless) if g)):
            assert guard in GUARDS
    assert name in PAYLOADS


def test_every_state_is_reachable() -> None:
    """No state of either machine is dead: each is reached from another state, or initial."""
    # A self-loop (an action that records without moving) reaches nothing new.
    dests = {t.dest for a in ACTIONS.values() for t in a.transitions if t.source != (t.dest,)}
    assert set(PROJECT_STATES) - dests == {"filed"}
    assert set(CYCLE_STATES) - dests == {"goals_drafted"} - dests


# --- guards, table-driven ---------------------------------------------------------------------


def _active() -> Driver:
    d = Driver()
    d.do("submit")
    return d


def _goals_submitted() -> Driver:
    d = _active()
    d.do("submit_goals", f.goals(2027))
    return d


def _goals_approved() -> Driver:
    d = _goals_submitted()
    d.do("approve_goals", {"fiscal_year": 2027})
    return d


def _major_active_unassessed() -> Driver:
    d = Driver(major=True)
    d.do("submit")
    return d


def _executing() -> Driver:
    d = _active()
    d.fund_year(2027)
    d.at(2027)
    return d


REJECTIONS: list[tuple[str, Any, str, dict[str, Any], set[str]]] = [
    # (case, setup, action, body, expected unmet guards)
    (
        "budget without goals",
        _active,
        "approve_budget",
        {"fiscal_year": 2027, "amount": 100},
        {"state", "goals_approved", "amount_within_request"},
    ),
    (
        "budget before goals approved",
        _goals_submitted,
        "approve_budget",
        {"fiscal_year": 2027, "amount": 100},
        {"state", "goals_approved"},
    ),
    (
        "budget above the request",
        _goals_approved,
        "approve_budget",
        {"fiscal_year": 2027, "amount": 2_000_000},
        {"amount_within_request"},
    ),
    (
        "goals without an effect indicator",
        _active,
        "submit_goals",
        {**f.goals(2027), "indicators": f.indicators()[:1]},
        {"goals_well_formed"},
    ),
    ("goals outside the span", _active, "submit_goals", f.goals(2031), {"year_in_span"}),
    ("goals for a year too far ahead", _active, "submit_goals", f.goals(2029), {"year_in_span"}),
    (
        "goals before the project is submitted",
        Driver,
        "submit_goals",
        f.goals(2027),
        {"project_open"},
    ),
    (
        "approve goals never submitted",
        _active,
        "approve_goals",
        {"fiscal_year": 2027},
        {"state", "goals_submitted"},
    ),
    (
        "self-evaluation of an executing year",
        _executing,
        "submit_self_evaluation",
        f.self_evaluation(2027, Grade.GOOD),
        {"state", "year_closed"},
    ),
    (
        "assessment approval without one",
        lambda: Driver(major=True),
        "approve_assessment",
        {},
        {"state", "assessment_submitted", "assessment_passed"},
    ),
    (
        "review without self-evaluation",
        _executing,
        "review_self_evaluation",
        {"fiscal_year": 2027},
        {"state", "self_evaluation_submitted"},
    ),
    (
        "monitoring over the approved amount",
        _executing,
        "report_monitoring",
        {"fiscal_year": 2027, "period_end": "2027-04-30", "executed_amount": 2_000_000},
        {"executed_within_approved"},
    ),
    (
        "monitoring of a future period",
        _executing,
        "report_monitoring",
        {"fiscal_year": 2027, "period_end": "2027-12-31", "executed_amount": 10},
        {"period_in_year"},
    ),
    (
        "resume funding that is not suspended",
        _active,
        "resume_funding",
        {"reason": "ok"},
        {"state"},
    ),
]


@pytest.mark.parametrize(
    ("case", "setup", "action", "body", "expected"), REJECTIONS, ids=[r[0] for r in REJECTIONS]
)
def test_rejections_list_every_unmet_guard(
    case: str, setup: Any, action: str, body: dict[str, Any], expected: set[str]
) -> None:
    """A rejected action names exactly the preconditions that do not hold, and changes nothing."""
    d = setup()
    before = d.state.model_dump()
    assert set(d.unmet(action, body)) == expected
    assert d.state.model_dump() == before


def test_wrong_role_is_named() -> None:
    """A department cannot approve its own goals: the role is an unmet precondition."""
    d = _goals_submitted()
    assert d.unmet("approve_goals", {"fiscal_year": 2027}, role=Role.DEPARTMENT) == ["role"]


def test_major_project_needs_a_passed_assessment_before_any_budget() -> None:
    """Major projects: submit → assessment; a failing total blocks approval; passing opens it."""
    d = Driver(major=True)
    d.do("submit")
    assert d.state.state == "under_assessment"
    d.do("submit_assessment", f.assessment(total_each=10))  # 50 < 60
    assert d.unmet("approve_assessment") == ["assessment_passed"]
    d.do("reject_assessment", {"reason": "补充可行性论证"})
    assert d.state.assessment is None
    d.do("submit_assessment", f.assessment(total_each=17))  # 85: support
    d.do("approve_assessment", {"comment": "同意"})
    assert d.state.state == "active"
    d.fund_year(2027)
    assert d.cycle_state(2027) == "budget_approved"


def test_allowed_actions_follow_state_and_role() -> None:
    """Allowed actions are those whose state and non-payload guards hold, for that role."""
    d = _goals_submitted()
    finance = {
        (a.action, a.fiscal_year)
        for a in d.lifecycle.allowed_actions(role=Role.FINANCE, today=d.now.date())
    }
    assert ("approve_goals", 2027) in finance
    assert ("return_goals", 2027) in finance
    assert ("approve_budget", 2027) not in finance
    department = {
        (a.action, a.fiscal_year)
        for a in d.lifecycle.allowed_actions(role=Role.DEPARTMENT, today=d.now.date())
    }
    assert department == set()  # 2027 waits for finance; 2028 cannot be planned in 2026


# --- the clock --------------------------------------------------------------------------------


def test_year_begins_and_ends_on_local_new_year() -> None:
    """A budgeted year executes from 1 January and closes at the next, China Standard Time."""
    d = _active()
    d.fund_year(2027)
    assert d.lifecycle.next_clock_event(d.now) == start_of_year(2027, Rules())
    assert start_of_year(2027, Rules()) == datetime(2026, 12, 31, 16, tzinfo=UTC)
    d.now = datetime(2026, 12, 31, 15, 59, tzinfo=UTC)
    d.lifecycle.advance_clock(d.now, SYSTEM)
    assert d.cycle_state(2027) == "budget_approved"
    d.now = datetime(2026, 12, 31, 16, 0, tzinfo=UTC)
    d.lifecycle.advance_clock(d.now, SYSTEM)
    assert d.cycle_state(2027) == "executing"
    d.at(2028, 1, 1)
    assert d.cycle_state(2027) == "closed"
    moves = [e.action for e in d.state.history if e.from_state != e.to_state]
    assert moves[-2:] == ["start_year", "end_year"]


def test_finance_can_close_a_year_early() -> None:
    """close_year moves an executing year to closed before 31 December."""
    d = _executing()
    d.do("close_year", {"fiscal_year": 2027})
    assert d.cycle_state(2027) == "closed"


# --- whole runs -------------------------------------------------------------------------------


def _evaluate(d: Driver, year: int, grade: Grade) -> None:
    d.do("submit_self_evaluation", f.self_evaluation(year, grade))
    d.do("review_self_evaluation", {"fiscal_year": year, "comment": "审核"})


def test_three_years_with_a_fair_year_rectified_then_completed() -> None:
    """Fair → rectification and a 10 % cut of the next open budget; the end completes it."""
    d = _active()
    d.fund_year(2027)
    d.at(2027, 10)
    d.fund_year(2028)
    d.at(2028, 3)
    _evaluate(d, 2027, Grade.FAIR)
    review = d.state.cycle(2027).review  # type: ignore[union-attr]
    assert review is not None
    assert (review.grade, review.cut_percent, review.cut_applies_to) == (Grade.FAIR, 10, 2029)
    assert d.cycle_state(2027) == "rectifying"
    d.at(2028, 10)
    d.do("submit_goals", f.goals(2029))
    d.do("approve_goals", {"fiscal_year": 2029})
    assert d.unmet("approve_budget", {"fiscal_year": 2029, "amount": 1_000_000}) == [
        "amount_within_request"
    ]
    d.do("approve_budget", {"fiscal_year": 2029, "amount": 900_000})
    d.do("submit_rectification", {"fiscal_year": 2027, "report": "已整改"})
    d.do("reject_rectification", {"fiscal_year": 2027, "comment": "不充分"})
    d.do("submit_rectification", {"fiscal_year": 2027, "report": "已补充整改"})
    d.do("accept_rectification", {"fiscal_year": 2027, "comment": "通过"})
    assert d.cycle_state(2027) == "results_applied"
    d.at(2029, 3)
    _evaluate(d, 2028, Grade.GOOD)
    d.at(2030, 3)
    assert d.state.state == "active"
    d.do("submit_self_evaluation", f.self_evaluation(2029, Grade.EXCELLENT, executed=900_000))
    d.do("review_self_evaluation", {"fiscal_year": 2029, "comment": "优"})
    assert d.state.state == "completed"
    assert d.state.history[-1].action == "complete"
    assert [c.grade for c in d.state.cycles] == [Grade.FAIR, Grade.GOOD, Grade.EXCELLENT]


def test_two_poor_years_in_a_row_propose_exit() -> None:
    """Poor → 50 % cut, public notice, rectification; a second poor year proposes exit."""
    d = _active()
    d.fund_year(2027)
    d.at(2027, 10)
    d.fund_year(2028)
    d.at(2028, 3)
    _evaluate(d, 2027, Grade.POOR)
    first = d.state.cycle(2027).review  # type: ignore[union-attr]
    assert first is not None
    assert first.public_notice
    assert first.cut_percent == 50
    assert not d.state.exit_proposed
    d.at(2029, 3)
    _evaluate(d, 2028, Grade.POOR)
    after = d.state  # a fresh name: mypy would keep `d.state.exit_proposed` narrowed to False
    assert after.exit_proposed
    d.do("exit", {"reason": "low_performance", "comment": "连续两年差"})
    assert after.state == "exited"


def test_finance_adjusted_score_decides_the_grade() -> None:
    """An adjusted score in review overrides the self-evaluated one."""
    d = _executing()
    d.do("close_year", {"fiscal_year": 2027})
    d.do("submit_self_evaluation", f.self_evaluation(2027, Grade.EXCELLENT))
    d.do(
        "review_self_evaluation",
        {"fiscal_year": 2027, "adjusted_score": "72.5", "comment": "自评偏高"},
    )
    cycle = d.state.cycle(2027)
    assert cycle is not None
    assert cycle.grade is Grade.FAIR
    assert cycle.score == Decimal("72.5")
    assert cycle.state == "rectifying"


def test_a_cached_engine_keeps_no_machine_between_actions(monkeypatch: pytest.MonkeyPatch) -> None:
    """Each action's pytransitions machine is garbage once the action is applied: a worker
    caches a thousand engines, and every machine one kept (hundreds of objects with its
    models) was walked by each of the worker's full collections."""
    built: list[weakref.ref[Any]] = []

    def recording(*args: Any, **kwargs: Any) -> Any:
        machine = build_machine(*args, **kwargs)
        built.append(weakref.ref(machine))
        return machine

    monkeypatch.setattr("models.engine.build_machine", recording)
    d = _executing()  # project- and cycle-level actions, clock events among them
    cycle = d.state.cycle(2027)
    assert cycle is not None
    assert cycle.state == "executing"
    assert len(built) >= 5
    gc.collect()
    assert [ref for ref in built if ref() is not None] == []
