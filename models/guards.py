"""The guards of the lifecycle: pure functions of a project's state and an action's payload.

A guard returns None when it holds and otherwise a sentence saying exactly what is missing, so
a rejected action can list every unmet precondition at once. Guards that look at the payload
are skipped (assumed to hold) when the question is only "could this user do this now?".
"""

from __future__ import annotations

from collections.abc import Callable
from dataclasses import dataclass
from datetime import date
from decimal import Decimal

from models import actions as a
from models.control_number import reservation_refusal
from models.evaluators import conflicts_of
from models.key_evaluation import SelectionReason, key_grade, score_problems
from models.kinds import PAYS_BY_PERFORMANCE, template_for, template_problems
from models.lifecycle import CYCLE_STATES
from models.project_state import Actor, Cycle, ProjectState
from models.results import cut_percent_for, needs_rectification
from models.rules import Rules
from models.scoring import check_results, grade_for
from models.vocabulary import Level1, Operator, ProjectKind, WarningLevel


@dataclass(frozen=True)
class GuardContext:
    project: ProjectState
    fiscal_year: int | None
    cycle: Cycle | None  # None when the action names a year the project has no cycle for
    payload: a.Payload | None  # None: asked without a payload (which actions are open now?)
    today: date
    rules: Rules
    actor: Actor | None = None  # None: asked for a role, not for a particular person


Check = Callable[[GuardContext], str | None]


@dataclass(frozen=True)
class Guard:
    name: str
    message: str
    message_zh: str
    check: Check
    needs_payload: bool = False
    # Judged when a request is admitted (the workflow's update validator, the API's answers,
    # the actions offered), not again when an admitted action is applied, nor by the machine:
    # a rule on new requests, added after histories were recorded that it would have refused.
    # A replay applies what was accepted then (validators do not run on replay), so such a
    # rule needs no patch marker.
    admission_only: bool = False


def _at_or_after(cycle: Cycle | None, state: str) -> bool:
    return cycle is not None and CYCLE_STATES.index(cycle.state) >= CYCLE_STATES.index(state)


# --- project level --------------------------------------------------------------------------


def _is_major(ctx: GuardContext) -> str | None:
    return None if ctx.project.info.major else "not a major project"


def _assessment_open(ctx: GuardContext) -> str | None:
    if ctx.project.assessment is not None and ctx.project.assessment.decided:
        return "the assessment was already approved"
    return None


def _assessment_submitted(ctx: GuardContext) -> str | None:
    return (
        None if ctx.project.assessment is not None else "no ex-ante assessment has been submitted"
    )


def _assessment_passed(ctx: GuardContext) -> str | None:
    if not ctx.project.info.major:
        return None  # only major projects need an ex-ante assessment
    assessment = ctx.project.assessment
    threshold = ctx.rules.assessment.pass_threshold
    if assessment is None:
        return f"a major project needs a passed ex-ante assessment (total ≥ {threshold}); none submitted"
    if not assessment.passed:
        return f"the ex-ante assessment scored {assessment.total}, below the pass mark {threshold}"
    return None


def _project_open(ctx: GuardContext) -> str | None:
    if ctx.project.state in ("active", "suspended"):
        return None
    return f"the project must be active or suspended (it is '{ctx.project.state}')"


def _project_active(ctx: GuardContext) -> str | None:
    if ctx.project.state == "active":
        return None
    return f"the project must be active (it is '{ctx.project.state}')"


def _last_year_results_applied(ctx: GuardContext) -> str | None:
    last = ctx.project.cycle(ctx.project.info.end_year)
    if last is None or last.state != "results_applied":
        return (
            f"the results of the last fiscal year {ctx.project.info.end_year} are not applied yet"
        )
    return None


def _no_open_rectification(ctx: GuardContext) -> str | None:
    open_years = [
        c.fiscal_year
        for c in ctx.project.cycles
        if c.state in ("rectifying", "rectification_submitted")
    ]
    if open_years:
        return f"rectification is still open for fiscal year(s) {', '.join(map(str, open_years))}"
    return None


# --- fiscal-year level ------------------------------------------------------------------------


