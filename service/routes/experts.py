"""The expert and third-party institution library: finance and admins keep it; auditors read it."""

from __future__ import annotations

from typing import Annotated

from fastapi import APIRouter, Path, Query, status

from models.vocabulary import Role
from service import experts
from service.auth import Principal
from service.deps import SessionDep, require_roles

router = APIRouter(prefix="/api/experts", tags=["experts"])

Keeper = Annotated[Principal, require_roles(Role.FINANCE, Role.ADMIN)]
Reader = Annotated[Principal, require_roles(Role.FINANCE, Role.ADMIN, Role.AUDITOR)]
ExpertId = Annotated[int, Path(ge=1, le=2**31 - 1)]


@router.post("", status_code=status.HTTP_201_CREATED)
def register_expert(
    body: experts.ExpertCreate, session: SessionDep, principal: Keeper
) -> experts.ExpertDetail:
    """Register an expert (专家) or a third-party institution (第三方机构)."""
    return experts.register(session=session, body=body, by=principal.username)


@router.get("")
def list_experts(
    session: SessionDep,
    _: Reader,
    speciality: Annotated[str | None, Query(min_length=1, max_length=100)] = None,
    include_suspended: bool = True,
) -> list[experts.ExpertPublic]:
    """The library, with each one's average rating; filter by speciality."""
    return experts.list_experts(
        session=session, speciality=speciality, include_suspended=include_suspended
    )


@router.get("/{expert_id}")
def get_expert(expert_id: ExpertId, session: SessionDep, _: Reader) -> experts.ExpertDetail:
    """One expert or institution with every rating."""
    return experts.detail(session=session, expert_id=expert_id)


@router.patch("/{expert_id}")
def update_expert(
    expert_id: ExpertId, body: experts.ExpertUpdate, session: SessionDep, _: Keeper
) -> experts.ExpertDetail:
    """Change specialities or employer."""
    return experts.update(session=session, expert_id=expert_id, body=body)


@router.post("/{expert_id}/suspend")
def suspend_expert(
    expert_id: ExpertId, body: experts.Suspension, session: SessionDep, _: Keeper
) -> experts.ExpertDetail:
    """Suspend: no draw or assignment picks them until reinstated."""
    return experts.suspend(session=session, expert_id=expert_id, reason=body.reason)


@router.post("/{expert_id}/reinstate")
def reinstate_expert(expert_id: ExpertId, session: SessionDep, _: Keeper) -> experts.ExpertDetail:
    """Lift a suspension."""
    return experts.reinstate(session=session, expert_id=expert_id)


@router.post("/{expert_id}/ratings", status_code=status.HTTP_201_CREATED)
def rate_expert(
    expert_id: ExpertId, body: experts.RatingCreate, session: SessionDep, principal: Keeper
) -> experts.ExpertDetail:
    """Rate a finished job (1–5 and a comment): one per key evaluation."""
    return experts.rate(session=session, expert_id=expert_id, body=body, by=principal.username)
