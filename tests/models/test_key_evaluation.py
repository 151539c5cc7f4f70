"""Finance key evaluation (财政重点评价): weights, scoring, selection, and its place in the cycle."""

from __future__ import annotations

from decimal import Decimal
from typing import Any

import pytest
from pydantic import ValidationError

from models.actions import PAYLOADS
from models.engine import ActionRejected
from models.guards import approvable_amount
from models.key_evaluation import (
    Candidate,
    KeyScores,
    SelectionReason,
    key_grade,
    key_total,
    score_problems,
    select_for_key_evaluation,
)
from models.project_state import Actor
from models.rules import KeyEvaluationRules
from models.scoring import ScoringRules
from models.vocabulary import Grade, ResultConsequence, Role
from tests import factories as f
from tests.models.test_lifecycle import Driver

EVAL = Actor(username="expert1", role=Role.EVALUATOR)
OTHER_EVAL = Actor(username="expert2", role=Role.EVALUATOR)


# --- weights -----------------------------------------------------------------------------------


def test_default_weights_are_20_20_30_30() -> None:
    """The defaults split 100 points as decision 20, process 20, output 30, effect 30."""
    assert KeyEvaluationRules().weights() == {
        "decision": 20,
        "process": 20,
        "output": 30,
        "effect": 30,
    }


def test_output_and_effect_must_weigh_at_least_60() -> None:
    """25/25/25/25 adds up to 100 but gives output + effect only 50: refused, naming the rule."""
    with pytest.raises(ValidationError, match="at least 60"):
        KeyEvaluationRules(
            decision_weight=Decimal(25),
            process_weight=Decimal(25),
            output_weight=Decimal(25),
            effect_weight=Decimal(25),
        )
    assert KeyEvaluationRules(
        decision_weight=Decimal(25),
        process_weight=Decimal(15),
        output_weight=Decimal(30),
        effect_weight=Decimal(30),
    ).output_weight == Decimal(30)


def test_weights_must_add_up_to_100() -> None:
    """Weights of 20/20/30/40 (110) are refused."""
    with pytest.raises(ValidationError, match="add up to 100"):
        KeyEvaluationRules(effect_weight=Decimal(40))


# --- scoring -----------------------------------------------------------------------------------


def test_total_and_grade_by_hand() -> None:
    """18 + 15.5 + 27 + 20 = 80.5 → 良; 18 + 15.5 + 27 + 29.5 = 90 → 优; 10+10+20+19.99 → 差."""
    good = KeyScores(
        decision=Decimal(18), process=Decimal("15.5"), output=Decimal(27), effect=Decimal(20)
    )
    assert key_total(good) == Decimal("80.50")
    assert key_grade(good, ScoringRules()) is Grade.GOOD
    excellent = good.model_copy(update={"effect": Decimal("29.5")})
    assert key_total(excellent) == Decimal("90.00")
    assert key_grade(excellent, ScoringRules()) is Grade.EXCELLENT
    poor = KeyScores(
        decision=Decimal(10), process=Decimal(10), output=Decimal(20), effect=Decimal("19.99")
    )
    assert key_grade(poor, ScoringRules()) is Grade.POOR


def test_a_part_above_its_weight_is_named() -> None:
    """Output 31 of 30 and decision 21 of 20 are both reported; parts within weight are not."""
    scores = KeyScores(
        decision=Decimal(21), process=Decimal(20), output=Decimal(31), effect=Decimal(30)
    )
    problems = score_problems(scores, KeyEvaluationRules())
    assert len(problems) == 2
    assert problems[0].startswith("decision (决策) scored 21")
    assert problems[1].startswith("output (产出) scored 31")
    assert (
        score_problems(
            scores.model_copy(update={"decision": 20, "output": 30}), KeyEvaluationRules()
        )
        == []
    )


# --- selection ---------------------------------------------------------------------------------


def _candidates() -> list[Candidate]:
    def c(code: str, *, major: bool = False, gap: bool = False, red: bool = False) -> Candidate:
        return Candidate(code, major=major, score_gap=gap, red_warning=red)

    plain = [c(f"P{i:02d}") for i in range(1, 21)]
    return [
        c("M1", major=True),
        c("G1", gap=True),
        c("R1", red=True),
        c("MR", major=True, red=True),
        *plain,
    ]