def _year_in_span(ctx: GuardContext) -> str | None:
    info, year = ctx.project.info, ctx.fiscal_year
    assert year is not None
    if not info.start_year <= year <= info.end_year:
        return f"fiscal year {year} is outside the project's span {info.start_year}–{info.end_year}"
    if year < ctx.today.year:
        return f"fiscal year {year} is already over"
    if year > ctx.today.year + 1:
        return (
            f"goals for {year} are prepared from {year - 1} on (budget year N is prepared in N−1)"
        )
    return None


def _goals_well_formed(ctx: GuardContext) -> str | None:
    if isinstance(ctx.payload, a.SubmitGoals):
        indicators = ctx.payload.indicators
    elif ctx.cycle is not None and ctx.cycle.indicators:
        indicators = ctx.cycle.indicators
    else:
        return None  # no goals yet: `goals_submitted` says so
    problems: list[str] = []
    levels = {i.level1 for i in indicators}
    if Level1.OUTPUT not in levels:
        problems.append("at least one output (产出) indicator is required")
    if Level1.EFFECT not in levels:
        problems.append("at least one effect (效益) indicator is required")
    codes = [i.code for i in indicators]
    duplicates = sorted({c for c in codes if codes.count(c) > 1})
    if duplicates:
        problems.append(f"indicator codes must be unique: {', '.join(duplicates)}")
    for ind in indicators:
        if ind.operator is not Operator.QUALITATIVE and ind.numeric_target is None:
            problems.append(f"indicator {ind.code} is quantitative and needs a numeric target")
        if ind.weight <= 0:
            problems.append(f"indicator {ind.code} needs a positive weight")
    return "; ".join(problems) or None


def _request_within_total(ctx: GuardContext) -> str | None:
    if not isinstance(ctx.payload, a.SubmitGoals):
        return None
    if ctx.payload.requested_amount > ctx.project.info.total_amount:
        return (
            f"requested {ctx.payload.requested_amount} exceeds the project's total amount "
            f"{ctx.project.info.total_amount}"
        )
    return None


def _goals_submitted(ctx: GuardContext) -> str | None:
    if ctx.cycle is not None and ctx.cycle.state == "goals_submitted":
        return None
    return f"no goals for fiscal year {ctx.fiscal_year} are waiting for review"


def _goals_approved(ctx: GuardContext) -> str | None:
    if _at_or_after(ctx.cycle, "goals_approved"):
        return None
    return f"the goals for fiscal year {ctx.fiscal_year} are not approved"


def approvable_amount(project: ProjectState, fiscal_year: int) -> Decimal | None:
    """The most finance may approve for a year: the request less any cut aimed at that year."""
    cycle = project.cycle(fiscal_year)
    if cycle is None or cycle.requested_amount is None:
        return None
    cut = cut_percent_for(project, fiscal_year)
    return (cycle.requested_amount * (100 - cut) / 100).quantize(Decimal("0.01"))


def _amount_within_request(ctx: GuardContext) -> str | None:
    if not isinstance(ctx.payload, a.ApproveBudget) or ctx.fiscal_year is None:
        return None
    limit = approvable_amount(ctx.project, ctx.fiscal_year)
    if limit is None:
        return f"nothing was requested for fiscal year {ctx.fiscal_year}"
    if ctx.payload.amount > limit:
        cut = cut_percent_for(ctx.project, ctx.fiscal_year)
        why = f" after a {cut} % cut from earlier results" if cut else ""
        return f"amount {ctx.payload.amount} exceeds the approvable {limit}{why}"
    return None


def _within_total_amount(ctx: GuardContext) -> str | None:
    if not isinstance(ctx.payload, a.ApproveBudget):
        return None
    already = sum(
        (c.approved_amount for c in ctx.project.cycles if c.approved_amount is not None),
        Decimal(0),
    )
    if already + ctx.payload.amount > ctx.project.info.total_amount:
        return (
            f"approving {ctx.payload.amount} would bring the total approved to "
            f"{already + ctx.payload.amount}, above the project's total {ctx.project.info.total_amount}"
        )
    return None


