"""Projects as the API sees them: filing, actions through the workflow, reads from the projection.

Route handlers stay thin; the rules live in `models` (the same functions the workflow runs).
"""

from __future__ import annotations

import asyncio
import uuid
from collections.abc import Sequence
from datetime import UTC, date, datetime
from decimal import Decimal
from typing import Any, NamedTuple

import structlog
from pydantic import BaseModel, ConfigDict, Field, ValidationError
from sqlalchemy import bindparam, func, select
from sqlalchemy.exc import SQLAlchemyError
from sqlmodel import Session, col
from temporalio.client import Client, WorkflowUpdateFailedError
from temporalio.common import (
    SearchAttributePair,
    TypedSearchAttributes,
    WorkflowIDConflictPolicy,
    WorkflowIDReusePolicy,
)
from temporalio.exceptions import WorkflowAlreadyStartedError
from temporalio.service import RPCError, RPCStatusCode

from models.actions import PAYLOADS, ApproveBudget
from models.control_number import ControlFacts
from models.duties import LABEL_ZH as DUTY_LABEL_ZH
from models.engine import Lifecycle
from models.engine_time import business_today
from models.evaluator_tables import EvaluatorAssignmentRow
from models.kinds import FundDecision, PaymentTable
from models.lifecycle import ACTIONS, PERSON_ACTIONS, PROJECT_FINAL_STATES
from models.project_state import (
    Actor,
    Cycle,
    PerformancePayment,
    ProcurementRecord,
    ProjectFiling,
    ProjectInfo,
    ProjectState,
)
from models.rules import Rules
from models.tables import CycleRow, Department, HistoryRow, ProjectRow
from models.vocabulary import Role
from service import closed_transfers, control_reservations
from service.act_refusals import rejection_problem
from service.amounts import Amount
from service.auth import Principal
from service.calendar import rules_in_force
from service.deps import Caller, bind_actor
from service.metrics import count_rejection
from service.problems import Problem, outcome_unknown, validation_errors
from service.projection import apply_snapshot
from service.settings import Settings
from workflows import search_attributes as sa
from workflows.project import (
    ActOutcome,
    ActRequest,
    ProjectWorkflow,
    ProjectWorkflowInput,
    workflow_id,
)

log = structlog.get_logger(__name__)


# How long the API waits for the workflow to take an action before saying "outcome unknown".
UPDATE_TIMEOUT_SECONDS = 30.0
# Roles that read every department's projects.
READ_ALL = frozenset({Role.ADMIN, Role.FINANCE, Role.AUDITOR})
# Actions whose payload the service composes from reference data (the expert library), so a
# caller cannot hand the workflow facts of its own: each has its own endpoint.
COMPOSED_ACTIONS: dict[str, str] = {
    "assign_evaluators": "POST /api/projects/{code}/key-evaluation/evaluators",
}


class CycleView(BaseModel):
    fiscal_year: int
    state: str
    requested_amount: Amount | None
    approved_amount: Amount | None
    executed_amount: Amount | None
    warning: str
    score: Amount | None
    grade: str | None
    # 财政重点评价 of the year: selection, evaluators, scores and the result it applied.
    key_evaluation: dict[str, Any] | None = None


class Publication(BaseModel):
    """A purchased service's third-party evaluation, published with its result."""

    evaluator: str
    standard: str
    score: Decimal | None
    grade: str | None


class KindRecordView(BaseModel):
    """What a special instrument recorded for one fiscal year (`models.kinds`)."""

    fiscal_year: int
    performance_payment: PerformancePayment | None = None
    procurement: ProcurementRecord | None = None
    fund_decision: FundDecision | None = None
    publication: Publication | None = None


class AllowedActionView(BaseModel):
    action: str
    fiscal_year: int | None = None


class ProjectSummary(BaseModel):
    code: str
    name: str
    kind: str
    budget_type: str
    department: str
    major: bool
    owner: str
    start_year: int
    end_year: int
    total_amount: Amount
    state: str
    warning: str
    grade: str | None
    exit_proposed: bool


class DutyView(BaseModel):
    kind: str
    label_zh: str
    fiscal_year: int
    owner: str
    due: date
    overdue: bool


