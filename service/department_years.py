"""Department years as the API sees them: open, act, read; control numbers; the assessment.

Route handlers stay thin; the rules live in `models` (the department lifecycle, the control
number, the assessment), the same functions the workflow runs.

Visibility follows the projects': finance, admin and auditors read every department; a
department's users read their own; anyone else gets a 404, so existence is not revealed.
"""

from __future__ import annotations

import asyncio
import uuid
from datetime import UTC, datetime
from decimal import Decimal
from typing import Annotated, Any

import structlog
from pydantic import BaseModel, ConfigDict, Field, ValidationError
from sqlalchemy import select
from sqlalchemy.exc import SQLAlchemyError
from sqlmodel import Session, col
from temporalio.client import Client, RPCTimeoutOrCancelledError, WorkflowUpdateFailedError
from temporalio.common import (
    SearchAttributePair,
    TypedSearchAttributes,
    WorkflowIDConflictPolicy,
    WorkflowIDReusePolicy,
)
from temporalio.exceptions import WorkflowAlreadyStartedError
from temporalio.service import RPCError, RPCStatusCode

from models.control_number import ControlNumber, ProjectYearResult, compute_control_number
from models.department_actions import DEPARTMENT_PAYLOADS, SetControlNumber
from models.department_assessment import DepartmentAssessment, DepartmentFacts, rank
from models.department_lifecycle import ACTIONS, DepartmentYear
from models.department_state import (
    DepartmentIndicator,
    DepartmentYearInfo,
    DepartmentYearState,
    OverallReview,
    OverallSelfEvaluation,
    Reservation,
)
from models.department_tables import DepartmentHistoryRow, DepartmentYearRow
from models.engine_time import business_today
from models.project_state import Actor, HistoryEntry, ProjectState
from models.rules import Rules
from models.tables import CycleRow, Department, HistoryRow, ProjectRow
from models.vocabulary import Grade, Role
from service.act_refusals import rejection_problem
from service.amounts import Amount
from service.auth import Principal
from service.department_projection import apply_department_snapshot, history_of
from service.problems import (
    TEMPORAL_UNAVAILABLE_DETAIL,
    Problem,
    outcome_unknown,
    temporal_outcome_unknown,
    temporal_unavailable,
    validation_errors,
)
from service.settings import Settings
from workflows import search_attributes as sa
from workflows.department import (
    AssessmentNoticeRequest,
    DepartmentActOutcome,
    DepartmentActRequest,
    DepartmentYearInput,
    DepartmentYearWorkflow,
    department_workflow_id,
)

log = structlog.get_logger(__name__)

UPDATE_TIMEOUT_SECONDS = 30.0
READ_ALL = frozenset({Role.ADMIN, Role.FINANCE, Role.AUDITOR})


class OpenYear(BaseModel):
    model_config = ConfigDict(extra="forbid")

    fiscal_year: Annotated[int, Field(ge=2000, le=2200)]


class DepartmentYearSummary(BaseModel):
    department: str
    fiscal_year: int
    state: str
    budget_amount: Amount | None
    score: Amount | None
    grade: str | None
    control_number: Amount | None
    reserved: Amount


class DepartmentYearDetail(DepartmentYearSummary):
    indicators: list[DepartmentIndicator]
    goals_comment: str
    self_evaluation: OverallSelfEvaluation | None
    review: OverallReview | None
    reservations: list[Reservation]
    allowed_actions: list[str]
    seq: int


class DepartmentHistoryView(BaseModel):
    seq: int
    at: datetime
    actor: str
    role: str
    action: str
    from_: str = Field(alias="from")
    to: str
    detail: dict[str, Any]

    model_config = ConfigDict(populate_by_name=True, serialize_by_alias=True)


class ControlNumberView(BaseModel):
    """The control number line by line; `recorded`: finance has set it (else a preview)."""

    department: str
    fiscal_year: int
    recorded: bool
    control_number: ControlNumber
    reserved: Amount  # held or confirmed by project budget approvals of that year
    remaining: Amount | None


class AssessmentView(BaseModel):
    fiscal_year: int
    ranking: list[DepartmentAssessment]


