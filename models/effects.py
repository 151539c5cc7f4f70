"""What an accepted action records in the project's state, after its transition.

Each effect is a plain function of the guard context; it changes the state object in place and
returns the detail kept in the history entry (the payload, plus what was computed from it).
No I/O here: notifications and projections happen in activities after the workflow records this.
"""

from __future__ import annotations

from collections.abc import Callable
from dataclasses import dataclass
from datetime import datetime
from decimal import Decimal
from typing import Any

from models import actions as a
from models.assessment import assess
from models.escalation import audiences
from models.guards import GuardContext, final_score
from models.key_evaluation import KeyEvaluation, key_grade, key_total
from models.kinds import fund_decision, performance_payment, procurement_savings, threshold_warnings
from models.monitoring import goal_achievement_pct, monitoring_warning
from models.notify import Audience, Desk, EventKind
from models.project_state import (
    WARNING_ORDER,
    AccountabilityRecord,
    Assessment,
    DisciplineTransfer,
    MonitoringReport,
    PerformancePayment,
    ProcurementRecord,
    ProjectState,
    Rectification,
    Review,
    SelfEvaluation,
    ThirdPartyEvaluation,
    WarningResponse,
)
from models.results import apply_grade
from models.scoring import BudgetFigures, grade_for, score_self_evaluation
from models.vocabulary import Grade, ProjectKind, WarningDecision, WarningLevel

Effect = Callable[[GuardContext, Any, datetime, list["FollowUp"]], dict[str, Any]]


def _nothing(
    ctx: GuardContext, payload: a.Payload, now: datetime, follow: list[FollowUp]
) -> dict[str, Any]:
    return {}


def _submit_assessment(
    ctx: GuardContext, p: a.SubmitAssessment, now: datetime, follow: list[FollowUp]
) -> dict[str, Any]:
    outcome = assess(p.scores, ctx.rules.assessment)
    ctx.project.assessment = Assessment(
        scores=p.scores,
        assessor=p.assessor,
        summary=p.summary,
        institution=p.institution,
        total=outcome.total,
        conclusion=outcome.conclusion,
        passed=outcome.passed,
        submitted_at=now,
    )
    return {"total": str(outcome.total), "conclusion": outcome.conclusion.value}


def _approve_assessment(
    ctx: GuardContext, p: a.ApproveAssessment, now: datetime, follow: list[FollowUp]
) -> dict[str, Any]:
    assert ctx.project.assessment is not None
    ctx.project.assessment.decided = True
    return {}


def _reject_assessment(
    ctx: GuardContext, p: a.RejectAssessment, now: datetime, follow: list[FollowUp]
) -> dict[str, Any]:
    # The department revises and resubmits; the rejected one stays in the history entry.
    rejected = ctx.project.assessment
    ctx.project.assessment = None
    return {"rejected_total": str(rejected.total) if rejected else None}


def _suspend(
    ctx: GuardContext, p: a.SuspendFunding, now: datetime, follow: list[FollowUp]
) -> dict[str, Any]:
    ctx.project.suspended_reason = p.reason
    return {}


def _resume(
    ctx: GuardContext, p: a.ResumeFunding, now: datetime, follow: list[FollowUp]
) -> dict[str, Any]:
    ctx.project.suspended_reason = None
    return {}


def _exit(ctx: GuardContext, p: a.Exit, now: datetime, follow: list[FollowUp]) -> dict[str, Any]:
    ctx.project.exit_reason = p.reason
    return {}


def _transfer_to_discipline(
    ctx: GuardContext, p: a.TransferToDiscipline, now: datetime, follow: list[FollowUp]
) -> dict[str, Any]:
    # The entry this action records comes next in history: the record points at it, and so
    # at who took the decision.
    ctx.project.discipline_transfers.append(
        DisciplineTransfer(
            seq=ctx.project.seq + 1,
            at=now,
            fiscal_year=p.fiscal_year,
            reason=p.reason,
            evidence=p.evidence,
        )
    )
    return {}


def _submit_goals(
    ctx: GuardContext, p: a.SubmitGoals, now: datetime, follow: list[FollowUp]
) -> dict[str, Any]:
    assert ctx.cycle is not None
    ctx.cycle.requested_amount = p.requested_amount
    ctx.cycle.indicators = list(p.indicators)
    ctx.cycle.goals_comment = ""
    return {}