class ProjectDetail(ProjectSummary):
    cycles: list[CycleView]
    duties: list[DutyView]  # what is owed now, by whom and by when (the to-do list)
    accountability: list[dict[str, Any]]
    allowed_actions: list[AllowedActionView]
    assessment: dict[str, Any] | None
    suspended_reason: str | None
    exit_reason: str | None
    seq: int
    # Kind-specific (models.kinds): filing fields, and the years with something recorded.
    payment_table: PaymentTable | None = None
    management_fee: Decimal | None = None
    kind_records: list[KindRecordView] = []


class ProjectPage(BaseModel):
    items: list[ProjectSummary]
    total: int
    page: int
    page_size: int


class HistoryView(BaseModel):
    seq: int
    at: datetime
    actor: str
    role: str
    action: str
    fiscal_year: int | None
    from_: str = Field(alias="from")  # `from` is a Python keyword
    to: str
    detail: dict[str, Any]

    model_config = ConfigDict(populate_by_name=True, serialize_by_alias=True)


# --- reading ----------------------------------------------------------------------------------


def _not_found(code: str) -> Problem:
    return Problem(status=404, title="Project not found", detail=f"no project {code!r}")


def visible_row(*, session: Session, principal: Principal, code: str) -> ProjectRow:
    """The project row if the caller may see it; else 404 (existence is not revealed)."""
    row = session.get(ProjectRow, code)
    if row is None or not _may_see(session, principal, code=row.code, department=row.department):
        raise _not_found(code)
    return row


class ActedOn(NamedTuple):
    """What acting needs of a project row before the workflow is asked."""

    code: str
    department: str
    state: str


# Prebuilt (compiled once): every action reads this, and not the row's snapshot, which only a
# finished project's paths need (they read the whole row then).
_ACTED_ON = select(col(ProjectRow.code), col(ProjectRow.department), col(ProjectRow.state)).where(
    col(ProjectRow.code) == bindparam("code")
)


def visible_target(*, session: Session, principal: Principal, code: str) -> ActedOn:
    """`visible_row`'s check, reading only the columns an action needs."""
    found = session.connection().execute(_ACTED_ON, {"code": code}).first()
    if found is None:
        raise _not_found(code)
    target = ActedOn(*found)
    if not _may_see(session, principal, code=target.code, department=target.department):
        raise _not_found(code)
    return target


def _may_see(session: Session, principal: Principal, *, code: str, department: str) -> bool:
    if principal.role in READ_ALL:
        return True
    if principal.role is Role.EVALUATOR:
        return bool(
            session.execute(
                _assigned_to(principal.username).where(col(EvaluatorAssignmentRow.code) == code)
            ).first()
        )
    return principal.role is Role.DEPARTMENT and principal.department == department


def _assigned_to(username: str) -> Any:
    """The codes of the projects whose key evaluation `username` is commissioned for."""
    return select(col(EvaluatorAssignmentRow.code)).where(
        col(EvaluatorAssignmentRow.username) == username
    )


def project_detail(
    row: ProjectRow, principal: Principal, *, now: datetime, rules: Rules
) -> ProjectDetail:
    project = ProjectState.model_validate(row.snapshot)
    return detail_of(project, row.seq, principal, now=now, rules=rules)


def detail_of(
    project: ProjectState, seq: int, principal: Principal, *, now: datetime, rules: Rules
) -> ProjectDetail:
    """A project as its detail view shows it, from its state (the projection's or the
    workflow's own, when the read model cannot be reached)."""
    info = project.info
    lifecycle = Lifecycle(project, rules)
    allowed = lifecycle.allowed_actions(
        role=principal.role,
        today=business_today(now, rules),
        actor=Actor(
            username=principal.username, role=principal.role, department=principal.department
        ),
    )
    late = {d.key for d in lifecycle.overdue(now)}
    return ProjectDetail(
        code=info.code,
        name=info.name,
        kind=info.kind.value,
        budget_type=info.budget_type.value,
        department=info.department,
        major=info.major,
        owner=info.owner,
        start_year=info.start_year,
        end_year=info.end_year,
        total_amount=info.total_amount,
        state=project.state,
        warning=project.warning.value,
        grade=project.latest_grade.value if project.latest_grade else None,
        exit_proposed=project.exit_proposed,
        cycles=[
            CycleView(
                fiscal_year=c.fiscal_year,
                state=c.state,
                requested_amount=c.requested_amount,
                approved_amount=c.approved_amount,
                executed_amount=c.executed_amount,
                warning=c.warning.value,
                score=c.score,
                grade=c.grade.value if c.grade else None,
                key_evaluation=(
                    c.key_evaluation_record.model_dump(mode="json")
                    if c.key_evaluation_record
                    else None
                ),
            )
            for c in project.cycles
        ],
        allowed_actions=[AllowedActionView(**a.model_dump()) for a in allowed],
        duties=[
            DutyView(
                kind=d.kind.value,
                label_zh=DUTY_LABEL_ZH[d.kind],
                fiscal_year=d.fiscal_year,
                owner=d.owner.value,
                due=d.due,
                overdue=d.key in late,
            )
            for d in lifecycle.duties(now)
        ],
        accountability=[r.model_dump(mode="json") for r in project.accountability],
        assessment=project.assessment.model_dump(mode="json") if project.assessment else None,
        suspended_reason=project.suspended_reason,
        exit_reason=project.exit_reason.value if project.exit_reason else None,
        seq=seq,
        payment_table=info.payment_table,
        management_fee=info.management_fee,
        kind_records=[r for c in project.cycles if (r := _kind_record(c)) is not None],
    )


