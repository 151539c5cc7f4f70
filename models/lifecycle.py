"""The project lifecycle as data: states, actions, who takes them, and the guards they need.

Two machines describe one project. The project machine follows the project as a whole (filed →
ex-ante assessment → active ↔ funding suspended → completed | exited). The cycle machine
follows each fiscal year; cycles overlap, so a project holds several at once (while year N
executes, N+1's goals are prepared and N−1 is evaluated).

Nothing here runs anything: `models.engine` builds pytransitions machines from these tables, the
workflow drives them, the service draws them. Guards are named here and defined in
`models.guards`.
"""

from __future__ import annotations

from dataclasses import dataclass
from enum import StrEnum

from models.vocabulary import Role


class Level(StrEnum):
    PROJECT = "project"
    CYCLE = "cycle"


PROJECT_STATES: tuple[str, ...] = (
    "filed",  # 已申报（待提交）
    "under_assessment",  # 事前绩效评估中
    "active",  # 实施中
    "suspended",  # 暂停拨款
    "completed",  # 已完成
    "exited",  # 已退出
)
PROJECT_FINAL_STATES = frozenset({"completed", "exited"})

CYCLE_STATES: tuple[str, ...] = (
    "goals_drafted",  # 绩效目标编制中
    "goals_submitted",  # 绩效目标待审核
    "goals_approved",  # 绩效目标已批复
    "budget_approved",  # 预算已批复
    "executing",  # 预算执行中
    "closed",  # 年度已结束
    "self_evaluated",  # 已自评
    "key_evaluating",  # 财政重点评价中
    "rectifying",  # 整改中
    "rectification_submitted",  # 整改报告待审核
    "results_applied",  # 结果已应用
)
CYCLE_OPEN_STATES = frozenset(CYCLE_STATES) - {"results_applied"}

STATE_ZH: dict[str, str] = {
    "filed": "已申报",
    "under_assessment": "事前绩效评估",
    "active": "实施中",
    "suspended": "暂停拨款",
    "completed": "已完成",
    "exited": "已退出",
    "goals_drafted": "绩效目标编制",
    "goals_submitted": "绩效目标待审核",
    "goals_approved": "绩效目标已批复",
    "budget_approved": "预算已批复",
    "executing": "预算执行",
    "closed": "年度结束",
    "self_evaluated": "绩效自评",
    "key_evaluating": "财政重点评价",
    "rectifying": "整改",
    "rectification_submitted": "整改报告待审核",
    "results_applied": "结果已应用",
}


@dataclass(frozen=True)
class TransitionDef:
    """One arrow of a machine. `when`/`unless` route between arrows of the same action (they are
    not preconditions a person can fix); `guards` must all hold."""

    source: tuple[str, ...]
    dest: str
    guards: tuple[str, ...] = ()
    when: str | None = None
    unless: str | None = None


@dataclass(frozen=True)
class ActionDef:
    name: str
    level: Level
    role: Role
    label_zh: str
    transitions: tuple[TransitionDef, ...]
    # Records something about a year without moving it: the year's relative deadlines (which
    # count from when it entered its state) must not restart.
    record_only: bool = False

    @property
    def sources(self) -> tuple[str, ...]:
        seen: dict[str, None] = {}
        for t in self.transitions:
            seen.update(dict.fromkeys(t.source))
        return tuple(seen)

    @property
    def guards(self) -> tuple[str, ...]:
        seen: dict[str, None] = {}
        for t in self.transitions:
            seen.update(dict.fromkeys(t.guards))
        return tuple(seen)


_OPEN_PROJECT = ("filed", "under_assessment", "active", "suspended")
# A year with an applied score (reviewed by finance or key-evaluated): it can be paid by it.
_REVIEWED = ("rectifying", "rectification_submitted", "results_applied")


def _t(
    source: str | tuple[str, ...],
    dest: str,
    *guards: str,
    when: str | None = None,
    unless: str | None = None,
) -> TransitionDef:
    return TransitionDef(
        source=(source,) if isinstance(source, str) else source,
        dest=dest,
        guards=guards,
        when=when,
        unless=unless,
    )


