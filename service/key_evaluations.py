"""Finance key evaluations (财政重点评价) as the API runs them: the zone-wide selection of a
fiscal year, and commissioning evaluators from the library for one project.

The rules are in `models.key_evaluation` and `models.evaluators`; this module reads the
projection and the library, records the draws, and asks each project's workflow to act.
"""

from __future__ import annotations

import asyncio
import secrets
from datetime import UTC, datetime
from decimal import Decimal
from typing import Annotated, Any

import structlog
from pydantic import BaseModel, ConfigDict, Field
from sqlalchemy import select
from sqlmodel import Session, col
from temporalio.client import Client

from models.evaluator_tables import Expert, KeyEvaluationSelectionRow
from models.evaluators import (
    NotEnoughEligibleError,
    draw_evaluators,
    exclusions,
)
from models.indicators import Code
from models.key_evaluation import Candidate, SelectionReason, select_for_key_evaluation
from models.lifecycle import ACTIONS
from models.project_state import HistoryEntry, ProjectState
from models.rules import Rules
from models.tables import CycleRow, Department, HistoryRow, ProjectRow
from models.vocabulary import Role, WarningLevel
from service import experts
from service.auth import Principal
from service.problems import Problem
from service.projects import ProjectDetail, take_action, visible_row

log = structlog.get_logger(__name__)

# The states from which a year can be selected (the action's sources, read from the lifecycle).
SELECTABLE = ACTIONS["select_for_key_evaluation"].sources
SEED_BOUND = 2**31


class SelectionRequest(BaseModel):
    model_config = ConfigDict(extra="forbid")

    # Omit for a fresh random seed; give the recorded one to redo a draw exactly.
    seed: Annotated[int, Field(ge=0, lt=SEED_BOUND)] | None = None
    # Omit for the rules' default (`PERFBUDGET_RULES__KEY_EVALUATION__SAMPLE_PERCENT`).
    sample_percent: Annotated[Decimal, Field(ge=0, le=100, decimal_places=2)] | None = None


class SelectedView(BaseModel):
    code: str
    reasons: list[SelectionReason]
    outcome: str  # "selected", or why the project's workflow refused


class SelectionView(BaseModel):
    id: int
    fiscal_year: int
    seed: int
    sample_percent: Decimal
    sample_pool: list[str]
    selected: list[SelectedView]
    selected_by: str
    selected_at: datetime


class DrawRequest(BaseModel):
    model_config = ConfigDict(extra="forbid")

    speciality: Annotated[str, Field(min_length=1, max_length=100)] | None = None
    count: Annotated[int, Field(ge=1, le=20)] = 1
    seed: Annotated[int, Field(ge=0, lt=SEED_BOUND)] | None = None


class AssignmentRequest(BaseModel):
    """Name the evaluators (`expert_ids`) or let a seeded draw choose them (`draw`)."""

    model_config = ConfigDict(extra="forbid")

    fiscal_year: Annotated[int, Field(ge=2000, le=2200)]
    expert_ids: (
        Annotated[list[Annotated[int, Field(ge=1)]], Field(min_length=1, max_length=20)] | None
    ) = None
    draw: DrawRequest | None = None
    # Departments taking part in a joint evaluation (联合评价).
    departments: Annotated[list[Code], Field(max_length=20)] = []


# --- selection ---------------------------------------------------------------------------------


def candidates(*, session: Session, fiscal_year: int) -> list[Candidate]:
    """Open projects whose year is self-evaluated and not yet selected."""
    rows = session.execute(
        select(ProjectRow, CycleRow)
        .join(CycleRow, col(CycleRow.code) == col(ProjectRow.code))
        .where(
            col(CycleRow.fiscal_year) == fiscal_year,
            col(CycleRow.state).in_(SELECTABLE),
            col(ProjectRow.state).in_(("active", "suspended")),
        )
    ).all()
    out: list[Candidate] = []
    for project_row, _cycle_row in rows:
        cycle = ProjectState.model_validate(project_row.snapshot).cycle(fiscal_year)
        if cycle is None or cycle.key_evaluation_record is not None:
            continue
        red = cycle.warning is WarningLevel.RED or any(
            r.warning is WarningLevel.RED for r in cycle.monitoring
        )
        out.append(
            Candidate(
                project_row.code,
                major=project_row.major,
                score_gap=cycle.key_evaluation,
                red_warning=red,
            )
        )
    return out


