"""The expert and third-party institution library (专家和第三方机构库): register, find, rate,
suspend and reinstate. Keyword-only functions that take the session and commit their change.
"""

from __future__ import annotations

from collections.abc import Sequence
from datetime import UTC, datetime
from decimal import Decimal
from enum import StrEnum
from typing import Annotated

from pydantic import BaseModel, ConfigDict, Field, StringConstraints
from sqlalchemy import func, select
from sqlalchemy.exc import IntegrityError
from sqlmodel import Session, col

from models.evaluator_tables import EvaluatorAssignmentRow, Expert, ExpertRating
from models.evaluators import ExpertFacts
from models.tables import Department, User
from models.vocabulary import Role
from service.problems import Problem

Name = Annotated[str, StringConstraints(strip_whitespace=True, min_length=1, max_length=200)]
Speciality = Annotated[str, StringConstraints(strip_whitespace=True, min_length=1, max_length=100)]


class ExpertKind(StrEnum):
    EXPERT = "expert"  # 专家
    INSTITUTION = "institution"  # 第三方机构


class ExpertCreate(BaseModel):
    model_config = ConfigDict(extra="forbid")

    kind: ExpertKind
    name: Name
    username: Annotated[str, Field(min_length=3, max_length=64)] | None = None
    department: Annotated[str, Field(min_length=1, max_length=32)] | None = None
    institution: Name | None = None
    specialities: Annotated[list[Speciality], Field(min_length=1, max_length=20)]


class ExpertUpdate(BaseModel):
    """Only the fields present change."""

    model_config = ConfigDict(extra="forbid")

    specialities: Annotated[list[Speciality], Field(min_length=1, max_length=20)] | None = None
    institution: Name | None = None


class Suspension(BaseModel):
    model_config = ConfigDict(extra="forbid")

    reason: Annotated[str, StringConstraints(strip_whitespace=True, min_length=1, max_length=4000)]


class RatingCreate(BaseModel):
    model_config = ConfigDict(extra="forbid")

    project_code: Annotated[str, Field(min_length=1, max_length=32)]
    fiscal_year: Annotated[int, Field(ge=2000, le=2200)]
    score: Annotated[int, Field(ge=1, le=5)]
    comment: Annotated[str, Field(max_length=4000)] = ""


class RatingPublic(BaseModel):
    project_code: str
    fiscal_year: int
    score: int
    comment: str
    rated_by: str
    rated_at: datetime


class ExpertPublic(BaseModel):
    id: int
    kind: ExpertKind
    name: str
    username: str | None
    department: str | None
    institution: str | None
    specialities: list[str]
    suspended: bool
    suspended_reason: str
    rating_average: Decimal | None  # of every rated job, to 2 places
    rating_count: int
    created_at: datetime


class ExpertDetail(ExpertPublic):
    ratings: list[RatingPublic]


def _field_problem(status: int, title: str, field: str, reason: str) -> Problem:
    return Problem(
        status=status,
        title=title,
        detail=f"{field}: {reason}",
        errors=[{"field": f"body.{field}", "reason": reason}],
    )


def _not_found(expert_id: int) -> Problem:
    return Problem(status=404, title="Not found", detail=f"no expert or institution #{expert_id}")


def _ratings(session: Session, ids: Sequence[int]) -> dict[int, tuple[Decimal | None, int]]:
    rows = session.execute(
        select(col(ExpertRating.expert_id), func.avg(col(ExpertRating.score)), func.count())
        .where(col(ExpertRating.expert_id).in_(ids))
        .group_by(col(ExpertRating.expert_id))
    ).all()
    return {
        expert_id: (Decimal(str(avg)).quantize(Decimal("0.01")) if avg is not None else None, n)
        for expert_id, avg, n in rows
    }


def _id(expert: Expert) -> int:
    if expert.id is None:  # only before its insert is flushed
        raise RuntimeError("an expert read from the database has an id")
    return expert.id


def _public(expert: Expert, rating: tuple[Decimal | None, int]) -> ExpertPublic:
    return ExpertPublic(
        id=_id(expert),
        kind=ExpertKind(expert.kind),
        name=expert.name,
        username=expert.username,
        department=expert.department,
        institution=expert.institution,
        specialities=list(expert.specialities),
        suspended=expert.suspended,
        suspended_reason=expert.suspended_reason,
        rating_average=rating[0],
        rating_count=rating[1],
        created_at=expert.created_at,
    )


def facts(expert: Expert) -> ExpertFacts:
    return ExpertFacts(
        expert_id=_id(expert),
        name=expert.name,
        kind=expert.kind,
        username=expert.username,
        department=expert.department,
        institution=expert.institution,
        specialities=frozenset(expert.specialities),
        suspended=expert.suspended,
    )