def test_major_and_flagged_are_always_selected_with_their_reasons() -> None:
    """Major, score-gap and red-warning projects are selected whatever the seed, each reason kept."""
    selection = select_for_key_evaluation(_candidates(), seed=7, sample_percent=Decimal(0))
    assert {s.code: s.reasons for s in selection.selected} == {
        "G1": (SelectionReason.SCORE_GAP,),
        "M1": (SelectionReason.MAJOR,),
        "MR": (SelectionReason.MAJOR, SelectionReason.RED_WARNING),
        "R1": (SelectionReason.RED_WARNING,),
    }


def test_sample_is_ceil_of_the_percent_of_the_rest() -> None:
    """10 % of the 20 unflagged projects is 2; 11 % is ⌈2.2⌉ = 3; drawn only from the pool."""
    ten = select_for_key_evaluation(_candidates(), seed=1, sample_percent=Decimal(10))
    sampled = [s.code for s in ten.selected if s.reasons == (SelectionReason.SAMPLE,)]
    assert len(sampled) == 2
    assert set(sampled) <= set(ten.sample_pool)
    assert len(ten.sample_pool) == 20
    eleven = select_for_key_evaluation(_candidates(), seed=1, sample_percent=Decimal(11))
    assert sum(s.reasons == (SelectionReason.SAMPLE,) for s in eleven.selected) == 3


def test_the_draw_is_reproducible_from_the_seed() -> None:
    """The same seed gives the same sample whatever the input order; other seeds differ."""
    forward = select_for_key_evaluation(_candidates(), seed=2026, sample_percent=Decimal(25))
    backward = select_for_key_evaluation(
        list(reversed(_candidates())), seed=2026, sample_percent=Decimal(25)
    )
    assert forward == backward
    others = {
        select_for_key_evaluation(_candidates(), seed=s, sample_percent=Decimal(25)).selected
        for s in range(20)
    }
    assert len(others) > 1


# --- in the cycle machine ----------------------------------------------------------------------


def _self_evaluated(grade: Grade, *, major: bool = False) -> Driver:
    """A project whose 2027 is self-evaluated and whose 2028 budget is approved (March 2028)."""
    d = Driver(major=major)
    d.do("submit")
    if major:
        d.do("submit_assessment", {**f.assessment(), "institution": "甲评估公司"})
        d.do("approve_assessment", {})
    d.fund_year(2027)
    d.at(2027, 10)
    d.fund_year(2028)
    d.at(2028, 3)
    d.do("submit_self_evaluation", f.self_evaluation(2027, grade))
    return d


def _evaluator(expert_id: int, username: str, **extra: Any) -> dict[str, Any]:
    return {
        "expert_id": expert_id,
        "name": f"专家{expert_id}",
        "kind": "expert",
        "username": username,
        **extra,
    }


def _submit(d: Driver, actor: Actor, scores: dict[str, Any]) -> None:
    payload = PAYLOADS["submit_key_evaluation"].model_validate(
        {"fiscal_year": 2027, "scores": scores, "report": "重点评价报告"}
    )
    d.lifecycle.execute("submit_key_evaluation", payload, actor=actor, now=d.now)


POOR_SCORES = {"decision": 12, "process": 10, "output": 18, "effect": 10}  # 50 → 差