class NoticesSent(BaseModel):
    fiscal_year: int
    notified: list[str]  # the laggards' department codes
    skipped: list[str] = []  # laggards whose year has closed


# --- who sees what ------------------------------------------------------------------------------


def may_see(principal: Principal, department: str) -> bool:
    if principal.role in READ_ALL:
        return True
    return principal.role is Role.DEPARTMENT and principal.department == department


def _no_department(code: str) -> Problem:
    return Problem(status=404, title="Department not found", detail=f"no department {code!r}")


def _no_year(code: str, year: int) -> Problem:
    return Problem(
        status=404,
        title="Department year not found",
        detail=f"department {code!r} has no open year {year}",
    )


def visible_department(*, session: Session, principal: Principal, code: str) -> Department:
    department = session.get(Department, code)
    if department is None or not may_see(principal, code):
        raise _no_department(code)
    return department


def visible_year(
    *, session: Session, principal: Principal, code: str, fiscal_year: int
) -> DepartmentYearRow:
    visible_department(session=session, principal=principal, code=code)
    row = session.get(DepartmentYearRow, (code, fiscal_year))
    if row is None:
        raise _no_year(code, fiscal_year)
    return row


# --- reading ------------------------------------------------------------------------------------


def detail_of(
    year: DepartmentYearState, seq: int, principal: Principal, *, now: datetime, rules: Rules
) -> DepartmentYearDetail:
    today = business_today(now, rules)
    engine = DepartmentYear(year, rules)
    number = year.control_number
    return DepartmentYearDetail(
        department=year.info.department,
        fiscal_year=year.info.fiscal_year,
        state=year.state,
        budget_amount=year.budget_amount,
        score=year.review.final_score if year.review else None,
        grade=year.grade.value if year.grade else None,
        control_number=number.ceiling if number is not None else None,
        reserved=year.reserved,
        indicators=year.indicators,
        goals_comment=year.goals_comment,
        self_evaluation=year.self_evaluation,
        review=year.review,
        reservations=year.reservations,
        allowed_actions=engine.allowed_actions(role=principal.role, today=today)
        if may_act(principal, year.info.department)
        else [],
        seq=seq,
    )


def may_act(principal: Principal, department: str) -> bool:
    return principal.role is Role.FINANCE or (
        principal.role is Role.DEPARTMENT and principal.department == department
    )


def year_detail(
    row: DepartmentYearRow, principal: Principal, *, now: datetime, rules: Rules
) -> DepartmentYearDetail:
    year = DepartmentYearState.model_validate(row.snapshot)
    return detail_of(year, row.seq, principal, now=now, rules=rules)


def list_years(*, session: Session, principal: Principal, code: str) -> list[DepartmentYearSummary]:
    visible_department(session=session, principal=principal, code=code)
    rows = session.execute(
        select(DepartmentYearRow)
        .where(col(DepartmentYearRow.department) == code)
        .order_by(col(DepartmentYearRow.fiscal_year))
    ).scalars()
    return [
        DepartmentYearSummary(
            department=r.department,
            fiscal_year=r.fiscal_year,
            state=r.state,
            budget_amount=r.budget_amount,
            score=r.score,
            grade=r.grade,
            control_number=r.control_number,
            reserved=r.reserved,
        )
        for r in rows
    ]


def year_history(
    *, session: Session, principal: Principal, code: str, fiscal_year: int
) -> list[DepartmentHistoryView]:
    visible_year(session=session, principal=principal, code=code, fiscal_year=fiscal_year)
    return [_history_view(r) for r in history_of(session, department=code, fiscal_year=fiscal_year)]


def _history_view(r: DepartmentHistoryRow) -> DepartmentHistoryView:
    return DepartmentHistoryView(
        seq=r.seq,
        at=r.at,
        actor=r.actor,
        role=r.role,
        action=r.action,
        from_=r.from_state,
        to=r.to_state,
        detail=r.detail,
    )


# --- opening and acting -------------------------------------------------------------------------


