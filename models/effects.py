"""What an accepted action records in the project's state, after its transition.

Each effect is a plain function of the guard context; it changes the state object in place and
returns the detail kept in the history entry (the payload, plus what was computed from it).
No I/O here: notifications and projections happen in activities after the workflow records this.
"""

from __future__ import annotations

from collections.abc import Callable
from datetime import datetime
from typing import Any

from models import actions as a
from models.assessment import assess
from models.guards import GuardContext, final_score
from models.monitoring import goal_achievement_pct, monitoring_warning
from models.project_state import (
    Assessment,
    MonitoringReport,
    Rectification,
    Review,
    SelfEvaluation,
)
from models.results import apply_grade
from models.scoring import BudgetFigures, grade_for, score_self_evaluation

Effect = Callable[[GuardContext, Any, datetime], dict[str, Any]]


def _nothing(ctx: GuardContext, payload: a.Payload, now: datetime) -> dict[str, Any]:
    return {}


def _submit_assessment(ctx: GuardContext, p: a.SubmitAssessment, now: datetime) -> dict[str, Any]:
    outcome = assess(p.scores, ctx.rules.assessment)
    ctx.project.assessment = Assessment(
        scores=p.scores,
        assessor=p.assessor,
        summary=p.summary,
        total=outcome.total,
        conclusion=outcome.conclusion,
        passed=outcome.passed,
        submitted_at=now,
    )
    return {"total": str(outcome.total), "conclusion": outcome.conclusion.value}


def _approve_assessment(ctx: GuardContext, p: a.ApproveAssessment, now: datetime) -> dict[str, Any]:
    assert ctx.project.assessment is not None
    ctx.project.assessment.decided = True
    return {}


def _reject_assessment(ctx: GuardContext, p: a.RejectAssessment, now: datetime) -> dict[str, Any]:
    # The department revises and resubmits; the rejected one stays in the history entry.
    rejected = ctx.project.assessment
    ctx.project.assessment = None
    return {"rejected_total": str(rejected.total) if rejected else None}


def _suspend(ctx: GuardContext, p: a.SuspendFunding, now: datetime) -> dict[str, Any]:
    ctx.project.suspended_reason = p.reason
    return {}


def _resume(ctx: GuardContext, p: a.ResumeFunding, now: datetime) -> dict[str, Any]:
    ctx.project.suspended_reason = None
    return {}


def _exit(ctx: GuardContext, p: a.Exit, now: datetime) -> dict[str, Any]:
    ctx.project.exit_reason = p.reason
    return {}


def _submit_goals(ctx: GuardContext, p: a.SubmitGoals, now: datetime) -> dict[str, Any]:
    assert ctx.cycle is not None
    ctx.cycle.requested_amount = p.requested_amount
    ctx.cycle.indicators = list(p.indicators)
    ctx.cycle.goals_comment = ""
    return {}


def _return_goals(ctx: GuardContext, p: a.ReturnGoals, now: datetime) -> dict[str, Any]:
    assert ctx.cycle is not None
    ctx.cycle.goals_comment = p.comment
    return {}


def _approve_budget(ctx: GuardContext, p: a.ApproveBudget, now: datetime) -> dict[str, Any]:
    assert ctx.cycle is not None
    ctx.cycle.approved_amount = p.amount
    return {}


def _report_monitoring(ctx: GuardContext, p: a.ReportMonitoring, now: datetime) -> dict[str, Any]:
    cycle = ctx.cycle
    assert cycle is not None
    assert cycle.approved_amount is not None
    goal_pct = goal_achievement_pct(cycle.indicators, p.progress)
    judged = monitoring_warning(
        period_end=p.period_end,
        approved=cycle.approved_amount,
        executed=p.executed_amount,
        goal_achievement_pct=goal_pct,
        rules=ctx.rules.monitoring,
    )
    cycle.monitoring.append(
        MonitoringReport(
            period_end=p.period_end,
            executed_amount=p.executed_amount,
            progress={x.code: x.actual for x in p.progress},
            execution_pct=judged.execution_pct,
            threshold_pct=judged.threshold_pct,
            goal_achievement_pct=goal_pct,
            warning=judged.level,
            reasons=list(judged.reasons),
            reported_at=now,
        )
    )
    cycle.executed_amount = p.executed_amount
    cycle.warning = judged.level  # the latest report speaks for the year
    return {"warning": judged.level.value, "reasons": list(judged.reasons)}