def _return_goals(
    ctx: GuardContext, p: a.ReturnGoals, now: datetime, follow: list[FollowUp]
) -> dict[str, Any]:
    assert ctx.cycle is not None
    ctx.cycle.goals_comment = p.comment
    return {}


def _approve_budget(
    ctx: GuardContext, p: a.ApproveBudget, now: datetime, follow: list[FollowUp]
) -> dict[str, Any]:
    assert ctx.cycle is not None
    ctx.cycle.approved_amount = p.amount
    return {}


def _report_monitoring(
    ctx: GuardContext, p: a.ReportMonitoring, now: datetime, follow: list[FollowUp]
) -> dict[str, Any]:
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
    level, reasons = judged.level, list(judged.reasons)
    # The budget type's and kind's own risk thresholds (a fund's balance-months, a bond's
    # repayment coverage) speak too; only projects with such rules get anything from here.
    info = ctx.project.info
    actual = {x.code: x.actual for x in p.progress if x.actual is not None}
    achievements = {x.code: x.achievement for x in p.progress if x.achievement is not None}
    kind_level, kind_reasons = threshold_warnings(
        info.budget_type, info.kind, actual.items(), ctx.rules.kinds, achievements
    )
    if kind_reasons:
        level = max(level, kind_level, key=WARNING_ORDER.index)
        reasons.extend(kind_reasons)
    cycle.monitoring.append(
        MonitoringReport(
            period_end=p.period_end,
            executed_amount=p.executed_amount,
            progress=actual,
            achievements=achievements,
            execution_pct=judged.execution_pct,
            threshold_pct=judged.threshold_pct,
            goal_achievement_pct=goal_pct,
            warning=level,
            reasons=list(reasons),
            reported_at=now,
        )
    )
    earlier = sum(1 for r in cycle.monitoring[:-1] if r.warning is not WarningLevel.NONE)
    if (
        level is WarningLevel.YELLOW
        and ctx.project.info.major
        and earlier + 1 >= ctx.rules.escalation.major_yellow_to_red
    ):
        level = WarningLevel.RED
        reasons.append(f"a major project warned {earlier + 1} times this year")
        cycle.monitoring[-1] = cycle.monitoring[-1].model_copy(
            update={"warning": level, "reasons": reasons}
        )
    cycle.executed_amount = p.executed_amount
    cycle.warning = level  # the latest report speaks for the year
    if level is not WarningLevel.NONE:
        _warn(ctx, level, reasons, now, follow)
    return {"warning": level.value, "reasons": reasons}


def _warn(
    ctx: GuardContext,
    level: WarningLevel,
    reasons: list[str],
    now: datetime,
    follow: list[FollowUp],
) -> None:
    """Yellow tells the department; red reaches finance at once and asks for an answer."""
    cycle, info = ctx.cycle, ctx.project.info
    assert cycle is not None
    detail: dict[str, Any] = {"level": level.value, "reasons": reasons}
    desks = [Desk.DEPARTMENT]
    if level is WarningLevel.RED:
        desks = [Desk.FINANCE, Desk.DEPARTMENT, Desk.DEPARTMENT_HEAD]
        if cycle.warning_response_due is None or cycle.warning_response is not None:
            cycle.warning_response = None
            cycle.warning_response_due = ctx.rules.calendar.add_working_days(
                ctx.today, ctx.rules.calendar.warning_response_working_days
            )
        detail["respond_by"] = cycle.warning_response_due.isoformat()
    follow.append(FollowUp(EventKind.WARNING, detail, audiences(ctx.project, desks)))
    if level is WarningLevel.RED and info.major:
        follow.append(
            accountability(
                ctx.project,
                ctx.fiscal_year,
                subject=f"owner:{info.owner}",
                reason="red warning on a major project",
                now=now,
            )
        )