async def open_year(
    *,
    session: Session,
    client: Client,
    settings: Settings,
    principal: Principal,
    code: str,
    fiscal_year: int,
    rules: Rules,
    clock_offset_seconds: float = 0,
    opened_at: datetime | None = None,
) -> DepartmentYearDetail:
    """Start the department's year workflow (finance, or the department itself); 409 if open.

    The simulator's virtual years: the workflow's business time is the server's clock plus
    `clock_offset_seconds`, and the opening is recorded at `opened_at` (default now).
    """
    await asyncio.to_thread(_check_open, session, principal, code, fiscal_year)
    year = _new_year(code, fiscal_year, principal, opened_at or datetime.now(UTC))
    try:
        await start_year_workflow(client, settings, year, rules, clock_offset_seconds)
    except WorkflowAlreadyStartedError:
        raise _year_taken(code, fiscal_year) from None
    outcome = DepartmentActOutcome(year=year, entries=year.history)
    return await asyncio.to_thread(_write_through, session, outcome, principal, rules)


def _check_open(session: Session, principal: Principal, code: str, fiscal_year: int) -> None:
    visible_department(session=session, principal=principal, code=code)
    if not may_act(principal, code):
        raise Problem(
            status=403,
            title="Forbidden",
            detail="only finance or the department itself may open a department year",
        )
    if session.get(DepartmentYearRow, (code, fiscal_year)) is not None:
        raise _year_taken(code, fiscal_year)


def _year_taken(code: str, fiscal_year: int) -> Problem:
    return Problem(
        status=409,
        title="Department year already open",
        detail=f"department {code!r} already has its year {fiscal_year}",
    )


def _write_through(
    session: Session, outcome: DepartmentActOutcome, principal: Principal, rules: Rules
) -> DepartmentYearDetail:
    """Project an accepted action at once, so its caller reads it; the workflow's activity
    writes the same snapshot too (idempotently) and catches up if this write fails."""
    seq = outcome.entries[-1].seq if outcome.entries else 0
    try:
        if outcome.entries:
            apply_department_snapshot(session, year=outcome.year, seq=seq, entries=outcome.entries)
    except SQLAlchemyError:
        session.rollback()
        log.warning(
            "department_write_through_failed",
            department=outcome.year.info.department,
            fiscal_year=outcome.year.info.fiscal_year,
            seq=seq,
        )
    return detail_of(outcome.year, seq, principal, now=datetime.now(UTC), rules=rules)


def parse_department_payload(action: str, body: Any) -> Any:
    if action not in DEPARTMENT_PAYLOADS:
        raise Problem(
            status=404,
            title="Unknown action",
            detail=f"{action!r} is not a department action; actions: "
            f"{', '.join(DEPARTMENT_PAYLOADS)}",
        )
    try:
        return DEPARTMENT_PAYLOADS[action].model_validate(body if body is not None else {})
    except ValidationError as invalid:
        raise Problem(
            status=422,
            title="Invalid request body",
            detail=f"the body of {action} is not valid",
            errors=validation_errors(
                [{**e, "loc": ("body", *e["loc"])} for e in invalid.errors(include_input=False)]
            ),
        ) from None


def _actor(principal: Principal) -> Actor:
    return Actor(username=principal.username, role=principal.role, department=principal.department)


async def take_department_action(
    *,
    session: Session,
    client: Client,
    principal: Principal,
    code: str,
    fiscal_year: int,
    action: str,
    body: Any,
    idempotency_key: str | None,
    rules: Rules,
) -> DepartmentYearDetail:
    """Ask the department year's workflow to take `action`; 409 lists every unmet guard."""
    await asyncio.to_thread(
        visible_year, session=session, principal=principal, code=code, fiscal_year=fiscal_year
    )
    payload = parse_department_payload(action, body)
    required = ACTIONS[action].role
    if principal.role is not required or not may_act(principal, code):
        raise Problem(
            status=403, title="Forbidden", detail=f"only the {required.value} role may {action}"
        )
    outcome = await _act(
        client,
        code,
        fiscal_year,
        action,
        payload.model_dump(mode="json"),
        principal,
        idempotency_key,
    )
    return await asyncio.to_thread(_write_through, session, outcome, principal, rules)


