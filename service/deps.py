"""FastAPI dependencies as `Annotated` aliases: what a route may ask for by type.

Everything comes from `app.state`, set by `service.app.create_app` and its lifespan:
`settings`, `engine` (SQLAlchemy) and `temporal_client` (temporalio). Nothing here reads the
environment or opens global connections, so a test builds an app with its own of each.
"""

from __future__ import annotations

from collections.abc import AsyncIterator
from contextlib import asynccontextmanager
from dataclasses import dataclass
from typing import Annotated, Any

import structlog
from fastapi import Depends, Request
from fastapi.security import OAuth2PasswordBearer
from sqlalchemy import Engine, Table, bindparam, select
from sqlmodel import Session
from starlette.concurrency import run_in_threadpool
from temporalio.client import Client

from models.tables import User
from models.vocabulary import Role
from service.auth import InvalidTokenError, Principal, token_subject
from service.problems import Problem
from service.settings import Settings

TOKEN_URL = "/api/auth/token"  # noqa: S105  (a path, not a secret)

log = structlog.get_logger(__name__)

# auto_error=False: a missing token must become our 401 problem, not FastAPI's plain error.
# The scheme still documents the token URL in OpenAPI, so "Authorize" works in /docs.
_bearer = OAuth2PasswordBearer(tokenUrl=TOKEN_URL, auto_error=False)


# The dependencies below are `async def` although they never await: FastAPI runs a plain
# `def` dependency (and both ends of a `def` generator) in its thread pool, and each such trip
# costs an action a hand-off between threads for nothing.


async def get_settings(request: Request) -> Settings:
    settings: Settings = request.app.state.settings
    return settings


def _engine_of(request: Request) -> Engine:
    engine: Engine = request.app.state.engine
    return engine


async def get_engine(request: Request) -> Engine:
    return _engine_of(request)


@asynccontextmanager
async def request_session(request: Request) -> AsyncIterator[Session]:
    """A session for one request; service functions commit their own changes.

    Opening a session touches no database (it connects on first use). Closing one that holds
    a transaction rolls it back over the connection, so that happens in the thread pool; a
    session whose work was committed or closed already closes at once.

    Routes take it through `SessionDep`; the action route, the hottest, opens it itself
    (FastAPI's resolution of a generator dependency costs more than the session does).
    """
    # expire_on_commit=False: a route returns rows after the service function committed.
    session = Session(_engine_of(request), expire_on_commit=False)
    try:
        yield session
    finally:
        if session.in_transaction():
            await run_in_threadpool(session.close)
        else:
            session.close()


async def get_session(request: Request) -> AsyncIterator[Session]:
    async with request_session(request) as session:
        yield session


async def get_temporal_client(request: Request) -> Client:
    client: Client = request.app.state.temporal_client
    return client


SettingsDep = Annotated[Settings, Depends(get_settings)]
EngineDep = Annotated[Engine, Depends(get_engine)]
SessionDep = Annotated[Session, Depends(get_session)]
TemporalClientDep = Annotated[Client, Depends(get_temporal_client)]


def _unauthorized(detail: str) -> Problem:
    return Problem(
        status=401,
        title="Not authenticated",
        detail=detail,
        headers={"WWW-Authenticate": "Bearer"},
    )


_USERS: Table = User.__table__  # type: ignore[attr-defined]
# Every authenticated request runs this: a prebuilt Core statement (compiled once) on the
# session's connection, and only the columns a principal needs, not an ORM load of the row.
_ACTIVE_USER = select(_USERS.c.role, _USERS.c.department).where(
    _USERS.c.username == bindparam("username"), _USERS.c.active.is_(True)
)


def _active_principal(session: Session, username: str) -> Principal | None:
    found = session.connection().execute(_ACTIVE_USER, {"username": username}).first()
    if found is None:
        return None
    return Principal(username=username, role=Role(found.role), department=found.department)


@dataclass(frozen=True)
class Caller:
    """A caller whose token is valid and whose user row is still to be read.

    The row, not the token's claims, decides who the caller is: disabling a user or changing
    a role takes effect on the very next request. A route whose first database read runs in
    a thread anyway (taking an action) reads the row there too (`principal_in`), which saves
    the request a trip to the thread pool; others take `CurrentUser`.
    """

    username: str

    def principal_in(self, session: Session) -> Principal:
        """The caller as their user row has them now, read in `session` (blocking); 401 if the
        user is unknown or disabled. The caller binds the actor to the log context."""
        principal = _active_principal(session, self.username)
        if principal is None:
            log.info("token_rejected", reason="user unknown or disabled", username=self.username)
            raise _unauthorized("the token is invalid or has expired")
        return principal


def bind_actor(principal: Principal) -> None:
    """Name the actor in every later log line of the request, and in its access log line.

    Call it from the request's own context (an async function of the request): contextvars
    bound in a thread-pool function would be bound in a copy that is thrown away.
    """
    structlog.contextvars.bind_contextvars(actor=principal.username, role=principal.role.value)


async def get_caller(
    token: Annotated[str | None, Depends(_bearer)], settings: SettingsDep
) -> Caller:
    """The username a valid bearer token names, before their user row is read (401 if the
    token is missing, malformed, forged or expired)."""
    if not token:
        raise _unauthorized("a bearer token is required")
    try:
        return Caller(token_subject(token, settings))
    except InvalidTokenError as invalid:
        log.info("token_rejected", reason=str(invalid))
        raise _unauthorized("the token is invalid or has expired") from None


CallerDep = Annotated[Caller, Depends(get_caller)]


def _read_principal(session: Session, caller: Caller) -> Principal:
    try:
        return caller.principal_in(session)
    finally:
        # Give the connection back: a route that next waits on a thread or on a workflow
        # must not hold one meanwhile (enough such requests would starve the pool).
        session.close()


async def get_current_user(caller: CallerDep, session: SessionDep) -> Principal:
    """The caller, from a valid bearer token and their user row as it is now.

    Async on purpose, so that the actor is bound in the request's own context (`bind_actor`).
    """
    principal = await run_in_threadpool(_read_principal, session, caller)
    bind_actor(principal)
    return principal


CurrentUser = Annotated[Principal, Depends(get_current_user)]


def require_roles(*roles: Role) -> Any:  # Any: what FastAPI's own `Depends` returns
    """A dependency admitting only `roles`; others get a 403 problem.

    Returns `Depends(...)`, so it works both in `dependencies=[require_roles(Role.ADMIN)]`
    and as `Annotated[Principal, require_roles(Role.ADMIN)]`.
    """
    allowed = frozenset(roles)
    names = ", ".join(role.value for role in roles)

    async def check_role(principal: CurrentUser) -> Principal:
        if principal.role not in allowed:
            raise Problem(
                status=403,
                title="Forbidden",
                detail=f"this needs the role {names}; you are {principal.role.value}",
            )
        return principal

    return Depends(check_role)


AdminUser = Annotated[Principal, require_roles(Role.ADMIN)]