def _within_control_number(ctx: GuardContext) -> str | None:
    """The department's control number for the year holds this approval (see ControlFacts)."""
    if not isinstance(ctx.payload, a.ApproveBudget) or ctx.payload.control is None:
        return None  # no control number set for the department and year: no ceiling
    facts = ctx.payload.control
    if (
        facts.department != ctx.project.info.department
        or facts.fiscal_year != ctx.fiscal_year
        or facts.amount != ctx.payload.amount
    ):
        return (
            f"the control-number reservation ({facts.department}, {facts.fiscal_year}, "
            f"{facts.amount}) does not match this approval"
        )
    return reservation_refusal(facts)


def _year_started(ctx: GuardContext) -> str | None:
    assert ctx.fiscal_year is not None
    return (
        None
        if ctx.today.year >= ctx.fiscal_year
        else f"fiscal year {ctx.fiscal_year} has not begun"
    )


def _year_over(ctx: GuardContext) -> str | None:
    assert ctx.fiscal_year is not None
    return (
        None if ctx.today.year > ctx.fiscal_year else f"fiscal year {ctx.fiscal_year} has not ended"
    )


def _period_in_year(ctx: GuardContext) -> str | None:
    if not isinstance(ctx.payload, a.ReportMonitoring):
        return None
    end = ctx.payload.period_end
    if end.year != ctx.payload.fiscal_year:
        return f"period_end {end} is not in fiscal year {ctx.payload.fiscal_year}"
    if end > ctx.today:
        return f"period_end {end} is in the future"
    return None


def _executed_amount(payload: a.Payload | None) -> Decimal | None:
    if isinstance(payload, a.ReportMonitoring | a.SubmitSelfEvaluation):
        return payload.executed_amount
    return None


def _executed_within_approved(ctx: GuardContext) -> str | None:
    executed = _executed_amount(ctx.payload)
    if executed is None or ctx.cycle is None or ctx.cycle.approved_amount is None:
        return None
    if executed > ctx.cycle.approved_amount:
        return f"executed {executed} exceeds the approved {ctx.cycle.approved_amount}"
    return None


def _progress_codes_known(ctx: GuardContext) -> str | None:
    if not isinstance(ctx.payload, a.ReportMonitoring) or ctx.cycle is None:
        return None
    known = {i.code for i in ctx.cycle.indicators}
    unknown = sorted({p.code for p in ctx.payload.progress} - known)
    return f"unknown indicator code(s): {', '.join(unknown)}" if unknown else None


def _progress_in_its_measure(ctx: GuardContext) -> str | None:
    if not isinstance(ctx.payload, a.ReportMonitoring) or ctx.cycle is None:
        return None
    indicators = {i.code: i for i in ctx.cycle.indicators}
    wrong: list[str] = []
    for p in ctx.payload.progress:
        indicator = indicators.get(p.code)
        if indicator is None:  # progress_codes_known names it
            continue
        if indicator.quantitative and p.actual is None:
            wrong.append(f"{p.code} is quantitative: give its 'actual' value")
        elif not indicator.quantitative and p.achievement is None:
            wrong.append(f"{p.code} is qualitative: give its 'achievement'")
    return "; ".join(wrong) or None


def _year_closed(ctx: GuardContext) -> str | None:
    if _at_or_after(ctx.cycle, "closed"):
        return None
    return f"fiscal year {ctx.fiscal_year} is not closed yet"


def _results_complete(ctx: GuardContext) -> str | None:
    if not isinstance(ctx.payload, a.SubmitSelfEvaluation) or ctx.cycle is None:
        return None
    problems = check_results(ctx.cycle.indicators, ctx.payload.results, ctx.rules.scoring)
    return "; ".join(f"{p.field}: {p.message}" for p in problems) or None


def _self_evaluation_submitted(ctx: GuardContext) -> str | None:
    if ctx.cycle is not None and ctx.cycle.self_evaluation is not None:
        return None
    return f"no self-evaluation for fiscal year {ctx.fiscal_year} has been submitted"


def final_score(cycle: Cycle, payload: a.Payload | None) -> Decimal | None:
    """Finance's adjusted score when it gives one, else the self-evaluated score."""
    if isinstance(payload, a.ReviewSelfEvaluation) and payload.adjusted_score is not None:
        return payload.adjusted_score
    return cycle.self_evaluation.report.total if cycle.self_evaluation is not None else None