def register(*, session: Session, body: ExpertCreate, by: str) -> ExpertDetail:
    """Add an expert or institution; its evaluator account, if named, must exist already."""
    if body.username is not None:
        user = session.get(User, body.username)
        if user is None or user.role != Role.EVALUATOR.value:
            raise _field_problem(
                422, "Invalid request", "username", "must name an existing user with role evaluator"
            )
        taken = session.execute(
            select(col(Expert.id)).where(col(Expert.username) == body.username)
        ).first()
        if taken is not None:
            raise _field_problem(
                409, "Already exists", "username", "already linked to another expert"
            )
    if body.department is not None and session.get(Department, body.department) is None:
        raise _field_problem(422, "Invalid request", "department", "no such department")
    expert = Expert(
        kind=body.kind.value,
        name=body.name,
        username=body.username,
        department=body.department,
        institution=body.institution,
        specialities=sorted(set(body.specialities)),
        created_at=datetime.now(UTC),
        created_by=by,
    )
    session.add(expert)
    try:
        session.commit()
    except IntegrityError:
        session.rollback()
        raise _field_problem(
            409, "Already exists", "username", "already linked to another expert"
        ) from None
    return detail(session=session, expert_id=_id(expert))


def list_experts(
    *, session: Session, speciality: str | None, include_suspended: bool
) -> list[ExpertPublic]:
    experts = list(session.execute(select(Expert).order_by(col(Expert.id))).scalars())
    if speciality is not None:
        experts = [e for e in experts if speciality in e.specialities]
    if not include_suspended:
        experts = [e for e in experts if not e.suspended]
    ratings = _ratings(session, [e.id for e in experts if e.id is not None])
    return [_public(e, ratings.get(e.id or 0, (None, 0))) for e in experts]


def get(*, session: Session, expert_id: int) -> Expert:
    expert = session.get(Expert, expert_id)
    if expert is None:
        raise _not_found(expert_id)
    return expert


def detail(*, session: Session, expert_id: int) -> ExpertDetail:
    expert = get(session=session, expert_id=expert_id)
    rows = session.execute(
        select(ExpertRating)
        .where(col(ExpertRating.expert_id) == expert_id)
        .order_by(col(ExpertRating.rated_at))
    ).scalars()
    public = _public(expert, _ratings(session, [expert_id]).get(expert_id, (None, 0)))
    return ExpertDetail(
        **public.model_dump(),
        ratings=[RatingPublic.model_validate(r, from_attributes=True) for r in rows],
    )


def update(*, session: Session, expert_id: int, body: ExpertUpdate) -> ExpertDetail:
    expert = get(session=session, expert_id=expert_id)
    if body.specialities is not None:
        expert.specialities = sorted(set(body.specialities))
    if body.institution is not None:
        expert.institution = body.institution
    session.add(expert)
    session.commit()
    return detail(session=session, expert_id=expert_id)


def suspend(*, session: Session, expert_id: int, reason: str) -> ExpertDetail:
    """Take an expert out of every future draw and assignment (their past work stands)."""
    expert = get(session=session, expert_id=expert_id)
    if expert.suspended:
        raise Problem(status=409, title="Conflict", detail=f"#{expert_id} is already suspended")
    expert.suspended, expert.suspended_reason = True, reason
    session.add(expert)
    session.commit()
    return detail(session=session, expert_id=expert_id)


def reinstate(*, session: Session, expert_id: int) -> ExpertDetail:
    expert = get(session=session, expert_id=expert_id)
    if not expert.suspended:
        raise Problem(status=409, title="Conflict", detail=f"#{expert_id} is not suspended")
    expert.suspended, expert.suspended_reason = False, ""
    session.add(expert)
    session.commit()
    return detail(session=session, expert_id=expert_id)


def rate(*, session: Session, expert_id: int, body: RatingCreate, by: str) -> ExpertDetail:
    """Rate a finished job: the expert must have submitted that project-year's key evaluation."""
    get(session=session, expert_id=expert_id)
    job = session.get(EvaluatorAssignmentRow, (body.project_code, body.fiscal_year, expert_id))
    if job is None:
        raise Problem(
            status=409,
            title="No such job",
            detail=f"#{expert_id} was not commissioned for the key evaluation of "
            f"{body.project_code} {body.fiscal_year}",
        )
    if not job.submitted:
        raise Problem(
            status=409,
            title="Job not finished",
            detail=f"the key evaluation of {body.project_code} {body.fiscal_year} is not submitted",
        )
    session.add(
        ExpertRating(
            expert_id=expert_id,
            project_code=body.project_code,
            fiscal_year=body.fiscal_year,
            score=body.score,
            comment=body.comment,
            rated_by=by,
            rated_at=datetime.now(UTC),
        )
    )
    try:
        session.commit()
    except IntegrityError:
        session.rollback()
        raise Problem(
            status=409,
            title="Already rated",
            detail=f"#{expert_id} is already rated for {body.project_code} {body.fiscal_year}",
        ) from None
    return detail(session=session, expert_id=expert_id)
