"""A department's fiscal year (部门整体绩效) as data, its guards, and the engine that runs them.

The machine: overall goals drafted → submitted → approved (finance may return them) → the
department budget approved (never without approved overall goals: 谁批复预算，谁批复目标) → the
overall self-evaluation submitted after the year → finance's review, which ends the year.
Finance may record the year's budget control number at any point before the review.

Built like the project lifecycle (`models.lifecycle`, `models.engine`): the table names the
guards, a pytransitions machine is built per engine (never shared), a rejection lists every
unmet guard in English and Chinese, and nothing here does I/O or reads a clock.
"""

from __future__ import annotations

from collections.abc import Callable
from dataclasses import dataclass
from datetime import date, datetime
from decimal import Decimal
from typing import Any

from transitions import EventData, Machine

from models import department_actions as da
from models.control_number import ControlFacts
from models.department_duties import department_due_firings, department_next_firing
from models.department_scoring import check_overall_results, score_overall
from models.department_state import (
    DIMENSION_ZH,
    DepartmentYearState,
    Dimension,
    OverallReview,
    OverallSelfEvaluation,
    Reservation,
    ReservationStatus,
)
from models.duties import DISCHARGED_BY
from models.engine import ActionRejected, Rejection, Unmet
from models.escalation import Firing
from models.fiscal_notice import PHASE_ZH, FiscalNotice
from models.notify import Audience, Desk, EventKind
from models.project_state import SYSTEM_ACTOR, AccountabilityRecord, Actor, HistoryEntry
from models.rules import Rules
from models.scoring import grade_for
from models.state_machines import StateProxy, build_machine, guard_holds
from models.vocabulary import GRADE_ZH, Operator, Role

STATES: tuple[str, ...] = (
    "goals_drafted",  # 部门整体绩效目标编制中
    "goals_submitted",  # 部门整体绩效目标待审核
    "goals_approved",  # 部门整体绩效目标已批复
    "budget_approved",  # 部门预算已批复
    "self_evaluated",  # 已提交部门整体绩效自评
    "reviewed",  # 财政已审核（年度结束）
)
FINAL_STATE = "reviewed"

STATE_ZH: dict[str, str] = {
    "goals_drafted": "整体绩效目标编制",
    "goals_submitted": "整体绩效目标待审核",
    "goals_approved": "整体绩效目标已批复",
    "budget_approved": "部门预算已批复",
    "self_evaluated": "整体绩效已自评",
    "reviewed": "财政已审核",
}

# Desks of the whole zone (not of one department), as `models.escalation.audiences` has it.
_ZONE_DESKS = frozenset({Desk.FINANCE, Desk.LEADERSHIP, Desk.DISCIPLINE})

_OPEN = tuple(s for s in STATES if s != FINAL_STATE)
_SAME = "="  # an action that records without moving the state


@dataclass(frozen=True)
class DepartmentActionDef:
    name: str
    role: Role
    label_zh: str
    source: tuple[str, ...]
    dest: str
    guards: tuple[str, ...] = ()


ACTIONS: dict[str, DepartmentActionDef] = {
    a.name: a
    for a in (
        DepartmentActionDef(
            "submit_goals",
            Role.DEPARTMENT,
            "申报部门整体绩效目标",
            ("goals_drafted",),
            "goals_submitted",
            ("goals_cover_dimensions",),
        ),
        DepartmentActionDef(
            "approve_goals",
            Role.FINANCE,
            "批复部门整体绩效目标",
            ("goals_submitted",),
            "goals_approved",
            ("goals_submitted",),
        ),
        DepartmentActionDef(
            "return_goals",
            Role.FINANCE,
            "退回部门整体绩效目标",
            ("goals_submitted",),
            "goals_drafted",
            ("goals_submitted",),
        ),
        DepartmentActionDef(
            "approve_department_budget",
            Role.FINANCE,
            "批复部门预算",
            ("goals_approved",),
            "budget_approved",
            ("overall_goals_approved",),
        ),
        DepartmentActionDef(
            "submit_self_evaluation",
            Role.DEPARTMENT,
            "提交部门整体绩效自评",
            ("budget_approved",),
            "self_evaluated",
            ("year_over", "results_complete"),
        ),
        DepartmentActionDef(
            "review_self_evaluation",
            Role.FINANCE,
            "审核部门整体绩效自评",
            ("self_evaluated",),
            "reviewed",
            ("self_evaluation_submitted",),
        ),
        DepartmentActionDef(
            "set_control_number",
            Role.FINANCE,
            "下达预算控制数",
            _OPEN,
            _SAME,
            ("control_number_has_basis",),
        ),
        DepartmentActionDef(
            "release_reservation",
            Role.FINANCE,
            "释放控制数占用",
            _OPEN,
            _SAME,
            ("reservation_held",),
        ),
    )
}