def _needs_rectification(ctx: GuardContext) -> str | None:
    if ctx.cycle is None:
        return "no cycle"
    score = final_score(ctx.cycle, ctx.payload)
    if score is not None and needs_rectification(grade_for(score, ctx.rules.scoring)):
        return None
    return "the grade does not call for rectification"


def _rectification_ordered(ctx: GuardContext) -> str | None:
    if ctx.cycle is not None and ctx.cycle.state == "rectifying":
        return None
    return f"no rectification is ordered for fiscal year {ctx.fiscal_year}"


def _rectification_submitted(ctx: GuardContext) -> str | None:
    if ctx.cycle is not None and ctx.cycle.state == "rectification_submitted":
        return None
    return f"no rectification report for fiscal year {ctx.fiscal_year} is waiting for review"


def _warning_response_open(ctx: GuardContext) -> str | None:
    cycle = ctx.cycle
    if (
        cycle is not None
        and cycle.warning_response_due is not None
        and cycle.warning_response is None
    ):
        return None
    return f"no red warning of fiscal year {ctx.fiscal_year} is waiting for an answer"


# --- key evaluation (财政重点评价) ---------------------------------------------------------------


def _not_key_evaluated(ctx: GuardContext) -> str | None:
    if ctx.cycle is not None and ctx.cycle.key_evaluation_record is not None:
        return f"fiscal year {ctx.fiscal_year} is already selected for key evaluation"
    return None


def _selection_reasons_hold(ctx: GuardContext) -> str | None:
    if not isinstance(ctx.payload, a.SelectForKeyEvaluation) or ctx.cycle is None:
        return None
    cycle, problems = ctx.cycle, []
    red = cycle.warning is WarningLevel.RED or any(
        r.warning is WarningLevel.RED for r in cycle.monitoring
    )
    for reason in ctx.payload.reasons:
        if reason is SelectionReason.MAJOR and not ctx.project.info.major:
            problems.append("reason 'major': the project is not major")
        if reason is SelectionReason.SCORE_GAP and not cycle.key_evaluation:
            problems.append("reason 'score_gap': the review flagged no score gap")
        if reason is SelectionReason.RED_WARNING and not red:
            problems.append(
                f"reason 'red_warning': fiscal year {ctx.fiscal_year} had no red warning"
            )
    return "; ".join(problems) or None


def _key_evaluation_open(ctx: GuardContext) -> str | None:
    record = ctx.cycle.key_evaluation_record if ctx.cycle is not None else None
    if record is None:
        return f"fiscal year {ctx.fiscal_year} is not selected for key evaluation"
    if record.submitted:
        return f"the key evaluation of fiscal year {ctx.fiscal_year} is already submitted"
    return None


def _evaluators_independent(ctx: GuardContext) -> str | None:
    if not isinstance(ctx.payload, a.AssignEvaluators):
        return None
    problems: list[str] = []
    ids = [e.expert_id for e in ctx.payload.evaluators]
    duplicates = sorted({i for i in ids if ids.count(i) > 1})
    if duplicates:
        problems.append(f"evaluators named twice: {', '.join(map(str, duplicates))}")
    for evaluator in ctx.payload.evaluators:
        reasons = conflicts_of(evaluator, ctx.project)
        if reasons:
            problems.append(f"{evaluator.name} (#{evaluator.expert_id}): {'; '.join(reasons)}")
    return "; ".join(problems) or None


def _evaluators_assigned(ctx: GuardContext) -> str | None:
    record = ctx.cycle.key_evaluation_record if ctx.cycle is not None else None
    if record is not None and record.evaluators:
        return None
    return f"no evaluators are assigned to the key evaluation of fiscal year {ctx.fiscal_year}"


def _assigned_evaluator(ctx: GuardContext) -> str | None:
    if ctx.actor is None:
        return None  # asked for the role: each evaluator is judged when they act
    record = ctx.cycle.key_evaluation_record if ctx.cycle is not None else None
    if record is not None and ctx.actor.username in record.usernames():
        return None
    return (
        f"{ctx.actor.username} is not assigned to the key evaluation of fiscal year "
        f"{ctx.fiscal_year}"
    )


