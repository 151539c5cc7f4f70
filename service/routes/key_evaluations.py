"""Finance key evaluations: the zone-wide selection of a year, commissioning evaluators."""

from __future__ import annotations

import asyncio
from typing import Annotated

from fastapi import APIRouter, Path

from models.vocabulary import Role
from service import calendar, key_evaluations, projects
from service.auth import Principal
from service.deps import SessionDep, SettingsDep, TemporalClientDep, require_roles
from service.routes.projects import IdempotencyKey

router = APIRouter(tags=["key evaluations"])

Finance = Annotated[Principal, require_roles(Role.FINANCE)]
Reader = Annotated[Principal, require_roles(Role.FINANCE, Role.ADMIN, Role.AUDITOR)]
Year = Annotated[int, Path(ge=2000, le=2200)]


@router.post("/api/key-evaluations/{fiscal_year}/selections")
async def select_year(
    fiscal_year: Year,
    body: key_evaluations.SelectionRequest,
    principal: Finance,
    session: SessionDep,
    client: TemporalClientDep,
    settings: SettingsDep,
) -> key_evaluations.SelectionView:
    """Select the year's projects for key evaluation: major, flagged (score gap, red warning)
    and a seeded sample of the rest; the seed and the pool are recorded to redo the draw."""
    rules = await asyncio.to_thread(calendar.rules_in_force, session=session, settings=settings)
    return await key_evaluations.select_year(
        session=session,
        client=client,
        principal=principal,
        fiscal_year=fiscal_year,
        request=body,
        rules=rules,
    )


@router.get("/api/key-evaluations/{fiscal_year}/selections")
def list_selections(
    fiscal_year: Year, _: Reader, session: SessionDep
) -> list[key_evaluations.SelectionView]:
    """Every selection recorded for the year, with seed, pool and outcome per project."""
    return key_evaluations.selections(session=session, fiscal_year=fiscal_year)


@router.post("/api/projects/{code}/key-evaluation/evaluators")
async def assign_evaluators(
    code: str,
    body: key_evaluations.AssignmentRequest,
    principal: Finance,
    session: SessionDep,
    client: TemporalClientDep,
    settings: SettingsDep,
    idempotency_key: IdempotencyKey = None,
) -> projects.ProjectDetail:
    """Commission experts or institutions from the library for a year's key evaluation, by id
    or by a seeded draw; anyone with a conflict of interest is refused (409, with reasons)."""
    rules = await asyncio.to_thread(calendar.rules_in_force, session=session, settings=settings)
    return await key_evaluations.assign(
        session=session,
        client=client,
        principal=principal,
        code=code,
        request=body,
        idempotency_key=idempotency_key,
        rules=rules,
    )
