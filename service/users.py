"""Users and departments: the rules for accounts, shared by the API and the `perfbudget` CLI.

Keyword-only functions that take the session explicitly and commit their own change, so a
caller cannot forget to, and a route, a test and the CLI all get the same behaviour.
"""

from __future__ import annotations

import re
from collections.abc import Sequence
from datetime import UTC, datetime
from typing import Final

from sqlalchemy.exc import IntegrityError
from sqlmodel import Session, col, func, select

from models.tables import Department, User
from models.vocabulary import Role
from service.auth import hash_password, needs_rehash, spend_verification_time, verify_password

USERNAME_PATTERN: Final = re.compile(r"[A-Za-z0-9_.-]{3,64}")
DEPARTMENT_CODE_PATTERN: Final = re.compile(r"[A-Za-z0-9_.-]{1,32}")
MIN_PASSWORD_LENGTH: Final = 8
# argon2 hashes whatever it is given; the cap only stops a megabyte "password" costing CPU.
MAX_PASSWORD_LENGTH: Final = 1024
MAX_DEPARTMENT_NAME: Final = 200
MAX_DEPARTMENT_HEAD: Final = 100
# People hold these roles; `system` is the workflow acting on its own (timers, results).
ASSIGNABLE_ROLES: Final = tuple(role for role in Role if role is not Role.SYSTEM)


class UserError(ValueError):
    """A request about users or departments that breaks a rule; `field` names the culprit."""

    def __init__(self, field: str, reason: str) -> None:
        self.field = field
        self.reason = reason
        super().__init__(f"{field}: {reason}")


class DuplicateError(UserError):
    """The username or department code is taken."""


class NotFoundError(UserError):
    """No such user or department."""


class ConflictError(UserError):
    """Allowed in itself, but not in the current state (e.g. removing the last admin)."""


class Unset:
    """Marks "leave as is" where None is a meaningful value (a user's department)."""


UNSET: Final = Unset()


def _now() -> datetime:
    return datetime.now(UTC)


# --- validation -------------------------------------------------------------------------------


def _check_username(username: str) -> None:
    if not USERNAME_PATTERN.fullmatch(username):
        raise UserError("username", "must be 3 to 64 characters: letters, digits, '_', '.' or '-'")


def _check_password(password: str) -> None:
    # The reason never quotes the password: it ends up in responses and logs.
    if len(password) < MIN_PASSWORD_LENGTH:
        raise UserError("password", f"must be at least {MIN_PASSWORD_LENGTH} characters")
    if len(password) > MAX_PASSWORD_LENGTH:
        raise UserError("password", f"must be at most {MAX_PASSWORD_LENGTH} characters")


def _check_department_code(code: str, field: str = "department") -> None:
    if not DEPARTMENT_CODE_PATTERN.fullmatch(code):
        raise UserError(field, "must be 1 to 32 characters: letters, digits, '_', '.' or '-'")


def _as_role(role: Role | str) -> Role:
    try:
        parsed = Role(role)
    except ValueError:
        parsed = None
    if parsed is None or parsed is Role.SYSTEM:
        raise UserError("role", f"must be one of {', '.join(ASSIGNABLE_ROLES)}")
    return parsed


def _check_role_department(role: Role, department: str | None) -> None:
    """A department user belongs to exactly one department; nobody else belongs to one."""
    if role is Role.DEPARTMENT and not department:
        raise UserError("department", "is required for the department role")
    if role is not Role.DEPARTMENT and department:
        raise UserError("department", f"must be empty for the {role.value} role")


# --- departments ------------------------------------------------------------------------------


def _check_department_texts(name: str | None, head: str | None) -> None:
    if name is not None and not 1 <= len(name.strip()) <= MAX_DEPARTMENT_NAME:
        raise UserError("name", f"must be 1 to {MAX_DEPARTMENT_NAME} characters")
    if head is not None and len(head) > MAX_DEPARTMENT_HEAD:
        raise UserError("head", f"must be at most {MAX_DEPARTMENT_HEAD} characters")


def _new_department(code: str, name: str | None, head: str) -> Department:
    return Department(code=code, name=(name or code).strip(), head=head, created_at=_now())


def create_department(
    *, session: Session, code: str, name: str | None = None, head: str = ""
) -> Department:
    """A new department; its name defaults to its code."""
    _check_department_code(code, "code")
    _check_department_texts(name, head)
    if session.get(Department, code) is not None:
        raise DuplicateError("code", f"department {code!r} already exists")
    department = _new_department(code, name, head)
    session.add(department)
    _commit(session, DuplicateError("code", f"department {code!r} already exists"))
    return department


def get_department(*, session: Session, code: str) -> Department:
    department = session.get(Department, code)
    if department is None:
        raise NotFoundError("code", f"no department {code!r}")
    return department