def _kind_record(cycle: Cycle) -> KindRecordView | None:
    evaluation = cycle.self_evaluation
    third = evaluation.third_party if evaluation is not None else None
    record = KindRecordView(
        fiscal_year=cycle.fiscal_year,
        performance_payment=cycle.performance_payment,
        procurement=cycle.procurement,
        fund_decision=cycle.fund_decision,
        publication=Publication(
            evaluator=third.evaluator,
            standard=third.standard,
            score=cycle.score,
            grade=cycle.grade.value if cycle.grade else None,
        )
        if third is not None and third.publish
        else None,
    )
    kept = (record.performance_payment, record.procurement, record.fund_decision)
    return record if any(x is not None for x in (*kept, record.publication)) else None


# A list reads the summary's columns only: the row's snapshot (the whole project as JSON, the
# bulk of the row) would be fetched and parsed for each of a page's rows and then thrown away.
_SUMMARY_COLUMNS = [col(getattr(ProjectRow, name)) for name in ProjectSummary.model_fields]


def list_projects(
    *,
    session: Session,
    principal: Principal,
    state: str | None = None,
    department: str | None = None,
    fiscal_year: int | None = None,
    grade: str | None = None,
    warning: str | None = None,
    page: int = 1,
    page_size: int = 50,
) -> ProjectPage:
    """Projects the caller may see, filtered; `fiscal_year` narrows grade and warning to that year."""
    where: list[Any] = []
    if principal.role is Role.EVALUATOR:
        where.append(col(ProjectRow.code).in_(_assigned_to(principal.username)))
    elif principal.role not in READ_ALL:
        if principal.role is not Role.DEPARTMENT or principal.department is None:
            return ProjectPage(items=[], total=0, page=page, page_size=page_size)
        where.append(col(ProjectRow.department) == principal.department)
    if department is not None:
        where.append(col(ProjectRow.department) == department)
    if state is not None:
        in_cycle = select(col(CycleRow.code)).where(col(CycleRow.state) == state)
        where.append((col(ProjectRow.state) == state) | col(ProjectRow.code).in_(in_cycle))
    if fiscal_year is not None:
        year = select(col(CycleRow.code)).where(col(CycleRow.fiscal_year) == fiscal_year)
        if grade is not None:
            year = year.where(col(CycleRow.grade) == grade)
        if warning is not None:
            year = year.where(col(CycleRow.warning) == warning)
        where.append(col(ProjectRow.code).in_(year))
    else:
        if grade is not None:
            where.append(col(ProjectRow.grade) == grade)
        if warning is not None:
            where.append(col(ProjectRow.warning) == warning)
    total = session.execute(select(func.count()).select_from(ProjectRow).where(*where)).scalar_one()
    rows = session.execute(
        select(*_SUMMARY_COLUMNS)
        .where(*where)
        .order_by(col(ProjectRow.code))
        .offset((page - 1) * page_size)
        .limit(page_size)
    )
    return ProjectPage(
        items=[ProjectSummary.model_validate(r._mapping) for r in rows],
        total=total,
        page=page,
        page_size=page_size,
    )