def _submit_self_evaluation(
    ctx: GuardContext, p: a.SubmitSelfEvaluation, now: datetime, follow: list[FollowUp]
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
    third_party = None
    if p.third_party_evaluator is not None and p.evaluation_standard is not None:
        third_party = ThirdPartyEvaluation(
            evaluator=p.third_party_evaluator, standard=p.evaluation_standard
        )
    cycle.self_evaluation = SelfEvaluation(
        executed_amount=p.executed_amount,
        results=list(p.results),
        report=report,
        submitted_at=now,
        third_party=third_party,
    )
    return {"score": str(report.total), "grade": report.grade.value}


def _review(
    ctx: GuardContext, p: a.ReviewSelfEvaluation, now: datetime, follow: list[FollowUp]
) -> dict[str, Any]:
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
    kind_detail = _kind_consequences(ctx, grade, applied.cut_percent)
    self_score = cycle.self_evaluation.report.total if cycle.self_evaluation else score
    gap = abs(score - self_score)
    if gap > ctx.rules.escalation.review_gap_points:
        cycle.key_evaluation = True
        follow.append(
            FollowUp(
                EventKind.FLAG,
                {
                    "flag": "key_evaluation",
                    "reason": f"reviewed score {score} differs from self-evaluated {self_score}",
                    "gap": str(gap),
                },
                audiences(ctx.project, [Desk.FINANCE]),
            )
        )
    return {
        "score": str(score),
        "grade": grade.value,
        "consequence": applied.consequence.value,
        "cut_percent": str(applied.cut_percent),
        "cut_applies_to": applied.cut_applies_to,
        "public_notice": applied.public_notice,
        "exit_proposed": applied.propose_exit,
        **kind_detail,
    }


def _kind_consequences(ctx: GuardContext, grade: Grade, cut_percent: Decimal) -> dict[str, Any]:
    """What the applied grade means for a special instrument: for a government investment
    fund, the government's contribution, its exit and the manager's reward (`models.kinds`).
    A key evaluation's grade replaces the review's decision as it replaces its result."""
    info, cycle = ctx.project.info, ctx.cycle
    assert cycle is not None
    if info.kind is not ProjectKind.GOVERNMENT_INVESTMENT_FUND or info.management_fee is None:
        return {}
    decision = fund_decision(grade, cut_percent, info.management_fee, ctx.rules.kinds)
    cycle.fund_decision = decision
    if decision.exit_recommended:
        ctx.project.exit_proposed = True
    return {"fund_decision": decision.model_dump(mode="json")}


def _submit_rectification(
    ctx: GuardContext, p: a.SubmitRectification, now: datetime, follow: list[FollowUp]
) -> dict[str, Any]:
    assert ctx.cycle is not None
    assert ctx.cycle.rectification is not None
    ctx.cycle.rectification.report = p.report
    ctx.cycle.rectification.submitted_at = now
    return {}


def _accept_rectification(
    ctx: GuardContext, p: a.AcceptRectification, now: datetime, follow: list[FollowUp]
) -> dict[str, Any]:
    assert ctx.cycle is not None
    assert ctx.cycle.rectification is not None
    ctx.cycle.rectification.accepted_at = now
    return {}


def _reject_rectification(
    ctx: GuardContext, p: a.RejectRectification, now: datetime, follow: list[FollowUp]
) -> dict[str, Any]:
    assert ctx.cycle is not None
    assert ctx.cycle.rectification is not None
    ctx.cycle.rectification.rejections += 1
    return {}


def _respond_to_warning(
    ctx: GuardContext, p: a.RespondToWarning, now: datetime, follow: list[FollowUp]
) -> dict[str, Any]:
    assert ctx.cycle is not None
    ctx.cycle.warning_response = WarningResponse(decision=p.decision, comment=p.comment, at=now)
    if p.decision is WarningDecision.CANCEL:
        ctx.project.exit_proposed = True  # finance decides the exit itself
    return {}


def _auto_suspend(
    ctx: GuardContext, p: a.AutoSuspend, now: datetime, follow: list[FollowUp]
) -> dict[str, Any]:
    ctx.project.suspended_reason = p.reason
    return {}


def _state_before(ctx: GuardContext) -> str:
    """The year's state before this action: the last history entry of the year left it there."""
    for entry in reversed(ctx.project.history):
        if entry.fiscal_year == ctx.fiscal_year:
            return entry.to_state
    raise AssertionError("a year that can be selected has a history")


def _select_for_key_evaluation(
    ctx: GuardContext, p: a.SelectForKeyEvaluation, now: datetime, follow: list[FollowUp]
) -> dict[str, Any]:
    assert ctx.cycle is not None
    ctx.cycle.key_evaluation_record = KeyEvaluation(
        selected_at=now,
        selected_by=ctx.actor.username if ctx.actor else "",
        reasons=list(p.reasons),
        selection_seed=p.seed,
        note=p.note,
        selected_from=_state_before(ctx),
    )
    return {}


def _assign_evaluators(
    ctx: GuardContext, p: a.AssignEvaluators, now: datetime, follow: list[FollowUp]
) -> dict[str, Any]:
    record = ctx.cycle.key_evaluation_record if ctx.cycle is not None else None
    assert record is not None
    record.evaluators = list(p.evaluators)
    record.draw = p.draw
    record.departments = list(p.departments)
    record.assigned_at = now
    return {}


def _submit_key_evaluation(
    ctx: GuardContext, p: a.SubmitKeyEvaluation, now: datetime, follow: list[FollowUp]
) -> dict[str, Any]:
    """The key evaluation's grade replaces the review's in result application (cut, notice,
    rectification, exit proposal)."""
    cycle = ctx.cycle
    assert cycle is not None
    assert ctx.fiscal_year is not None
    record = cycle.key_evaluation_record
    assert record is not None
    total, grade = key_total(p.scores), key_grade(p.scores, ctx.rules.scoring)
    applied = apply_grade(
        project=ctx.project, fiscal_year=ctx.fiscal_year, grade=grade, rules=ctx.rules.results
    )
    record.scores = p.scores
    record.total = total
    record.grade = grade
    record.report = p.report
    record.submitted_by = ctx.actor.username if ctx.actor else None
    record.submitted_at = now
    record.consequence = applied.consequence
    record.cut_percent = applied.cut_percent
    record.cut_applies_to = applied.cut_applies_to
    record.public_notice = applied.public_notice
    if applied.rectification:
        cycle.rectification = Rectification(ordered_at=now)
    if applied.propose_exit:
        ctx.project.exit_proposed = True
    replaced = cycle.review.grade.value if cycle.review is not None else None
    return {
        "score": str(total),
        "grade": grade.value,
        "replaces_grade": replaced,
        "self_evaluated_grade": (
            cycle.self_evaluation.report.grade.value if cycle.self_evaluation else None
        ),
        "consequence": applied.consequence.value,
        "cut_percent": str(applied.cut_percent),
        "cut_applies_to": applied.cut_applies_to,
        "public_notice": applied.public_notice,
        "exit_proposed": applied.propose_exit,
        **_kind_consequences(ctx, grade, applied.cut_percent),
    }


def _record_performance_payment(
    ctx: GuardContext, p: a.RecordPerformancePayment, now: datetime, follow: list[FollowUp]
) -> dict[str, Any]:
    cycle, table = ctx.cycle, ctx.project.info.payment_table
    assert cycle is not None
    assert table is not None
    score = cycle.applied_score
    assert score is not None
    assert cycle.approved_amount is not None  # a reviewed year had its budget approved
    paid = performance_payment(table, score, cycle.approved_amount)
    cycle.performance_payment = PerformancePayment(
        score=paid.score,
        band=paid.band,
        base_amount=paid.base_amount,
        amount=paid.amount,
        withheld=paid.withheld,
        comment=p.comment,
        recorded_at=now,
    )
    return {
        "score": str(paid.score),
        "payment_pct": str(paid.band.payment_pct),
        "base_amount": str(paid.base_amount),
        "amount": str(paid.amount),
        "withheld": str(paid.withheld),
    }


def _record_procurement(
    ctx: GuardContext, p: a.RecordProcurement, now: datetime, follow: list[FollowUp]
) -> dict[str, Any]:
    cycle = ctx.cycle
    assert cycle is not None
    assert cycle.approved_amount is not None
    saved = procurement_savings(cycle.approved_amount, p.contract_amount)
    cycle.procurement = ProcurementRecord(
        method=p.method,
        supplier=p.supplier,
        budget=saved.budget,
        contract_amount=saved.contract_amount,
        savings=saved.savings,
        savings_rate_pct=saved.savings_rate_pct,
        recorded_at=now,
        single_source_reason="" if p.method.competitive else p.single_source_reason.strip(),
    )
    return {
        "budget": str(saved.budget),
        "savings": str(saved.savings),
        "savings_rate_pct": str(saved.savings_rate_pct),
    }


EFFECTS: dict[str, Effect] = {
    "submit_assessment": _submit_assessment,
    "approve_assessment": _approve_assessment,
    "reject_assessment": _reject_assessment,
    "suspend_funding": _suspend,
    "resume_funding": _resume,
    "exit": _exit,
    "transfer_to_discipline": _transfer_to_discipline,
    "submit_goals": _submit_goals,
    "return_goals": _return_goals,
    "approve_budget": _approve_budget,
    "report_monitoring": _report_monitoring,
    "submit_self_evaluation": _submit_self_evaluation,
    "review_self_evaluation": _review,
    "submit_rectification": _submit_rectification,
    "accept_rectification": _accept_rectification,
    "reject_rectification": _reject_rectification,
    "respond_to_warning": _respond_to_warning,
    "auto_suspend": _auto_suspend,
    "select_for_key_evaluation": _select_for_key_evaluation,
    "assign_evaluators": _assign_evaluators,
    "submit_key_evaluation": _submit_key_evaluation,
    "record_performance_payment": _record_performance_payment,
    "record_procurement": _record_procurement,
}

# Who hears of a person's action at once (besides what the ladders and warnings send).
ACTION_NOTIFY: dict[str, tuple[Desk, ...]] = {
    "reject_assessment": (Desk.DEPARTMENT,),
    "return_goals": (Desk.DEPARTMENT,),
    "suspend_funding": (Desk.DEPARTMENT, Desk.DEPARTMENT_HEAD),
    "auto_suspend": (Desk.DEPARTMENT, Desk.DEPARTMENT_HEAD, Desk.FINANCE),
    "review_self_evaluation": (Desk.DEPARTMENT, Desk.PROJECT_OWNER),
    "reject_rectification": (Desk.DEPARTMENT,),
    "respond_to_warning": (Desk.FINANCE,),
    "exit": (Desk.DEPARTMENT, Desk.DEPARTMENT_HEAD, Desk.PROJECT_OWNER),
    "select_for_key_evaluation": (Desk.DEPARTMENT,),
    "submit_key_evaluation": (Desk.DEPARTMENT, Desk.PROJECT_OWNER, Desk.FINANCE),
    "record_performance_payment": (Desk.DEPARTMENT,),
    "transfer_to_discipline": (Desk.DISCIPLINE,),
}


@dataclass(frozen=True)
class FollowUp:
    """An event an action causes besides its own entry: a warning, a flag, 问责."""

    kind: EventKind
    detail: dict[str, Any]
    notify: list[Audience]
    record: AccountabilityRecord | None = None


def accountability(
    project: ProjectState, fiscal_year: int | None, *, subject: str, reason: str, now: datetime
) -> FollowUp:
    """A 问责 record (lifelong for a major project) and the event that reports it."""
    record = AccountabilityRecord(
        at=now,
        fiscal_year=fiscal_year,
        subject=subject,
        reason=reason,
        lifelong=project.info.major,
    )
    return FollowUp(
        EventKind.ACCOUNTABILITY,
        record.model_dump(mode="json", exclude={"at"}),
        audiences(project, [Desk.LEADERSHIP, Desk.DISCIPLINE]),
        record,
    )


@dataclass(frozen=True)
class Applied:
    detail: dict[str, Any]  # the payload plus what was computed from it
    notify: list[Audience]
    follow_ups: list[FollowUp]


def apply_effects(action: str, ctx: GuardContext, now: datetime) -> Applied:
    """Record what `action` did in the state; say what to write in history and who hears."""
    assert ctx.payload is not None
    effect: Effect = EFFECTS.get(action, _nothing)
    follow: list[FollowUp] = []
    computed = effect(ctx, ctx.payload, now, follow)
    return Applied(
        detail={**ctx.payload.model_dump(mode="json", exclude={"fiscal_year"}), **computed},
        notify=audiences(ctx.project, ACTION_NOTIFY.get(action, ())),
        follow_ups=follow,
    )