# --- guards -----------------------------------------------------------------------------------


@dataclass(frozen=True)
class DepartmentGuardContext:
    year: DepartmentYearState
    payload: da.DepartmentPayload | None  # None: "could this role do this now?"
    today: date
    rules: Rules


@dataclass(frozen=True)
class DepartmentGuard:
    name: str
    message_zh: str
    check: Callable[[DepartmentGuardContext], str | None]
    needs_payload: bool = False


def _goals_cover_dimensions(ctx: DepartmentGuardContext) -> str | None:
    if not isinstance(ctx.payload, da.SubmitOverallGoals):
        return None
    indicators = ctx.payload.indicators
    problems: list[str] = []
    covered = {i.dimension for i in indicators}
    missing = [d for d in Dimension if d not in covered]
    if missing:
        names = ", ".join(f"{d.value} ({DIMENSION_ZH[d]})" for d in missing)
        problems.append(f"each dimension needs an indicator; missing: {names}")
    codes = [i.code for i in indicators]
    duplicates = sorted({c for c in codes if codes.count(c) > 1})
    if duplicates:
        problems.append(f"indicator codes must be unique: {', '.join(duplicates)}")
    problems.extend(
        f"indicator {i.code} is quantitative and needs a numeric target"
        for i in indicators
        if i.operator is not Operator.QUALITATIVE and i.numeric_target is None
    )
    return "; ".join(problems) or None


def _goals_submitted(ctx: DepartmentGuardContext) -> str | None:
    if ctx.year.state == "goals_submitted":
        return None
    return "no overall goals are waiting for review"


def _overall_goals_approved(ctx: DepartmentGuardContext) -> str | None:
    if STATES.index(ctx.year.state) >= STATES.index("goals_approved"):
        return None
    return (
        f"the overall goals of {ctx.year.info.department} for {ctx.year.info.fiscal_year} "
        "are not approved: no department budget without approved goals"
    )


def _year_over(ctx: DepartmentGuardContext) -> str | None:
    if ctx.today.year > ctx.year.info.fiscal_year:
        return None
    return f"fiscal year {ctx.year.info.fiscal_year} has not ended"


def _results_complete(ctx: DepartmentGuardContext) -> str | None:
    if not isinstance(ctx.payload, da.SubmitOverallSelfEvaluation):
        return None
    problems = check_overall_results(ctx.year.indicators, ctx.payload.results, ctx.rules.scoring)
    return "; ".join(f"{p.field}: {p.message}" for p in problems) or None


def _self_evaluation_submitted(ctx: DepartmentGuardContext) -> str | None:
    if ctx.year.self_evaluation is not None:
        return None
    return "no overall self-evaluation has been submitted"


def _control_number_has_basis(ctx: DepartmentGuardContext) -> str | None:
    if not isinstance(ctx.payload, da.SetControlNumber):
        return None
    number, info = ctx.payload.control_number, ctx.year.info
    if (number.department, number.fiscal_year) != (info.department, info.fiscal_year):
        return (
            f"the control number is for {number.department} {number.fiscal_year}, "
            f"not {info.department} {info.fiscal_year}"
        )
    if number.ceiling is None:
        return f"nothing to compute a control number from: {number.lines[0].text}"
    return None


def _reservation_held(ctx: DepartmentGuardContext) -> str | None:
    if not isinstance(ctx.payload, da.ReleaseReservation):
        return None
    found = ctx.year.reservation(ctx.payload.reservation_id)
    if found is None or found.status != "held":
        return f"no held reservation {ctx.payload.reservation_id!r}"
    return None


GUARDS: dict[str, DepartmentGuard] = {
    g.name: g
    for g in (
        DepartmentGuard(
            "goals_cover_dimensions",
            "整体绩效目标须覆盖运行成本、管理效率、履职效能、社会效应、可持续发展能力、"
            "服务对象满意度六个维度，编码唯一，定量指标有数值目标",
            _goals_cover_dimensions,
            needs_payload=True,
        ),
        DepartmentGuard("goals_submitted", "整体绩效目标已提交待审核", _goals_submitted),
        DepartmentGuard(
            "overall_goals_approved",
            "部门整体绩效目标已批复（无目标不得批复部门预算）",
            _overall_goals_approved,
        ),
        DepartmentGuard("year_over", "预算年度已结束", _year_over),
        DepartmentGuard(
            "results_complete",
            "须逐项填报全部整体绩效指标的完成情况",
            _results_complete,
            needs_payload=True,
        ),
        DepartmentGuard(
            "self_evaluation_submitted", "已提交部门整体绩效自评", _self_evaluation_submitted
        ),
        DepartmentGuard(
            "control_number_has_basis",
            "控制数须属于本部门本年度且有测算依据",
            _control_number_has_basis,
            needs_payload=True,
        ),
        DepartmentGuard(
            "reservation_held", "须为尚未结算的控制数占用", _reservation_held, needs_payload=True
        ),
    )
}