def project_history(*, session: Session, code: str) -> list[HistoryView]:
    rows = session.execute(
        select(HistoryRow).where(col(HistoryRow.code) == code).order_by(col(HistoryRow.seq))
    ).scalars()
    return [
        HistoryView(
            seq=r.seq,
            at=r.at,
            actor=r.actor,
            role=r.role,
            action=r.action,
            fiscal_year=r.fiscal_year,
            from_=r.from_state,
            to=r.to_state,
            detail=r.detail,
        )
        for r in rows
    ]


# --- filing -----------------------------------------------------------------------------------


async def file_project(
    *,
    session: Session,
    client: Client,
    settings: Settings,
    principal: Principal,
    filing: ProjectFiling,
) -> ProjectDetail:
    """Start the project's workflow and project its first state; 409 if the code is taken."""
    await asyncio.to_thread(_check_filing, session, principal, filing)
    now = datetime.now(UTC)
    info = ProjectInfo(**filing.model_dump(), department=principal.department)
    filer = Actor(username=principal.username, role=principal.role, department=principal.department)
    state = ProjectState.filed(info, actor=filer, at=now)
    return await _start(session, client, settings, principal, state)


async def carry_over_project(
    *,
    session: Session,
    client: Client,
    settings: Settings,
    principal: Principal,
    state: ProjectState,
) -> ProjectDetail:
    """Start the workflow of a project carried over from the previous system (see
    `models.carry_over`), in the state it had there; 409 if the code is taken."""
    if await asyncio.to_thread(session.get, ProjectRow, state.info.code) is not None:
        raise _code_taken(state.info.code)
    return await _start(session, client, settings, principal, state)


async def _start(
    session: Session, client: Client, settings: Settings, principal: Principal, state: ProjectState
) -> ProjectDetail:
    info = state.info
    rules = await asyncio.to_thread(rules_in_force, session=session, settings=settings)
    try:
        await client.start_workflow(
            ProjectWorkflow.run,
            ProjectWorkflowInput(project=state, rules=rules),
            id=workflow_id(info.code),
            task_queue=settings.task_queue,
            id_reuse_policy=WorkflowIDReusePolicy.REJECT_DUPLICATE,
            id_conflict_policy=WorkflowIDConflictPolicy.FAIL,
            static_summary=f"{info.code} {info.name}",
            static_details=(
                f"Department {info.department}; {info.kind.value}, {info.budget_type.value}; "
                f"{info.start_year}–{info.end_year}; owner {info.owner}"
            ),
            search_attributes=TypedSearchAttributes(
                [
                    SearchAttributePair(sa.PROJECT_CODE, info.code),
                    SearchAttributePair(sa.DEPARTMENT, info.department),
                    SearchAttributePair(sa.BUDGET_TYPE, info.budget_type.value),
                    SearchAttributePair(sa.LIFECYCLE_STATE, [state.state]),
                ]
            ),
        )
    except WorkflowAlreadyStartedError:
        raise _code_taken(info.code) from None
    return await asyncio.to_thread(
        _write_through,
        session,
        ActOutcome(project=state, entries=state.history),
        principal,
        rules,
    )


def _check_filing(session: Session, principal: Principal, filing: ProjectFiling) -> None:
    if principal.department is None or session.get(Department, principal.department) is None:
        raise Problem(status=409, title="No department", detail="the filing user has no department")
    if session.get(ProjectRow, filing.code) is not None:
        raise _code_taken(filing.code)


def _code_taken(code: str) -> Problem:
    return Problem(
        status=409, title="Project code taken", detail=f"project {code!r} already exists"
    )


# --- acting -----------------------------------------------------------------------------------


def parse_payload(action: str, body: Any) -> Any:
    """The action's body as its payload model; 404 for an unknown action, 422 for bad input."""
    if action not in PERSON_ACTIONS:
        raise Problem(
            status=404,
            title="Unknown action",
            detail=f"{action!r} is not an action; actions: {', '.join(PERSON_ACTIONS)}",
        )
    if action == "approve_budget" and isinstance(body, dict) and "control" in body:
        raise Problem(
            status=422,
            title="Invalid request body",
            detail="the body of approve_budget is not valid",
            errors=[
                {
                    "field": "body.control",
                    "reason": "set by the service from the department's control number; "
                    "not accepted in a request",
                }
            ],
        )
    try:
        return PAYLOADS[action].model_validate(body if body is not None else {})
    except ValidationError as invalid:
        raise Problem(
            status=422,
            title="Invalid request body",
            detail=f"the body of {action} is not valid",
            errors=validation_errors(
                [{**e, "loc": ("body", *e["loc"])} for e in invalid.errors(include_input=False)]
            ),
        ) from None