def _submit_self_evaluation(
    ctx: GuardContext, p: a.SubmitSelfEvaluation, now: datetime
) -> dict[str, Any]:
    cycle = ctx.cycle
    assert cycle is not None
    assert cycle.approved_amount is not None
    report = score_self_evaluation(
        budget=BudgetFigures(available=cycle.approved_amount, executed=p.executed_amount),
        indicators=cycle.indicators,
        results=p.results,
        rules=ctx.rules.scoring,
    )
    cycle.executed_amount = p.executed_amount
    cycle.self_evaluation = SelfEvaluation(
        executed_amount=p.executed_amount, results=list(p.results), report=report, submitted_at=now
    )
    return {"score": str(report.total), "grade": report.grade.value}


def _review(ctx: GuardContext, p: a.ReviewSelfEvaluation, now: datetime) -> dict[str, Any]:
    cycle = ctx.cycle
    assert cycle is not None
    assert ctx.fiscal_year is not None
    score = final_score(cycle, p)
    assert score is not None
    grade = grade_for(score, ctx.rules.scoring)
    applied = apply_grade(
        project=ctx.project, fiscal_year=ctx.fiscal_year, grade=grade, rules=ctx.rules.results
    )
    cycle.review = Review(
        adjusted_score=p.adjusted_score,
        final_score=score,
        grade=grade,
        comment=p.comment,
        consequence=applied.consequence,
        cut_percent=applied.cut_percent,
        cut_applies_to=applied.cut_applies_to,
        public_notice=applied.public_notice,
        reviewed_at=now,
    )
    if applied.rectification:
        cycle.rectification = Rectification(ordered_at=now)
    if applied.propose_exit:
        ctx.project.exit_proposed = True
    return {
        "score": str(score),
        "grade": grade.value,
        "consequence": applied.consequence.value,
        "cut_percent": str(applied.cut_percent),
        "cut_applies_to": applied.cut_applies_to,
        "public_notice": applied.public_notice,
        "exit_proposed": applied.propose_exit,
    }


def _submit_rectification(
    ctx: GuardContext, p: a.SubmitRectification, now: datetime
) -> dict[str, Any]:
    assert ctx.cycle is not None
    assert ctx.cycle.rectification is not None
    ctx.cycle.rectification.report = p.report
    ctx.cycle.rectification.submitted_at = now
    return {}


def _accept_rectification(
    ctx: GuardContext, p: a.AcceptRectification, now: datetime
) -> dict[str, Any]:
    assert ctx.cycle is not None
    assert ctx.cycle.rectification is not None
    ctx.cycle.rectification.accepted_at = now
    return {}


def _reject_rectification(
    ctx: GuardContext, p: a.RejectRectification, now: datetime
) -> dict[str, Any]:
    assert ctx.cycle is not None
    assert ctx.cycle.rectification is not None
    ctx.cycle.rectification.rejections += 1
    return {}


EFFECTS: dict[str, Effect] = {
    "submit_assessment": _submit_assessment,
    "approve_assessment": _approve_assessment,
    "reject_assessment": _reject_assessment,
    "suspend_funding": _suspend,
    "resume_funding": _resume,
    "exit": _exit,
    "submit_goals": _submit_goals,
    "return_goals": _return_goals,
    "approve_budget": _approve_budget,
    "report_monitoring": _report_monitoring,
    "submit_self_evaluation": _submit_self_evaluation,
    "review_self_evaluation": _review,
    "submit_rectification": _submit_rectification,
    "accept_rectification": _accept_rectification,
    "reject_rectification": _reject_rectification,
}


def apply_effects(action: str, ctx: GuardContext, now: datetime) -> dict[str, Any]:
    """Record what `action` did; return the history detail (the payload plus what was computed)."""
    assert ctx.payload is not None
    effect: Effect = EFFECTS.get(action, _nothing)
    computed = effect(ctx, ctx.payload, now)
    return {**ctx.payload.model_dump(mode="json", exclude={"fiscal_year"}), **computed}