async def _act(
    client: Client,
    code: str,
    fiscal_year: int,
    action: str,
    payload: dict[str, Any],
    principal: Principal,
    idempotency_key: str | None,
) -> DepartmentActOutcome:
    request = DepartmentActRequest(action=action, payload=payload, actor=_actor(principal))
    handle = client.get_workflow_handle(department_workflow_id(code, fiscal_year))
    try:
        # A timeout scope, not `wait_for`, which runs the call in a task of its own.
        async with asyncio.timeout(UPDATE_TIMEOUT_SECONDS):
            outcome = await handle.execute_update(
                DepartmentYearWorkflow.act, request, id=idempotency_key or str(uuid.uuid4())
            )
    except WorkflowUpdateFailedError as failed:
        raise rejection_problem(failed.cause, action, workflow="department workflow") from None
    except RPCError as error:
        if error.status is RPCStatusCode.NOT_FOUND:
            raise Problem(
                status=409,
                title="Action not allowed now",
                detail=f"the year {fiscal_year} of {code} is closed",
            ) from None
        raise
    except TimeoutError:
        raise outcome_unknown() from None
    if not any(e.action == action and e.actor == principal.username for e in outcome.entries):
        raise Problem(
            status=422,
            title="Idempotency-Key reused",
            detail="this Idempotency-Key was used on this department year for another request",
        )
    return outcome


# --- control numbers ----------------------------------------------------------------------------


def _project_results(session: Session, code: str, results_year: int) -> list[ProjectYearResult]:
    """Each of the department's projects' year `results_year`: approved amount and applied cut."""
    rows = session.execute(select(ProjectRow).where(col(ProjectRow.department) == code)).scalars()
    found: list[ProjectYearResult] = []
    for row in rows:
        cycle = ProjectState.model_validate(row.snapshot).cycle(results_year)
        if cycle is None or cycle.approved_amount is None:
            continue
        review = cycle.review
        found.append(
            ProjectYearResult(
                code=row.code,
                approved_amount=cycle.approved_amount,
                grade=review.grade if review else None,
                cut_percent=review.cut_percent if review else Decimal(0),
                cut_applies_to=review.cut_applies_to if review else None,
            )
        )
    return found


def compute_for(session: Session, *, code: str, fiscal_year: int, rules: Rules) -> ControlNumber:
    """The control number the read model gives now (the same pure function finance records)."""
    results_year = fiscal_year - 1
    previous = session.get(DepartmentYearRow, (code, results_year))
    grade = Grade(previous.grade) if previous is not None and previous.grade else None
    return compute_control_number(
        department=code,
        fiscal_year=fiscal_year,
        projects=_project_results(session, code, results_year),
        department_grade=grade,
        rules=rules.department.control_number,
    )


def explain_control_number(
    *, session: Session, principal: Principal, code: str, fiscal_year: int, rules: Rules
) -> ControlNumberView:
    """The recorded control number if finance has set it, else what it would be now."""
    visible_department(session=session, principal=principal, code=code)
    row = session.get(DepartmentYearRow, (code, fiscal_year))
    year = DepartmentYearState.model_validate(row.snapshot) if row is not None else None
    recorded = year.control_number if year is not None else None
    number = recorded or compute_for(session, code=code, fiscal_year=fiscal_year, rules=rules)
    reserved = year.reserved if year is not None else Decimal(0)
    return ControlNumberView(
        department=code,
        fiscal_year=fiscal_year,
        recorded=recorded is not None,
        control_number=number,
        reserved=reserved,
        remaining=None if number.ceiling is None else number.ceiling - reserved,
    )


async def set_control_number(
    *,
    session: Session,
    client: Client,
    principal: Principal,
    code: str,
    fiscal_year: int,
    idempotency_key: str | None,
    rules: Rules,
) -> ControlNumberView:
    """Finance computes the control number from the read model and records it in the year."""
    await asyncio.to_thread(
        visible_year, session=session, principal=principal, code=code, fiscal_year=fiscal_year
    )
    number = await asyncio.to_thread(
        compute_for, session, code=code, fiscal_year=fiscal_year, rules=rules
    )
    payload = SetControlNumber(control_number=number).model_dump(mode="json")
    outcome = await _act(
        client, code, fiscal_year, "set_control_number", payload, principal, idempotency_key
    )
    await asyncio.to_thread(_write_through, session, outcome, principal, rules)
    return explain_control_number(
        session=session, principal=principal, code=code, fiscal_year=fiscal_year, rules=rules
    )