async def take_action(
    *,
    session: Session,
    client: Client,
    principal: Principal | Caller,
    code: str,
    action: str,
    body: Any,
    idempotency_key: str | None,
    rules: Rules | None,
    composed: bool = False,
    settings: Settings | None = None,
) -> ProjectDetail:
    """Ask the project's workflow to take `action`; 409 with every unmet guard if it may not.

    `principal`: who acts, or a `Caller` whose user row is read along with the project row.
    `rules`: the rules in force, or None to read them (with `settings`) along with the row.
    `composed`: the body was built by the service (see `COMPOSED_ACTIONS`), not sent by a caller.
    A transfer to discipline inspection on a finished project is recorded by the service (its
    workflow has ended; `service.closed_transfers`); `settings` then delivers its messages.
    """
    structlog.contextvars.bind_contextvars(
        project_code=code, workflow_id=workflow_id(code), action=action
    )
    acting, target, in_force = await asyncio.to_thread(
        _before_acting, session, principal, code, rules, settings
    )
    bind_actor(acting)
    if action in COMPOSED_ACTIONS and not composed:
        raise Problem(
            status=422,
            title="Use the dedicated endpoint",
            detail=f"{action} is taken through {COMPOSED_ACTIONS[action]}, which checks the "
            "expert library for conflicts of interest",
        )
    payload = parse_payload(action, body)
    required = ACTIONS[action].role
    if acting.role is not required:
        raise Problem(
            status=403,
            title="Forbidden",
            detail=f"only the {required.value} role may {action}",
        )
    if action == closed_transfers.ACTION and target.state in PROJECT_FINAL_STATES:
        row = await asyncio.to_thread(_whole_row, session, code)
        return await _transfer_closed(session, row, payload, acting, idempotency_key, in_force,
                                      settings)  # fmt: skip
    actor = Actor(username=acting.username, role=acting.role, department=acting.department)
    request_id = idempotency_key or str(uuid.uuid4())
    facts: ControlFacts | None = None
    if isinstance(payload, ApproveBudget) and await asyncio.to_thread(
        control_reservations.year_open, session, target.department, payload.fiscal_year
    ):
        # Hold the amount against the department's control number first (race-free: see
        # service.control_reservations); the project's guard judges what the hold answered.
        facts = await control_reservations.reserve(
            client,
            department=target.department,
            project_code=code,
            payload=payload,
            request_id=request_id,
            actor=actor,
        )
        payload = payload.model_copy(update={"control": facts})
    request = ActRequest(action=action, payload=payload.model_dump(mode="json"), actor=actor)
    handle = client.get_workflow_handle(workflow_id(code))
    try:
        # A timeout scope, not `wait_for`, which runs the call in a task of its own.
        async with asyncio.timeout(UPDATE_TIMEOUT_SECONDS):
            outcome = await handle.execute_update(ProjectWorkflow.act, request, id=request_id)
    except WorkflowUpdateFailedError as failed:
        if facts is not None:  # refused for sure: free what was held for it
            await control_reservations.settle(client, facts, confirmed=False, actor=actor)
        raise rejection_problem(failed.cause, action, workflow="workflow") from None
    except RPCError as error:
        if error.status is RPCStatusCode.NOT_FOUND:
            if facts is not None:
                await control_reservations.settle(client, facts, confirmed=False, actor=actor)
            # The workflow has finished (completed or exited): judge the action on its last state.
            row = await asyncio.to_thread(_whole_row, session, code)
            raise _closed_project_problem(row, action, payload, acting, in_force) from None
        raise
    except TimeoutError:
        raise outcome_unknown() from None
    if not _outcome_of(outcome, request):
        if facts is not None:  # held for a request that did not apply: free it
            await control_reservations.settle(client, facts, confirmed=False, actor=actor)
        # Temporal answers a known update id with that update's outcome, whatever is asked
        # now: without this, another action under a used key would get a 200 and not apply.
        raise Problem(
            status=422,
            title="Idempotency-Key reused",
            detail="this Idempotency-Key was used on this project for another request; "
            "a new request needs a new key",
        )
    if facts is not None:
        await control_reservations.settle(client, facts, confirmed=True, actor=actor)
    # The workflow answered without projecting (`workflows.project.WRITE_THROUGH_PATCH`):
    # write the action into the read model before answering, so that the caller reads its
    # own write; the workflow's projection activity confirms it shortly after.
    return await asyncio.to_thread(_write_through, session, outcome, acting, in_force)