def test_key_grade_overrides_the_self_evaluation_in_result_application() -> None:
    """Self-evaluated 优 (100), key-evaluated 差 (50): rectification, a 50 % cut and a notice."""
    d = _self_evaluated(Grade.EXCELLENT)
    d.do("select_for_key_evaluation", {"fiscal_year": 2027, "reasons": ["sample"], "seed": 42})
    assert d.cycle_state(2027) == "key_evaluating"
    d.do(
        "assign_evaluators",
        {"fiscal_year": 2027, "evaluators": [_evaluator(1, "expert1")], "departments": ["D2"]},
    )
    _submit(d, EVAL, POOR_SCORES)
    cycle = d.state.cycle(2027)
    assert cycle is not None
    record = cycle.key_evaluation_record
    assert record is not None
    assert (record.total, record.grade) == (Decimal(50), Grade.POOR)
    assert record.consequence is ResultConsequence.CUT_RECTIFY_AND_NOTIFY
    assert (record.cut_percent, record.cut_applies_to, record.public_notice) == (
        Decimal(50),
        2029,
        True,
    )
    assert record.selected_from == "self_evaluated"
    assert record.selection_seed == 42
    assert record.departments == ["D2"]
    assert cycle.self_evaluation is not None
    assert cycle.self_evaluation.report.grade is Grade.EXCELLENT
    assert (cycle.grade, cycle.score) == (Grade.POOR, Decimal(50))
    assert cycle.state == "rectifying"
    assert cycle.rectification is not None
    d.at(2028, 10)
    d.do("submit_goals", f.goals(2029))
    d.do("approve_goals", {"fiscal_year": 2029})
    assert approvable_amount(d.state, 2029) == Decimal("500000.00")
    [entry] = [e for e in d.state.history if e.action == "submit_key_evaluation"]
    assert entry.detail["replaces_grade"] is None
    assert entry.detail["self_evaluated_grade"] == "excellent"


def test_key_evaluation_after_review_replaces_the_reviewed_cut() -> None:
    """Reviewed 差 at 58 (50 % cut, rectifying), then key-evaluated 优: results applied, no cut."""
    d = _self_evaluated(Grade.FAIR)
    d.do("review_self_evaluation", {"fiscal_year": 2027, "adjusted_score": "58", "comment": "偏低"})
    cycle = d.state.cycle(2027)
    assert cycle is not None
    assert cycle.key_evaluation  # 70 self-evaluated vs 58 reviewed: a 12-point gap
    assert cycle.state == "rectifying"
    d.do("select_for_key_evaluation", {"fiscal_year": 2027, "reasons": ["score_gap"]})
    d.do("assign_evaluators", {"fiscal_year": 2027, "evaluators": [_evaluator(1, "expert1")]})
    _submit(d, EVAL, {"decision": 19, "process": 19, "output": 28, "effect": 28})  # 94 → 优
    assert cycle.state == "results_applied"
    assert cycle.grade is Grade.EXCELLENT
    assert cycle.review is not None
    assert cycle.review.cut_percent == 50  # 58 is 差: the review's own record stays
    d.at(2028, 10)
    d.do("submit_goals", f.goals(2029))
    assert approvable_amount(d.state, 2029) == Decimal("1000000.00")
    [entry] = [e for e in d.state.history if e.action == "submit_key_evaluation"]
    assert entry.detail["replaces_grade"] == "poor"


def test_only_an_assigned_evaluator_may_submit_and_scores_stay_within_weights() -> None:
    """An unassigned evaluator and an over-weight part are refused; nothing is recorded."""
    d = _self_evaluated(Grade.GOOD)
    d.do("select_for_key_evaluation", {"fiscal_year": 2027, "reasons": ["finance_choice"]})
    with pytest.raises(ActionRejected) as early:
        _submit(d, EVAL, POOR_SCORES)
    assert {u.guard for u in early.value.rejection.unmet} == {
        "evaluators_assigned",
        "assigned_evaluator",
    }
    d.do("assign_evaluators", {"fiscal_year": 2027, "evaluators": [_evaluator(1, "expert1")]})
    seq = d.state.seq
    with pytest.raises(ActionRejected) as stranger:
        _submit(d, OTHER_EVAL, POOR_SCORES)
    assert [u.guard for u in stranger.value.rejection.unmet] == ["assigned_evaluator"]
    with pytest.raises(ActionRejected) as heavy:
        _submit(d, EVAL, {**POOR_SCORES, "output": 31})
    assert [u.guard for u in heavy.value.rejection.unmet] == ["key_scores_within_weights"]
    assert "output (产出) scored 31" in heavy.value.rejection.unmet[0].message
    assert d.state.seq == seq
    assert d.cycle_state(2027) == "key_evaluating"
    allowed = d.lifecycle.allowed_actions(role=Role.EVALUATOR, today=d.now.date(), actor=EVAL)
    assert [(a.action, a.fiscal_year) for a in allowed] == [("submit_key_evaluation", 2027)]
    assert (
        d.lifecycle.allowed_actions(role=Role.EVALUATOR, today=d.now.date(), actor=OTHER_EVAL) == []
    )


