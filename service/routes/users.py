"""User accounts, managed by admins."""

from __future__ import annotations

from datetime import datetime

from fastapi import APIRouter, status
from pydantic import BaseModel, ConfigDict, SecretStr

from models.tables import User
from models.vocabulary import Role
from service import users
from service.deps import AdminUser, SessionDep
from service.problems import Problem

router = APIRouter(prefix="/api/users", tags=["users"])


class UserCreate(BaseModel):
    # forbid: a misspelt field ("departement") must be an error, not silently ignored.
    model_config = ConfigDict(extra="forbid")

    username: str
    # SecretStr keeps the password out of reprs, tracebacks and log lines of this model.
    password: SecretStr
    role: Role
    department: str | None = None


class UserUpdate(BaseModel):
    """Only the fields present change; `"department": null` clears the department."""

    model_config = ConfigDict(extra="forbid")

    active: bool | None = None
    role: Role | None = None
    department: str | None = None
    password: SecretStr | None = None


class UserPublic(BaseModel):
    """A user without the password hash."""

    username: str
    role: Role
    department: str | None
    active: bool
    created_at: datetime

    @classmethod
    def of(cls, user: User) -> UserPublic:
        return cls(
            username=user.username,
            role=Role(user.role),
            department=user.department,
            active=user.active,
            created_at=user.created_at,
        )


def user_problem(error: users.UserError) -> Problem:
    """The problem details for a broken rule about users or departments."""
    if isinstance(error, users.NotFoundError):
        return Problem(status=404, title="Not found", detail=error.reason)
    field = {"field": f"body.{error.field}", "reason": error.reason}
    if isinstance(error, users.DuplicateError):
        return Problem(status=409, title="Already exists", detail=error.reason, errors=[field])
    if isinstance(error, users.ConflictError):
        return Problem(status=409, title="Conflict", detail=error.reason, errors=[field])
    return Problem(
        status=422,
        title="Invalid request",
        detail=f"the request is not valid: body.{error.field}",
        errors=[field],
    )


@router.post("", status_code=status.HTTP_201_CREATED)
def create_user(body: UserCreate, session: SessionDep, _: AdminUser) -> UserPublic:
    """Create a user; a department user's department is created if it does not exist."""
    try:
        user = users.add_user(
            session=session,
            username=body.username,
            password=body.password.get_secret_value(),
            role=body.role,
            department=body.department,
        )
    except users.UserError as error:
        raise user_problem(error) from None
    return UserPublic.of(user)


@router.get("")
def list_users(
    session: SessionDep,
    _: AdminUser,
    department: str | None = None,
    active: bool | None = None,
) -> list[UserPublic]:
    """Every user, by username; filter by department or by active."""
    found = users.list_users(session=session, department=department, active=active)
    return [UserPublic.of(user) for user in found]


@router.patch("/{username}")
def update_user(username: str, body: UserUpdate, session: SessionDep, _: AdminUser) -> UserPublic:
    """Enable or disable a user, change their role, department or password."""
    department: str | users.Unset | None = (
        body.department if "department" in body.model_fields_set else users.UNSET
    )
    try:
        user = users.update_user(
            session=session,
            username=username,
            active=body.active,
            role=body.role,
            department=department,
            password=body.password.get_secret_value() if body.password else None,
        )
    except users.UserError as error:
        raise user_problem(error) from None
    return UserPublic.of(user)