# --- the engine -------------------------------------------------------------------------------


def _condition(name: str) -> Callable[[EventData], bool]:
    return guard_holds(GUARDS[name].check)


def _machine() -> Machine:
    transitions: list[dict[str, Any]] = [
        {
            "trigger": action.name,
            "source": source,
            "dest": source if action.dest == _SAME else action.dest,
            "conditions": [_condition(g) for g in action.guards],
        }
        for action in ACTIONS.values()
        for source in action.source
    ]
    return build_machine(STATES, transitions)


def _department_audiences(department: str, *desks: Desk) -> list[Audience]:
    return [Audience(desk=d, department=department) for d in desks]


class DepartmentYear:
    """One department year for one workflow run (a machine keeps references: never share)."""

    def __init__(self, year: DepartmentYearState, rules: Rules) -> None:
        self.year = year
        self.rules = rules
        self._proxy = StateProxy(year)
        self._machine = _machine()
        self._machine.add_model(self._proxy, initial=year.state)

    # --- asking -----------------------------------------------------------------------------

    def evaluate(
        self,
        action: str,
        payload: da.DepartmentPayload | None,
        *,
        role: Role | None,
        today: date,
    ) -> Rejection | None:
        """Every unmet precondition of `action` now; None when it may be taken."""
        definition = ACTIONS[action]
        ctx = DepartmentGuardContext(year=self.year, payload=payload, today=today, rules=self.rules)
        unmet: list[Unmet] = []
        if role is not None and role is not definition.role:
            unmet.append(
                Unmet(
                    guard="role",
                    message=f"only {definition.role.value} may {action}",
                    message_zh=f"仅{definition.role.value}角色可执行此操作",
                )
            )
        if self.year.state not in definition.source:
            needed = " or ".join(definition.source)
            unmet.append(
                Unmet(
                    guard="state",
                    message=f"{action} needs state {needed}; the department year is "
                    f"'{self.year.state}'",
                    message_zh=f"当前状态（{STATE_ZH[self.year.state]}）不允许此操作",
                )
            )
        for name in definition.guards:
            guard = GUARDS[name]
            if guard.needs_payload and payload is None:
                continue
            detail = guard.check(ctx)
            if detail is not None:
                unmet.append(Unmet(guard=name, message=detail, message_zh=guard.message_zh))
        if not unmet:
            return None
        return Rejection(
            action=action,
            state=self.year.state,
            fiscal_year=self.year.info.fiscal_year,
            unmet=unmet,
        )

    def allowed_actions(self, *, role: Role, today: date) -> list[str]:
        return [
            name
            for name, definition in ACTIONS.items()
            if definition.role is role and self.evaluate(name, None, role=role, today=today) is None
        ]

    # --- doing ------------------------------------------------------------------------------

    def execute(
        self,
        action: str,
        payload: da.DepartmentPayload,
        *,
        actor: Actor,
        today: date,
        now: datetime,
    ) -> HistoryEntry:
        """Apply `action` if nothing is missing (else raise ActionRejected); record it."""
        rejection = self.evaluate(action, payload, role=actor.role, today=today)
        if rejection is not None:
            raise ActionRejected(rejection)
        ctx = DepartmentGuardContext(year=self.year, payload=payload, today=today, rules=self.rules)
        before = self.year.state
        fire: Callable[..., bool] = self._proxy.trigger  # type: ignore[attr-defined]  # set by Machine
        if not fire(action, ctx=ctx):
            raise RuntimeError(f"machine refused {action} from {before} after validation passed")
        if self.year.state != before:  # an action that records without moving enters nothing
            self.year.entered[self.year.state] = now
        detail, notify = self._effects(action, payload, now)
        return self._record(action, actor, before, detail, notify, now)

    def _effects(
        self, action: str, payload: da.DepartmentPayload, now: datetime
    ) -> tuple[dict[str, Any], list[Audience]]:
        year, department = self.year, self.year.info.department
        finance = [Audience(desk=Desk.FINANCE)]
        to_department = _department_audiences(department, Desk.DEPARTMENT)
        match payload:
            case da.SubmitOverallGoals(indicators=indicators):
                year.indicators = list(indicators)
                year.goals_comment = ""
                return {"indicators": len(indicators)}, finance
            case da.ApproveOverallGoals(comment=comment):
                year.goals_comment = comment
                return {"comment": comment}, to_department
            case da.ReturnOverallGoals(comment=comment):
                year.goals_comment = comment
                return {"comment": comment}, to_department
            case da.ApproveDepartmentBudget(amount=amount):
                year.budget_amount = amount
                return {"amount": str(amount)}, to_department
            case da.SubmitOverallSelfEvaluation(results=results, summary=summary):
                score, grade = score_overall(year.indicators, results, self.rules.scoring)
                year.self_evaluation = OverallSelfEvaluation(
                    results=list(results),
                    score=score,
                    grade=grade,
                    summary=summary,
                    submitted_at=now,
                )
                return {"score": str(score), "grade": grade.value}, finance
            case da.ReviewOverallSelfEvaluation(adjusted_score=adjusted, comment=comment):
                assert year.self_evaluation is not None
                final = adjusted if adjusted is not None else year.self_evaluation.score
                grade = grade_for(final, self.rules.scoring)
                year.review = OverallReview(
                    self_score=year.self_evaluation.score,
                    final_score=final,
                    grade=grade,
                    comment=comment,
                    reviewed_at=now,
                )
                detail = {
                    "score": str(final),
                    "grade": grade.value,
                    "grade_zh": GRADE_ZH[grade],
                    "comment": comment,
                }
                return detail, _department_audiences(
                    department, Desk.DEPARTMENT, Desk.DEPARTMENT_HEAD
                )
            case da.SetControlNumber(control_number=number):
                year.control_number = number
                return {
                    "ceiling": str(number.ceiling),
                    "results_year": number.results_year,
                    "reserved": str(year.reserved),
                }, _department_audiences(department, Desk.DEPARTMENT, Desk.DEPARTMENT_HEAD)
            case da.ReleaseReservation(reservation_id=rid, reason=reason):
                self._settle(rid, "released")
                return {"reservation_id": rid, "reason": reason}, []
        raise AssertionError(f"no effects for {action}")

    def _record(
        self,
        action: str,
        actor: Actor,
        before: str,
        detail: dict[str, Any],
        notify: list[Audience],
        now: datetime,
    ) -> HistoryEntry:
        entry = HistoryEntry(
            seq=self.year.seq + 1,
            at=now,
            actor=actor.username,
            role=actor.role,
            action=action,
            fiscal_year=self.year.info.fiscal_year,
            from_state=before,
            to_state=self.year.state,
            detail=detail,
            notify=notify,
        )
        self.year.history.append(entry)
        return entry

    # --- deadlines: the clock alone ----------------------------------------------------------

    def advance_clock(self, now: datetime) -> list[HistoryEntry]:
        """Fire every due ladder rung of the year's duties, earliest first, each exactly once.

        Each is recorded at the instant it fell due (never before the last entry), so the
        history reads the same however late the wake-up was.
        """
        entries: list[HistoryEntry] = []
        while firings := department_due_firings(self.year, self.rules, now):
            last = self.year.history[-1].at if self.year.history else firings[0].at
            entries.extend(self._fire(firings[0], max(firings[0].at, last)))
        return entries

    def next_deadline(self, now: datetime) -> datetime | None:
        """When the next rung of an open duty falls due; None when nothing is owed."""
        return department_next_firing(self.year, self.rules, now)

    def _fire(self, firing: Firing, now: datetime) -> list[HistoryEntry]:
        duty, rung = firing.duty, firing.rung
        assert duty is not None
        assert rung is not None
        self.year.escalations.setdefault(firing.key, []).append(firing.offset)
        department = self.year.info.department
        entries = [
            self._record(
                rung.kind.value,
                SYSTEM_ACTOR,
                self.year.state,
                {
                    "duty": duty.kind.value,
                    "duty_zh": ACTIONS[DISCHARGED_BY[duty.kind]].label_zh,
                    "owner": duty.owner.value,
                    "due": duty.due.isoformat(),
                    "offset_days": rung.offset_days,
                    "to": [d.value for d in rung.to],
                },
                # A department year has no project owner: its department desk hears instead.
                [
                    Audience(desk=d, department=None if d in _ZONE_DESKS else department)
                    for d in dict.fromkeys(
                        Desk.DEPARTMENT if d is Desk.PROJECT_OWNER else d for d in rung.to
                    )
                ],
                now,
            )
        ]
        if rung.accountability:
            subject = (
                f"department_head:{department}" if duty.owner is Role.DEPARTMENT else "finance"
            )
            entries.append(
                self._record(
                    EventKind.ACCOUNTABILITY.value,
                    SYSTEM_ACTOR,
                    self.year.state,
                    AccountabilityRecord(
                        at=now,
                        fiscal_year=self.year.info.fiscal_year,
                        subject=subject,
                        reason=f"{duty.kind.value} {rung.offset_days} days overdue",
                        lifelong=False,
                    ).model_dump(mode="json", exclude={"at"}),
                    [Audience(desk=Desk.LEADERSHIP), Audience(desk=Desk.DISCIPLINE)],
                    now,
                )
            )
        return entries

    # --- control-number reservations ----------------------------------------------------------

    def reserve(
        self,
        *,
        reservation_id: str,
        project_code: str,
        amount: Decimal,
        actor: Actor,
        now: datetime,
    ) -> ControlFacts:
        """Hold `amount` against the control number if it fits; the facts either way.

        Idempotent by `reservation_id`: asked again, it answers as it did the first time.
        Without a control number every approval is held too, so a ceiling set later counts
        what was approved before it.
        """
        number = self.year.control_number
        ceiling = number.ceiling if number is not None else None
        existing = self.year.reservation(reservation_id)
        if existing is not None:
            others = self.year.reserved - (
                existing.amount if existing.status != "released" else Decimal(0)
            )
            return ControlFacts(
                department=self.year.info.department,
                fiscal_year=self.year.info.fiscal_year,
                reservation_id=reservation_id,
                amount=existing.amount,
                ceiling=ceiling,
                reserved_before=others,
                granted=existing.status != "released",
            )
        before = self.year.reserved
        granted = ceiling is None or before + amount <= ceiling
        facts = ControlFacts(
            department=self.year.info.department,
            fiscal_year=self.year.info.fiscal_year,
            reservation_id=reservation_id,
            amount=amount,
            ceiling=ceiling,
            reserved_before=before,
            granted=granted,
        )
        if granted:
            self.year.reservations.append(
                Reservation(
                    id=reservation_id,
                    project_code=project_code,
                    amount=amount,
                    status="held",
                    actor=actor.username,
                    at=now,
                )
            )
        self._record(
            "reserve" if granted else "reserve_refused",
            actor,
            self.year.state,
            {
                "reservation_id": reservation_id,
                "project_code": project_code,
                "amount": str(amount),
                "ceiling": None if ceiling is None else str(ceiling),
                "reserved_before": str(before),
            },
            [],
            now,
        )
        return facts

    def settle(self, *, reservation_id: str, confirmed: bool, actor: Actor, now: datetime) -> bool:
        """Confirm a held reservation (the project approved) or release it (it refused).

        Idempotent: a reservation already settled is left as it is (False).
        """
        found = self.year.reservation(reservation_id)
        if found is None or found.status != "held":
            return False
        status: ReservationStatus = "confirmed" if confirmed else "released"
        self._settle(reservation_id, status)
        self._record(
            "confirm_reservation" if confirmed else "release_reservation",
            actor,
            self.year.state,
            {"reservation_id": reservation_id, "project_code": found.project_code},
            [],
            now,
        )
        return True

    def _settle(self, reservation_id: str, status: ReservationStatus) -> None:
        self.year.reservations = [
            r.model_copy(update={"status": status}) if r.id == reservation_id else r
            for r in self.year.reservations
        ]

    # --- the zone's calls and finance's notices -------------------------------------------------

    def record_notice(self, notice: FiscalNotice, now: datetime) -> HistoryEntry | None:
        """Record a fiscal notice once per (phase, year); a repeated signal records nothing."""
        key = f"{notice.phase.value}:{notice.fiscal_year}"
        if key in self.year.notices:
            return None
        self.year.notices.append(key)
        return self._record(
            "fiscal_notice",
            Actor(username="system", role=Role.SYSTEM),
            self.year.state,
            {
                "phase": notice.phase.value,
                "phase_zh": PHASE_ZH[notice.phase],
                "fiscal_year": notice.fiscal_year,
                "issued_at": notice.issued_at.isoformat(),
            },
            _department_audiences(self.year.info.department, Desk.DEPARTMENT),
            now,
        )

    def record_assessment_notice(
        self, *, detail: dict[str, Any], actor: Actor, now: datetime
    ) -> HistoryEntry:
        """考核通报: finance's notice to a lagging department, to its staff and its head."""
        return self._record(
            "assessment_notice",
            actor,
            self.year.state,
            detail,
            _department_audiences(self.year.info.department, Desk.DEPARTMENT, Desk.DEPARTMENT_HEAD),
            now,
        )