def _before_acting(
    session: Session,
    principal: Principal | Caller,
    code: str,
    rules: Rules | None,
    settings: Settings | None,
) -> tuple[Principal, ActedOn, Rules]:
    """The caller's user row (401 unless active), the project row (404 unless the caller may
    see it) and the rules, in one trip to a thread; then the read transaction ends, so that no
    connection is held while the workflow is asked (a connection lost meanwhile must not turn
    an accepted action into an error)."""
    try:
        if isinstance(principal, Caller):
            principal = principal.principal_in(session)
        target = visible_target(session=session, principal=principal, code=code)
        if rules is None:
            if settings is None:
                raise TypeError("take_action needs the rules or the settings to read them from")
            rules = rules_in_force(session=session, settings=settings)
        return principal, target, rules
    finally:
        session.close()


def _whole_row(session: Session, code: str) -> ProjectRow:
    """The project row with its snapshot, for a finished project (its workflow has ended);
    the read transaction ends at once, as in `_before_acting`."""
    try:
        row = session.get(ProjectRow, code)
        if row is None:  # checked before acting; rows are never deleted
            raise _not_found(code)
        return row
    finally:
        session.close()


def _outcome_of(outcome: ActOutcome, request: ActRequest) -> bool:
    """Whether `outcome` records `request`: its action, by its actor, for its fiscal year."""
    year = request.payload.get("fiscal_year")
    return any(
        entry.action == request.action
        and entry.actor == request.actor.username
        and (year is None or entry.fiscal_year == year)
        for entry in outcome.entries
    )


def _write_through(
    session: Session, outcome: ActOutcome, principal: Principal, rules: Rules
) -> ProjectDetail:
    """Write what the workflow answered into the read model, so the caller reads its own
    write: a new project is listed as soon as it is filed, an action shows as soon as it is
    answered. The workflow's projection activity writes the same snapshot too (idempotently).
    """
    seq = outcome.entries[-1].seq if outcome.entries else 0
    try:
        if outcome.entries:
            apply_snapshot(session, project=outcome.project, seq=seq, entries=outcome.entries)
    except SQLAlchemyError:
        # The action is accepted and recorded by the workflow, whose projection activity
        # retries until the database is back: answer from the workflow's own state.
        session.rollback()
        log.warning("write_through_failed", project_code=outcome.project.info.code, seq=seq)
    return detail_of(outcome.project, seq, principal, now=datetime.now(UTC), rules=rules)


async def _transfer_closed(
    session: Session,
    row: ProjectRow,
    payload: Any,
    principal: Principal,
    idempotency_key: str | None,
    rules: Rules,
    settings: Settings | None,
) -> ProjectDetail:
    _, queued = await asyncio.to_thread(
        closed_transfers.record,
        session,
        row=row,
        payload=payload,
        principal=principal,
        idempotency_key=idempotency_key,
    )
    if settings is not None:
        bind = session.get_bind()
        closed_transfers.deliver_soon(lambda: Session(bind), settings, queued)
    return project_detail(row, principal, now=datetime.now(UTC), rules=rules)


def _closed_project_problem(
    row: ProjectRow, action: str, payload: Any, principal: Principal, rules: Rules
) -> Problem:
    project = ProjectState.model_validate(row.snapshot)
    rejection = Lifecycle(project, rules).evaluate(
        action, payload, role=principal.role, today=business_today(datetime.now(UTC), rules)
    )
    unmet = [u.model_dump() for u in rejection.unmet] if rejection else []
    count_rejection(action, unmet)
    return Problem(
        status=409,
        title="Action not allowed now",
        detail=f"project {row.code} is {project.state}",
        action=action,
        state=project.state,
        fiscal_year=getattr(payload, "fiscal_year", None),
        unmet=unmet,
    )


def history_or_404(*, session: Session, principal: Principal, code: str) -> Sequence[HistoryView]:
    visible_row(session=session, principal=principal, code=code)
    return project_history(session=session, code=code)