def _key_scores_within_weights(ctx: GuardContext) -> str | None:
    if not isinstance(ctx.payload, a.SubmitKeyEvaluation):
        return None
    return "; ".join(score_problems(ctx.payload.scores, ctx.rules.key_evaluation)) or None


def _key_grade_needs_rectification(ctx: GuardContext) -> str | None:
    if isinstance(ctx.payload, a.SubmitKeyEvaluation) and needs_rectification(
        key_grade(ctx.payload.scores, ctx.rules.scoring)
    ):
        return None
    return "the key evaluation's grade does not call for rectification"


# --- kind-specific (models.kinds) -------------------------------------------------------------


def _goals_follow_template(ctx: GuardContext) -> str | None:
    if isinstance(ctx.payload, a.SubmitGoals):
        indicators = ctx.payload.indicators
    elif ctx.cycle is not None and ctx.cycle.indicators:
        indicators = ctx.cycle.indicators
    else:
        return None  # no goals yet: `goals_submitted` says so
    info = ctx.project.info
    problems = template_problems(template_for(info.budget_type, info.kind), indicators)
    return "; ".join(problems) or None


def _third_party_named(ctx: GuardContext) -> str | None:
    if ctx.project.info.kind is not ProjectKind.PURCHASED_SERVICE:
        return None
    if not isinstance(ctx.payload, a.SubmitSelfEvaluation):
        return None
    missing = [
        name
        for name, value in (
            ("third_party_evaluator", ctx.payload.third_party_evaluator),
            ("evaluation_standard", ctx.payload.evaluation_standard),
        )
        if value is None
    ]
    if missing:
        return (
            "a purchased service is evaluated by a third party: name "
            + " and ".join(missing)
            + " (they are published with the result)"
        )
    return None


def _pays_by_performance(ctx: GuardContext) -> str | None:
    info = ctx.project.info
    if info.kind in PAYS_BY_PERFORMANCE and info.payment_table is not None:
        return None
    return (
        f"a {info.kind.value} project is not paid by performance (only PPP and purchased services)"
    )


def _period_scored(ctx: GuardContext) -> str | None:
    if ctx.cycle is not None and ctx.cycle.applied_score is not None:
        return None
    return f"fiscal year {ctx.fiscal_year} has no score reviewed by finance (or key-evaluated) yet"


def _period_unpaid(ctx: GuardContext) -> str | None:
    if ctx.cycle is not None and ctx.cycle.performance_payment is not None:
        paid = ctx.cycle.performance_payment
        return f"fiscal year {ctx.fiscal_year} was already paid ({paid.amount} on {paid.recorded_at.date()})"
    return None


def _periods_paid(ctx: GuardContext) -> str | None:
    """A project paid by performance completes only once every reviewed period is paid:
    its workflow ends with completion, and no payment could be recorded after it."""
    if ctx.project.info.kind not in PAYS_BY_PERFORMANCE:
        return None
    unpaid = [
        c.fiscal_year
        for c in ctx.project.cycles
        if c.applied_score is not None and c.performance_payment is None
    ]
    if unpaid:
        return f"fiscal year(s) {', '.join(map(str, unpaid))} are not paid by performance yet"
    return None


def _is_procurement(ctx: GuardContext) -> str | None:
    kind = ctx.project.info.kind
    if kind is ProjectKind.PROCUREMENT:
        return None
    return f"a {kind.value} project records no procurement contract (only procurement projects)"


def _single_source_justified(ctx: GuardContext) -> str | None:
    p = ctx.payload
    if not isinstance(p, a.RecordProcurement) or p.method.competitive:
        return None
    if p.single_source_reason.strip():
        return None
    return "a single-source procurement needs its reason (single_source_reason)"


def _procurement_unrecorded(ctx: GuardContext) -> str | None:
    if ctx.cycle is not None and ctx.cycle.procurement is not None:
        return f"the procurement of fiscal year {ctx.fiscal_year} is already recorded"
    return None