# --- the assessment (考核) -----------------------------------------------------------------------


def _count(
    counts: dict[str, dict[str, int]], department: str | None, action: str, detail: dict[str, Any]
) -> None:
    """Count one ladder or warning entry against the department it concerns."""
    if department is None or department not in counts:
        return
    if action in ("overdue", "escalation"):
        # A finance duty running late is not the department's doing.
        if detail.get("owner", Role.DEPARTMENT.value) == Role.DEPARTMENT.value:
            counts[department]["late_duties"] += 1
    elif action == "warning":
        counts[department]["warnings"] += 1
    elif str(detail.get("subject", "")) != "finance":
        counts[department]["accountability"] += 1


def _facts(session: Session, fiscal_year: int) -> list[DepartmentFacts]:
    departments = [d.code for d in session.execute(select(Department)).scalars()]
    owner: dict[str, str] = dict(
        session.execute(select(col(ProjectRow.code), col(ProjectRow.department))).all()
    )
    counts: dict[str, dict[str, int]] = {
        d: {"late_duties": 0, "warnings": 0, "accountability": 0} for d in departments
    }
    events = session.execute(
        select(HistoryRow).where(
            col(HistoryRow.fiscal_year) == fiscal_year,
            col(HistoryRow.action).in_(("overdue", "escalation", "warning", "accountability")),
        )
    ).scalars()
    for event in events:
        _count(counts, owner.get(event.code), event.action, event.detail)
    # The department year's own duties (overall goals, overall self-evaluation) count as well.
    own = session.execute(
        select(DepartmentHistoryRow).where(
            col(DepartmentHistoryRow.fiscal_year) == fiscal_year,
            col(DepartmentHistoryRow.action).in_(("overdue", "escalation", "accountability")),
        )
    ).scalars()
    for entry in own:
        _count(counts, entry.department, entry.action, entry.detail)
    grades: dict[str, list[Grade]] = {d: [] for d in departments}
    graded = session.execute(
        select(col(CycleRow.code), col(CycleRow.grade)).where(
            col(CycleRow.fiscal_year) == fiscal_year, col(CycleRow.grade).is_not(None)
        )
    ).all()
    for project, grade in graded:
        department = owner.get(project)
        if department in grades and grade is not None:
            grades[department].append(Grade(grade))
    return [
        DepartmentFacts(department=d, grades=grades[d], **counts[d]) for d in sorted(departments)
    ]


def assessment(*, session: Session, fiscal_year: int, rules: Rules) -> AssessmentView:
    return AssessmentView(
        fiscal_year=fiscal_year,
        ranking=rank(_facts(session, fiscal_year), rules.department.assessment),
    )


def _notice_unconfirmed(department: str, notified: list[str]) -> Problem:
    return outcome_unknown(
        f"the notice to {department} was not confirmed in time; "
        f"notified so far: {', '.join(notified) or 'none'}"
    )