async def select_year(
    *,
    session: Session,
    client: Client,
    principal: Principal,
    fiscal_year: int,
    request: SelectionRequest,
    rules: Rules,
) -> SelectionView:
    """Draw the year's selection, record it (seed, pool, outcome), and select each project."""
    pool = await asyncio.to_thread(candidates, session=session, fiscal_year=fiscal_year)
    seed = request.seed if request.seed is not None else secrets.randbelow(SEED_BOUND)
    percent = (
        request.sample_percent
        if request.sample_percent is not None
        else rules.key_evaluation.sample_percent
    )
    selection = select_for_key_evaluation(pool, seed=seed, sample_percent=percent)
    log.info(
        "key_evaluation_selection",
        fiscal_year=fiscal_year,
        seed=seed,
        sample_percent=str(percent),
        selected=[s.code for s in selection.selected],
    )
    outcomes: list[dict[str, Any]] = []
    for chosen in selection.selected:
        body = {
            "fiscal_year": fiscal_year,
            "reasons": [r.value for r in chosen.reasons],
            "seed": seed,
            "note": f"zone-wide selection of {fiscal_year}",
        }
        try:
            await take_action(
                session=session,
                client=client,
                principal=principal,
                code=chosen.code,
                action="select_for_key_evaluation",
                body=body,
                idempotency_key=f"key-selection-{fiscal_year}-{seed}-{chosen.code}",
                rules=rules,
            )
            outcome = "selected"
        except Problem as refused:
            # Another finance user acted on it meanwhile: the record says so, the rest go on.
            outcome = f"refused: {refused.detail}"
        outcomes.append(
            {"code": chosen.code, "reasons": [r.value for r in chosen.reasons], "outcome": outcome}
        )
    row = KeyEvaluationSelectionRow(
        fiscal_year=fiscal_year,
        seed=seed,
        sample_percent=percent,
        sample_pool=list(selection.sample_pool),
        selected=outcomes,
        selected_by=principal.username,
        selected_at=datetime.now(UTC),
    )
    return await asyncio.to_thread(_record, session, row)


def _record(session: Session, row: KeyEvaluationSelectionRow) -> SelectionView:
    session.add(row)
    session.commit()
    return _selection_view(row)


def _selection_view(row: KeyEvaluationSelectionRow) -> SelectionView:
    return SelectionView(
        id=row.id or 0,  # always set: rows are read after their insert
        fiscal_year=row.fiscal_year,
        seed=row.seed,
        sample_percent=row.sample_percent,
        sample_pool=list(row.sample_pool),
        selected=[SelectedView(**s) for s in row.selected],
        selected_by=row.selected_by,
        selected_at=row.selected_at,
    )


def selections(*, session: Session, fiscal_year: int) -> list[SelectionView]:
    rows = session.execute(
        select(KeyEvaluationSelectionRow)
        .where(col(KeyEvaluationSelectionRow.fiscal_year) == fiscal_year)
        .order_by(col(KeyEvaluationSelectionRow.id))
    ).scalars()
    return [_selection_view(r) for r in rows]


# --- commissioning evaluators ------------------------------------------------------------------