_P, _C = Level.PROJECT, Level.CYCLE
_DEPT, _FIN, _SYS, _EVAL = Role.DEPARTMENT, Role.FINANCE, Role.SYSTEM, Role.EVALUATOR
# A year can be put to key evaluation once its self-evaluation is in, before or after finance's
# review applied a result (a score gap found in the review is itself a reason to select it).
_KEY_EVALUABLE = ("self_evaluated", "rectifying", "rectification_submitted", "results_applied")

ACTIONS: dict[str, ActionDef] = {
    a.name: a
    for a in (
        # --- the project as a whole -------------------------------------------------------
        ActionDef(
            "submit",
            _P,
            _DEPT,
            "提交项目",
            (
                _t("filed", "under_assessment", when="is_major"),
                _t("filed", "active", unless="is_major"),
            ),
        ),
        ActionDef(
            "submit_assessment",
            _P,
            _DEPT,
            "提交事前绩效评估",
            (_t("under_assessment", "under_assessment", "assessment_open"),),
        ),
        ActionDef(
            "approve_assessment",
            _P,
            _FIN,
            "通过事前绩效评估",
            (_t("under_assessment", "active", "assessment_submitted", "assessment_passed"),),
        ),
        ActionDef(
            "reject_assessment",
            _P,
            _FIN,
            "退回事前绩效评估",
            (_t("under_assessment", "under_assessment", "assessment_submitted"),),
        ),
        ActionDef("suspend_funding", _P, _FIN, "暂停拨款", (_t("active", "suspended"),)),
        ActionDef("resume_funding", _P, _FIN, "恢复拨款", (_t("suspended", "active"),)),
        ActionDef("exit", _P, _FIN, "清理退出", (_t(_OPEN_PROJECT, "exited"),)),
        # A lead may arise in any open state; it changes no state. A finished project's
        # workflow has ended: a lead on it is recorded by `service.closed_transfers`.
        ActionDef(
            "transfer_to_discipline",
            _P,
            _FIN,
            "移送纪检监察",
            tuple(_t(s, s) for s in _OPEN_PROJECT),
        ),
        ActionDef(
            "auto_suspend", _P, _SYS, "逾期未答复预警，自动暂停拨款", (_t("active", "suspended"),)
        ),
        ActionDef(
            "complete",
            _P,
            _SYS,
            "项目完成",
            (
                _t(
                    "active",
                    "completed",
                    "last_year_results_applied",
                    "no_open_rectification",
                    "periods_paid",
                ),
            ),
        ),
        # --- one fiscal year ----------------------------------------------------------------
        ActionDef(
            "submit_goals",
            _C,
            _DEPT,
            "申报绩效目标",
            (
                _t(
                    "goals_drafted",
                    "goals_submitted",
                    "project_open",
                    "year_in_span",
                    "goals_well_formed",
                    "goals_follow_template",
                    "request_within_total",
                ),
            ),
        ),
        ActionDef(
            "approve_goals",
            _C,
            _FIN,
            "批复绩效目标",
            (
                _t(
                    "goals_submitted",
                    "goals_approved",
                    "project_open",
                    "goals_submitted",
                    "goals_well_formed",
                    "goals_follow_template",
                ),
            ),
        ),
        ActionDef(
            "return_goals",
            _C,
            _FIN,
            "退回绩效目标",
            (_t("goals_submitted", "goals_drafted", "goals_submitted"),),
        ),
        ActionDef(
            "approve_budget",
            _C,
            _FIN,
            "批复预算",
            (
                _t(
                    "goals_approved",
                    "budget_approved",
                    "project_active",
                    "goals_approved",
                    "assessment_passed",
                    "amount_within_request",
                    "within_total_amount",
                    "within_control_number",
                ),
            ),
        ),
        ActionDef(
            "start_year",
            _C,
            _SYS,
            "预算年度开始",
            (_t("budget_approved", "executing", "year_started"),),
        ),
        ActionDef(
            "report_monitoring",
            _C,
            _DEPT,
            "报送绩效监控",
            (
                _t(
                    "executing",
                    "executing",
                    "project_open",
                    "period_in_year",
                    "executed_within_approved",
                    "progress_codes_known",
                    "progress_in_its_measure",
                ),
            ),
        ),
        ActionDef(
            "respond_to_warning",
            _C,
            _DEPT,
            "答复红色预警",
            (_t("executing", "executing", "warning_response_open"),),
        ),
        ActionDef("close_year", _C, _FIN, "提前结束年度", (_t("executing", "closed"),)),
        ActionDef("end_year", _C, _SYS, "年度结束", (_t("executing", "closed", "year_over"),)),
        ActionDef(
            "submit_self_evaluation",
            _C,
            _DEPT,
            "提交绩效自评",
            (
                _t(
                    "closed",
                    "self_evaluated",
                    "year_closed",
                    "results_complete",
                    "executed_within_approved",
                    "third_party_named",
                ),
            ),
        ),
        ActionDef(
            "review_self_evaluation",
            _C,
            _FIN,
            "审核绩效自评",
            (
                _t(
                    "self_evaluated",
                    "rectifying",
                    "self_evaluation_submitted",
                    when="needs_rectification",
                ),
                _t(
                    "self_evaluated",
                    "results_applied",
                    "self_evaluation_submitted",
                    unless="needs_rectification",
                ),
            ),
        ),
        ActionDef(
            "select_for_key_evaluation",
            _C,
            _FIN,
            "列入财政重点评价",
            (
                _t(
                    _KEY_EVALUABLE,
                    "key_evaluating",
                    "project_open",
                    "self_evaluation_submitted",
                    "not_key_evaluated",
                    "selection_reasons_hold",
                ),
            ),
        ),
        ActionDef(
            "assign_evaluators",
            _C,
            _FIN,
            "委托评价专家或第三方机构",
            (
                _t(
                    "key_evaluating",
                    "key_evaluating",
                    "key_evaluation_open",
                    "evaluators_independent",
                ),
            ),
        ),
        ActionDef(
            "submit_key_evaluation",
            _C,
            _EVAL,
            "提交财政重点评价报告",
            (
                _t(
                    "key_evaluating",
                    "rectifying",
                    "evaluators_assigned",
                    "assigned_evaluator",
                    "key_scores_within_weights",
                    when="key_grade_needs_rectification",
                ),
                _t(
                    "key_evaluating",
                    "results_applied",
                    "evaluators_assigned",
                    "assigned_evaluator",
                    "key_scores_within_weights",
                    unless="key_grade_needs_rectification",
                ),
            ),
        ),
        ActionDef(
            "submit_rectification",
            _C,
            _DEPT,
            "提交整改报告",
            (_t("rectifying", "rectification_submitted", "rectification_ordered"),),
        ),
        ActionDef(
            "accept_rectification",
            _C,
            _FIN,
            "整改验收通过",
            (_t("rectification_submitted", "results_applied", "rectification_submitted"),),
        ),
        ActionDef(
            "reject_rectification",
            _C,
            _FIN,
            "整改验收不通过",
            (_t("rectification_submitted", "rectifying", "rectification_submitted"),),
        ),
        # --- kind-specific (models.kinds) ---------------------------------------------------------
        ActionDef(
            "record_performance_payment",
            _C,
            _FIN,
            "按绩效付费",
            tuple(
                _t(state, state, "pays_by_performance", "period_scored", "period_unpaid")
                for state in _REVIEWED
            ),
            record_only=True,
        ),
        ActionDef(
            "record_procurement",
            _C,
            _DEPT,
            "登记政府采购合同",
            tuple(
                _t(
                    state,
                    state,
                    "is_procurement",
                    "procurement_unrecorded",
                    "contract_within_budget",
                    "single_source_justified",
                )
                for state in ("budget_approved", "executing")
            ),
            record_only=True,
        ),
    )
}

PERSON_ACTIONS: tuple[str, ...] = tuple(n for n, a in ACTIONS.items() if a.role is not Role.SYSTEM)


def states_of(level: Level) -> tuple[str, ...]:
    return PROJECT_STATES if level is Level.PROJECT else CYCLE_STATES


def actions_of(level: Level) -> tuple[ActionDef, ...]:
    return tuple(a for a in ACTIONS.values() if a.level is level)