async def send_notices(
    *,
    session: Session,
    client: Client,
    settings: Settings,
    principal: Principal,
    fiscal_year: int,
    rules: Rules,
) -> NoticesSent:
    """考核通报 to each laggard: a history entry in its department year, delivered through the
    outbox to the department's staff and head. A department without an open year for
    `fiscal_year` gets one opened for the notice. Sending twice notifies twice, on purpose: a
    second notice is a reminder. A laggard whose year has closed is listed as skipped."""
    view = await asyncio.to_thread(
        assessment, session=session, fiscal_year=fiscal_year, rules=rules
    )
    laggards = [a for a in view.ranking if a.laggard]
    opened = await asyncio.to_thread(_open_years, session, fiscal_year)
    notified: list[str] = []
    skipped: list[str] = []
    for laggard in laggards:
        detail = {
            "fiscal_year": fiscal_year,
            "total": str(laggard.total),
            "rank": laggard.rank,
            "of": len(view.ranking),
            "lines": [line.model_dump(mode="json") for line in laggard.lines],
            "ask_zh": "约谈部门负责人，限期整改绩效管理工作",
        }
        request = AssessmentNoticeRequest(detail=detail, actor=_actor(principal))
        try:
            if laggard.department not in opened:
                year = _new_year(laggard.department, fiscal_year, principal, datetime.now(UTC))
                await start_year_workflow(client, settings, year, rules)
                # Its opening is projected before the notice, so the history reads in order.
                await asyncio.to_thread(
                    _write_through,
                    session,
                    DepartmentActOutcome(year=year, entries=year.history),
                    principal,
                    rules,
                )
            handle = client.get_workflow_handle(
                department_workflow_id(laggard.department, fiscal_year)
            )
            async with asyncio.timeout(UPDATE_TIMEOUT_SECONDS):
                outcome = await handle.execute_update(
                    DepartmentYearWorkflow.notify_assessment, request
                )
        except (WorkflowAlreadyStartedError, WorkflowUpdateFailedError):
            skipped.append(laggard.department)  # its year is closed: nothing to record in
            continue
        except RPCError as error:
            if error.status is RPCStatusCode.NOT_FOUND:  # its year's workflow has ended
                skipped.append(laggard.department)
                continue
            if temporal_outcome_unknown(error):
                raise _notice_unconfirmed(laggard.department, notified) from None
            # Temporal out of reach is not a closed year: say so, and who has their notice.
            raise temporal_unavailable(
                f"{TEMPORAL_UNAVAILABLE_DETAIL}; the notice to {laggard.department} was not "
                f"sent; notified so far: {', '.join(notified) or 'none'} "
                "(sending again notifies them again)"
            ) from None
        except (TimeoutError, RPCTimeoutOrCancelledError):
            raise _notice_unconfirmed(laggard.department, notified) from None
        await asyncio.to_thread(
            _write_through,
            session,
            outcome,
            principal,
            rules,
        )
        notified.append(laggard.department)
    return NoticesSent(fiscal_year=fiscal_year, notified=notified, skipped=skipped)


def _open_years(session: Session, fiscal_year: int) -> set[str]:
    try:
        return set(
            session.execute(
                select(col(DepartmentYearRow.department)).where(
                    col(DepartmentYearRow.fiscal_year) == fiscal_year
                )
            ).scalars()
        )
    finally:
        session.close()  # nothing stays open while the workflows are asked


async def start_year_workflow(
    client: Client,
    settings: Settings,
    year: DepartmentYearState,
    rules: Rules,
    clock_offset_seconds: float = 0,
) -> None:
    """Start `department-<code>-<year>`; raises WorkflowAlreadyStartedError if it ever ran.

    Search attributes `Department` and `FiscalYear` let operators (and the zone's fiscal-year
    fan-out) find every department year of a year.
    """
    info = year.info
    await client.start_workflow(
        DepartmentYearWorkflow.run,
        DepartmentYearInput(year=year, rules=rules, clock_offset_seconds=clock_offset_seconds),
        id=department_workflow_id(info.department, info.fiscal_year),
        task_queue=settings.task_queue,
        id_reuse_policy=WorkflowIDReusePolicy.REJECT_DUPLICATE,
        id_conflict_policy=WorkflowIDConflictPolicy.FAIL,
        static_summary=f"部门整体绩效 {info.department} {info.fiscal_year}",
        search_attributes=TypedSearchAttributes(
            [
                SearchAttributePair(sa.DEPARTMENT, info.department),
                SearchAttributePair(sa.FISCAL_YEAR, info.fiscal_year),
            ]
        ),
    )


def _new_year(
    code: str, fiscal_year: int, principal: Principal, now: datetime
) -> DepartmentYearState:
    return DepartmentYearState(
        info=DepartmentYearInfo(department=code, fiscal_year=fiscal_year),
        entered={"goals_drafted": now},
        history=[
            HistoryEntry(
                seq=1,
                at=now,
                actor=principal.username,
                role=principal.role,
                action="open",
                fiscal_year=fiscal_year,
                from_state="",
                to_state="goals_drafted",
            )
        ],
    )