def test_selection_reasons_must_hold_and_a_year_is_selected_once() -> None:
    """'major' on a non-major project and 'red_warning' without one are refused; no reselection."""
    d = _self_evaluated(Grade.GOOD)
    assert d.unmet(
        "select_for_key_evaluation", {"fiscal_year": 2027, "reasons": ["major", "red_warning"]}
    ) == ["selection_reasons_hold"]
    d.do("select_for_key_evaluation", {"fiscal_year": 2027, "reasons": ["sample"]})
    assert set(
        d.unmet("select_for_key_evaluation", {"fiscal_year": 2027, "reasons": ["sample"]})
    ) == {
        "state",
        "not_key_evaluated",
    }


def test_a_conflicted_evaluator_is_refused_by_the_guard() -> None:
    """Same department, the owner, a past actor, the ex-ante assessor: each named in the refusal."""
    d = _self_evaluated(Grade.GOOD, major=True)
    d.do("select_for_key_evaluation", {"fiscal_year": 2027, "reasons": ["major"]})
    evaluators = [
        _evaluator(1, "x1", department="D1"),
        {"expert_id": 2, "name": "张三", "kind": "expert"},  # the owner
        _evaluator(3, "clerk"),  # filed things in the project's history
        _evaluator(4, "x4", institution="甲评估公司"),
        {"expert_id": 5, "name": "甲评估公司", "kind": "institution"},
    ]
    unmet = d.unmet("assign_evaluators", {"fiscal_year": 2027, "evaluators": evaluators})
    assert unmet == ["evaluators_independent"]
    with pytest.raises(ActionRejected) as refused:
        d.lifecycle.execute(
            "assign_evaluators",
            PAYLOADS["assign_evaluators"].model_validate(
                {"fiscal_year": 2027, "evaluators": evaluators}
            ),
            actor=Actor(username="officer", role=Role.FINANCE),
            now=d.now,
        )
    message = refused.value.rejection.unmet[0].message
    for expert_id in (1, 2, 3, 4, 5):
        assert f"#{expert_id})" in message
    d.do("assign_evaluators", {"fiscal_year": 2027, "evaluators": [_evaluator(6, "x6")]})
    assert d.state.cycles[0].key_evaluation_record.evaluators[0].expert_id == 6  # type: ignore[union-attr]


def test_key_evaluation_is_a_finance_duty_due_with_the_review() -> None:
    """While a year is key-evaluated, finance owes it by 30 June of N+1; submitting ends it."""
    d = _self_evaluated(Grade.GOOD)
    d.do("select_for_key_evaluation", {"fiscal_year": 2027, "reasons": ["sample"]})
    duties = {(x.kind.value, x.fiscal_year, x.due.isoformat()) for x in d.lifecycle.duties(d.now)}
    assert ("key_evaluation", 2027, "2028-06-30") in duties
    assert not any(kind == "review" and year == 2027 for kind, year, _ in duties)
    d.do("assign_evaluators", {"fiscal_year": 2027, "evaluators": [_evaluator(1, "expert1")]})
    _submit(d, EVAL, {"decision": 18, "process": 18, "output": 25, "effect": 25})
    assert not any(x.kind.value == "key_evaluation" for x in d.lifecycle.duties(d.now))


def test_project_completes_only_after_the_last_years_key_evaluation() -> None:
    """A last year under key evaluation holds completion until the evaluation is submitted."""
    d = Driver(start=2027, end=2027)
    d.do("submit")
    d.fund_year(2027)
    d.at(2028, 3)
    d.do("submit_self_evaluation", f.self_evaluation(2027, Grade.GOOD))
    d.do("select_for_key_evaluation", {"fiscal_year": 2027, "reasons": ["sample"]})
    assert d.state.state == "active"
    d.do("assign_evaluators", {"fiscal_year": 2027, "evaluators": [_evaluator(1, "expert1")]})
    _submit(d, EVAL, {"decision": 18, "process": 18, "output": 25, "effect": 25})
    d.lifecycle.advance_clock(d.now, Actor(username="system", role=Role.SYSTEM))
    assert d.state.state == "completed"
    assert d.state.cycles[0].grade is Grade.GOOD