def list_departments(*, session: Session) -> Sequence[Department]:
    return session.exec(select(Department).order_by(col(Department.code))).all()


def update_department(
    *, session: Session, code: str, name: str | None = None, head: str | None = None
) -> Department:
    """Rename a department or change its head; the code is its identity and never changes."""
    _check_department_texts(name, head)
    department = get_department(session=session, code=code)
    if name is not None:
        department.name = name.strip()
    if head is not None:
        department.head = head
    session.add(department)
    session.commit()
    return department


# --- users ------------------------------------------------------------------------------------


def add_user(
    *,
    session: Session,
    username: str,
    password: str,
    role: Role | str,
    department: str | None = None,
) -> User:
    """A new active user; a department user's department is created if it does not exist yet."""
    _check_username(username)
    _check_password(password)
    parsed_role = _as_role(role)
    _check_role_department(parsed_role, department)
    if session.get(User, username) is not None:
        raise DuplicateError("username", f"user {username!r} already exists")
    if department is not None:
        _ensure_department(session, department)
    user = User(
        username=username,
        password_hash=hash_password(password),
        role=parsed_role.value,
        department=department,
        active=True,
        created_at=_now(),
    )
    session.add(user)
    # Two concurrent requests may both pass the check above; the primary key decides.
    _commit(session, DuplicateError("username", f"user {username!r} already exists"))
    return user


def _ensure_department(session: Session, code: str) -> None:
    _check_department_code(code)
    if session.get(Department, code) is not None:
        return
    session.add(_new_department(code, None, ""))
    try:
        # Flushed now so the user row's foreign key finds it within the same transaction.
        session.flush()
    except IntegrityError:
        # A concurrent request created it first, which is just as good. Nothing else is
        # pending yet (callers change their rows after this), so the rollback loses nothing.
        session.rollback()
        if session.get(Department, code) is None:
            raise


def get_user(*, session: Session, username: str) -> User:
    user = session.get(User, username)
    if user is None:
        raise NotFoundError("username", f"no user {username!r}")
    return user


def list_users(
    *, session: Session, department: str | None = None, active: bool | None = None
) -> Sequence[User]:
    query = select(User).order_by(col(User.username))
    if department is not None:
        query = query.where(User.department == department)
    if active is not None:
        query = query.where(User.active == active)
    return session.exec(query).all()


def authenticate(*, session: Session, username: str, password: str) -> User | None:
    """The active user with these credentials, or None — in about the same time either way."""
    user = session.get(User, username)
    if user is None or not user.active:
        spend_verification_time(password)
        return None
    if not verify_password(user.password_hash, password):
        return None
    if needs_rehash(user.password_hash):
        # The hasher's parameters were raised since this hash was made; upgrade it while we
        # hold the plain password, the only moment we can.
        user.password_hash = hash_password(password)
        session.add(user)
        session.commit()
    return user


def set_active(*, session: Session, username: str, active: bool) -> User:
    """Enable or disable a user; a disabled user's tokens stop working at the next request."""
    return update_user(session=session, username=username, active=active)


def update_user(
    *,
    session: Session,
    username: str,
    active: bool | None = None,
    role: Role | str | None = None,
    department: str | Unset | None = UNSET,
    password: str | None = None,
) -> User:
    """Change what is given; the result must satisfy the same rules as a new user.

    Moving a user out of the department role drops their department unless one is given
    (which is then an error), so an admin need not clear it in a second step.
    """
    user = get_user(session=session, username=username)
    new_role = _as_role(role) if role is not None else Role(user.role)
    if isinstance(department, Unset):
        new_department = user.department if new_role is Role.DEPARTMENT else None
    else:
        new_department = department
    _check_role_department(new_role, new_department)
    if password is not None:
        _check_password(password)
    new_active = user.active if active is None else active
    if (
        Role(user.role) is Role.ADMIN
        and user.active
        and (new_role is not Role.ADMIN or not new_active)
    ):
        _keep_one_admin(session, username)
    if new_department is not None and new_department != user.department:
        _ensure_department(session, new_department)
    user.role = new_role.value
    user.department = new_department
    user.active = new_active
    if password is not None:
        user.password_hash = hash_password(password)
    session.add(user)
    session.commit()
    return user


def _keep_one_admin(session: Session, leaving: str) -> None:
    """Refuse to disable or demote the last active admin: nobody could manage users after."""
    others = session.exec(
        select(func.count())
        .select_from(User)
        .where(User.role == Role.ADMIN.value, User.active == True, User.username != leaving)  # noqa: E712  (SQL, not Python)
    ).one()
    if others == 0:
        raise ConflictError("username", f"{leaving!r} is the last active admin")


def _commit(session: Session, on_conflict: UserError) -> None:
    try:
        session.commit()
    except IntegrityError:
        session.rollback()
        raise on_conflict from None