def _project_with_people(session: Session, row: ProjectRow) -> ProjectState:
    """The project as the projection has it, with the actors of its history (for involvement)."""
    project = ProjectState.model_validate(row.snapshot)
    history = session.execute(
        select(HistoryRow).where(col(HistoryRow.code) == row.code).order_by(col(HistoryRow.seq))
    ).scalars()
    project.history = [
        HistoryEntry(
            seq=h.seq,
            at=h.at,
            actor=h.actor,
            role=Role(h.role),
            action=h.action,
            fiscal_year=h.fiscal_year,
            from_state=h.from_state,
            to_state=h.to_state,
        )
        for h in history
    ]
    return project


def compose_assignment(
    *, session: Session, principal: Principal, code: str, request: AssignmentRequest
) -> dict[str, Any]:
    """The `assign_evaluators` payload: evaluators checked against the library and the
    project (409 naming each conflicted expert and why), or drawn with a recorded seed."""
    if (request.expert_ids is None) == (request.draw is None):
        raise Problem(
            status=422,
            title="Invalid request body",
            detail="give exactly one of expert_ids and draw",
            errors=[{"field": "body.expert_ids", "reason": "exactly one of expert_ids and draw"}],
        )
    row = visible_row(session=session, principal=principal, code=code)
    unknown = [d for d in request.departments if session.get(Department, d) is None]
    if unknown:
        raise Problem(
            status=422,
            title="Invalid request body",
            detail=f"unknown department(s): {', '.join(unknown)}",
            errors=[{"field": "body.departments", "reason": f"unknown: {', '.join(unknown)}"}],
        )
    project = _project_with_people(session, row)
    library = list(session.execute(select(Expert).order_by(col(Expert.id))).scalars())
    draw = None
    if request.expert_ids is not None:
        by_id = {e.id: e for e in library}
        missing = [i for i in request.expert_ids if i not in by_id]
        if missing:
            raise Problem(
                status=422,
                title="Invalid request body",
                detail=f"no expert #{', #'.join(map(str, missing))} in the library",
                errors=[{"field": "body.expert_ids", "reason": f"unknown: {missing}"}],
            )
        chosen = [experts.facts(by_id[i]) for i in request.expert_ids]
        excluded = exclusions(chosen, project)
        if excluded:
            raise Problem(
                status=409,
                title="Conflict of interest",
                detail="; ".join(
                    f"#{i} {by_id[i].name}: {', '.join(reasons)}" for i, reasons in excluded.items()
                ),
                conflicts=[
                    {"expert_id": i, "name": by_id[i].name, "reasons": reasons}
                    for i, reasons in excluded.items()
                ],
            )
    elif request.draw is not None:
        seed = request.draw.seed if request.draw.seed is not None else secrets.randbelow(SEED_BOUND)
        facts = [experts.facts(e) for e in library]
        try:
            draw = draw_evaluators(
                facts,
                project,
                speciality=request.draw.speciality,
                count=request.draw.count,
                seed=seed,
            )
        except NotEnoughEligibleError as short:
            raise Problem(
                status=409, title="Not enough eligible experts", detail=str(short)
            ) from None
        by_fact = {f.expert_id: f for f in facts}
        chosen = [by_fact[i] for i in draw.drawn]
        log.info("evaluator_draw", project_code=code, **draw.model_dump(mode="json"))
    return {
        "fiscal_year": request.fiscal_year,
        "evaluators": [c.as_evaluator().model_dump(mode="json") for c in chosen],
        "draw": draw.model_dump(mode="json") if draw is not None else None,
        "departments": request.departments,
    }


async def assign(
    *,
    session: Session,
    client: Client,
    principal: Principal,
    code: str,
    request: AssignmentRequest,
    idempotency_key: str | None,
    rules: Rules,
) -> ProjectDetail:
    payload = await asyncio.to_thread(
        compose_assignment, session=session, principal=principal, code=code, request=request
    )
    return await take_action(
        session=session,
        client=client,
        principal=principal,
        code=code,
        action="assign_evaluators",
        body=payload,
        idempotency_key=idempotency_key,
        rules=rules,
        composed=True,
    )