def _contract_within_budget(ctx: GuardContext) -> str | None:
    if not isinstance(ctx.payload, a.RecordProcurement) or ctx.cycle is None:
        return None
    budget = ctx.cycle.approved_amount
    if budget is not None and ctx.payload.contract_amount > budget:
        return (
            f"contract amount {ctx.payload.contract_amount} exceeds the procurement budget {budget}"
        )
    return None


GUARDS: dict[str, Guard] = {
    g.name: g
    for g in (
        Guard("is_major", "the project is major", "重大项目", _is_major),
        Guard(
            "assessment_open", "the assessment is still open", "事前评估尚未批复", _assessment_open
        ),
        Guard(
            "assessment_submitted",
            "an ex-ante assessment has been submitted",
            "已提交事前绩效评估",
            _assessment_submitted,
        ),
        Guard(
            "assessment_passed",
            "a major project needs a passed ex-ante assessment",
            "重大项目须通过事前绩效评估",
            _assessment_passed,
        ),
        Guard(
            "project_open",
            "the project is active or suspended",
            "项目须处于实施或暂停拨款状态",
            _project_open,
        ),
        Guard(
            "project_active",
            "the project is active (funding not suspended)",
            "项目须处于实施状态（未暂停拨款）",
            _project_active,
        ),
        Guard(
            "last_year_results_applied",
            "the last year's results are applied",
            "最后年度评价结果已应用",
            _last_year_results_applied,
        ),
        Guard(
            "no_open_rectification",
            "no rectification is open",
            "无未完成的整改",
            _no_open_rectification,
        ),
        Guard(
            "year_in_span",
            "the fiscal year is within the project and open for planning",
            "预算年度须在项目周期内且可编制",
            _year_in_span,
        ),
        Guard(
            "goals_well_formed",
            "goals have output and effect indicators, numeric targets, "
            "positive weights and unique codes",
            "绩效目标须包含产出和效益指标、定量指标有数值目标、权重为正、编码唯一",
            _goals_well_formed,
            needs_payload=True,
        ),
        Guard(
            "request_within_total",
            "the request is within the project's total amount",
            "申请金额不得超过项目总额",
            _request_within_total,
            needs_payload=True,
        ),
        Guard(
            "goals_submitted",
            "goals are submitted for that year",
            "该年度绩效目标已提交",
            _goals_submitted,
        ),
        Guard(
            "goals_approved",
            "goals are approved for that year (no budget without goals)",
            "该年度绩效目标已批复（无目标不得批复预算）",
            _goals_approved,
        ),
        Guard(
            "amount_within_request",
            "the amount is within the approvable request",
            "批复金额不得超过可批复的申请额",
            _amount_within_request,
            needs_payload=True,
        ),
        Guard(
            "within_total_amount",
            "total approvals stay within the project's total amount",
            "累计批复不得超过项目总额",
            _within_total_amount,
            needs_payload=True,
        ),
        Guard(
            "within_control_number",
            "the department's project budgets stay within its control number",
            "部门项目预算累计批复不得超过预算控制数",
            _within_control_number,
            needs_payload=True,
        ),
        Guard("year_started", "the fiscal year has begun", "预算年度已开始", _year_started),
        Guard("year_over", "the fiscal year has ended", "预算年度已结束", _year_over),
        Guard(
            "period_in_year",
            "the monitoring period lies in the fiscal year and in the past",
            "监控期间须在该预算年度内且已结束",
            _period_in_year,
            needs_payload=True,
        ),
        Guard(
            "executed_within_approved",
            "executed spending is within the approved budget",
            "执行金额不得超过批复预算",
            _executed_within_approved,
            needs_payload=True,
        ),
        Guard(
            "progress_codes_known",
            "progress names only the year's indicators",
            "监控进度须对应本年度指标",
            _progress_codes_known,
            needs_payload=True,
        ),
        Guard(
            "progress_in_its_measure",
            "progress is a number on a quantitative indicator, an achievement on a qualitative one",
            "定量指标填报实际值，定性指标填报达成情况",
            _progress_in_its_measure,
            needs_payload=True,
            admission_only=True,
        ),
        Guard("year_closed", "the fiscal year is closed", "预算年度已结束", _year_closed),
        Guard(
            "results_complete",
            "a result for every indicator, and only for them",
            "须逐项填报全部指标的完成情况",
            _results_complete,
            needs_payload=True,
        ),
        Guard(
            "self_evaluation_submitted",
            "a self-evaluation has been submitted",
            "已提交绩效自评",
            _self_evaluation_submitted,
        ),
        Guard(
            "needs_rectification",
            "the grade is fair or poor",
            "评价等级为中或差",
            _needs_rectification,
        ),
        Guard(
            "warning_response_open",
            "a red warning is waiting for an answer",
            "存在待答复的红色预警",
            _warning_response_open,
        ),
        Guard(
            "rectification_ordered",
            "rectification is ordered",
            "已下达整改要求",
            _rectification_ordered,
        ),
        Guard(
            "rectification_submitted",
            "a rectification report is waiting for review",
            "整改报告待审核",
            _rectification_submitted,
        ),
        Guard(
            "not_key_evaluated",
            "the year is not selected for key evaluation yet",
            "该年度尚未列入财政重点评价",
            _not_key_evaluated,
        ),
        Guard(
            "selection_reasons_hold",
            "every reason given for the selection holds",
            "列入重点评价的理由须属实",
            _selection_reasons_hold,
            needs_payload=True,
        ),
        Guard(
            "key_evaluation_open",
            "the year is selected for key evaluation and not yet evaluated",
            "该年度已列入财政重点评价且尚未提交评价",
            _key_evaluation_open,
        ),
        Guard(
            "evaluators_independent",
            "no evaluator has a conflict of interest with the project",
            "评价专家或机构须与项目无利益冲突（回避）",
            _evaluators_independent,
            needs_payload=True,
        ),
        Guard(
            "evaluators_assigned",
            "evaluators are assigned",
            "已委托评价专家或第三方机构",
            _evaluators_assigned,
        ),
        Guard(
            "assigned_evaluator",
            "only an evaluator assigned to this key evaluation may submit it",
            "仅受托的评价专家或机构可提交评价",
            _assigned_evaluator,
        ),
        Guard(
            "key_scores_within_weights",
            "each part's score is within its weight",
            "各部分得分不得超过其权重",
            _key_scores_within_weights,
            needs_payload=True,
        ),
        Guard(
            "key_grade_needs_rectification",
            "the key evaluation's grade is fair or poor",
            "重点评价等级为中或差",
            _key_grade_needs_rectification,
        ),
        Guard(
            "goals_follow_template",
            "goals contain the indicators the budget type's and kind's template requires",
            "绩效目标须包含预算类型和项目类别模板要求的指标",
            _goals_follow_template,
            needs_payload=True,
        ),
        Guard(
            "third_party_named",
            "a purchased service's self-evaluation names its third-party evaluator and standard",
            "政府购买服务须由第三方评价，并载明评价机构和评价标准",
            _third_party_named,
            needs_payload=True,
        ),
        Guard(
            "pays_by_performance",
            "the project is paid by performance (PPP or purchased service)",
            "仅PPP项目和政府购买服务按绩效付费",
            _pays_by_performance,
        ),
        Guard(
            "period_scored",
            "the period's score is reviewed by finance or key-evaluated",
            "该期间绩效评分须经财政审核或重点评价",
            _period_scored,
        ),
        Guard(
            "period_unpaid",
            "the period has not been paid yet",
            "该期间尚未付费（同一期间不得重复付费）",
            _period_unpaid,
        ),
        Guard(
            "periods_paid",
            "every reviewed period is paid by performance",
            "各期间已按绩效付费",
            _periods_paid,
        ),
        Guard(
            "is_procurement",
            "the project is a government procurement",
            "仅政府采购项目登记采购合同",
            _is_procurement,
        ),
        Guard(
            "procurement_unrecorded",
            "the year's procurement is not recorded yet",
            "该年度采购合同尚未登记",
            _procurement_unrecorded,
        ),
        Guard(
            "contract_within_budget",
            "the contract amount is within the procurement budget",
            "合同金额不得超过采购预算",
            _contract_within_budget,
            needs_payload=True,
        ),
        Guard(
            "single_source_justified",
            "a single-source procurement gives its reason",
            "单一来源采购须说明理由",
            _single_source_justified,
            needs_payload=True,
            admission_only=True,
        ),
    )
}
