"""Project routes: file, list, read, act, history, diagram."""

from __future__ import annotations

from datetime import UTC, datetime
from typing import Annotated, Any

from fastapi import APIRouter, Body, Header, Query, Request, status

from models.project_state import ProjectFiling, ProjectState
from models.vocabulary import Grade, Role, WarningLevel
from service import calendar, projects
from service.deps import (
    CallerDep,
    CurrentUser,
    SessionDep,
    SettingsDep,
    TemporalClientDep,
    request_session,
    require_roles,
)
from service.diagram import project_diagrams

router = APIRouter(prefix="/api/projects", tags=["projects"])

IdempotencyKey = Annotated[
    str | None,
    Header(
        alias="Idempotency-Key",
        min_length=1,
        max_length=128,
        pattern=r"^[\x21-\x7e]+$",
        description="Retrying with the same key applies the action once and returns its outcome.",
    ),
]


@router.post(
    "",
    status_code=status.HTTP_201_CREATED,
    dependencies=[require_roles(Role.DEPARTMENT)],
)
async def file_project(
    filing: ProjectFiling,
    principal: CurrentUser,
    session: SessionDep,
    client: TemporalClientDep,
    settings: SettingsDep,
) -> projects.ProjectDetail:
    """File a project (or policy) for the caller's department; it starts in `filed`."""
    return await projects.file_project(
        session=session,
        client=client,
        settings=settings,
        principal=principal,
        filing=filing,
    )


@router.get("")
def list_projects(
    principal: CurrentUser,
    session: SessionDep,
    state: str | None = None,
    department: str | None = None,
    fiscal_year: Annotated[int | None, Query(ge=2000, le=2200)] = None,
    grade: Grade | None = None,
    warning: WarningLevel | None = None,
    page: Annotated[int, Query(ge=1, le=100_000)] = 1,
    page_size: Annotated[int, Query(ge=1, le=500)] = 50,
) -> projects.ProjectPage:
    """Projects the caller may see; `state` matches the project's or any year's state."""
    return projects.list_projects(
        session=session,
        principal=principal,
        state=state,
        department=department,
        fiscal_year=fiscal_year,
        grade=grade.value if grade else None,
        warning=warning.value if warning else None,
        page=page,
        page_size=page_size,
    )


@router.get("/{code}")
def get_project(
    code: str, principal: CurrentUser, session: SessionDep, settings: SettingsDep
) -> projects.ProjectDetail:
    """A project with its fiscal-year cycles and the actions the caller may take now."""
    row = projects.visible_row(session=session, principal=principal, code=code)
    rules = calendar.rules_in_force(session=session, settings=settings)
    return projects.project_detail(row, principal, now=datetime.now(UTC), rules=rules)


@router.post("/{code}/actions/{action}")
async def take_action(
    code: str,
    action: str,
    caller: CallerDep,
    request: Request,
    idempotency_key: IdempotencyKey = None,
    body: Annotated[dict[str, Any] | None, Body()] = None,
) -> projects.ProjectDetail:
    """Take an action; 409 lists every unmet precondition and changes nothing."""
    # The session, client and settings straight from the app, not as three more dependencies:
    # resolving them cost every action more than the session itself (a generator dependency
    # enters an exit stack and a cancel scope).
    state = request.app.state
    async with request_session(request) as session:
        return await projects.take_action(
            session=session,
            client=state.temporal_client,
            principal=caller,  # the user row is read with the project row, in one trip
            code=code,
            action=action,
            body=body,
            idempotency_key=idempotency_key,
            rules=None,  # read with the project row too
            settings=state.settings,
        )


@router.get("/{code}/history")
def get_history(
    code: str, principal: CurrentUser, session: SessionDep
) -> list[projects.HistoryView]:
    """Every accepted action and clock event, in order, with who took it."""
    return list(projects.history_or_404(session=session, principal=principal, code=code))


@router.get("/{code}/diagram")
def get_diagram(code: str, principal: CurrentUser, session: SessionDep) -> dict[str, Any]:
    """Mermaid state diagrams of the project and of each fiscal year, current states highlighted."""
    row = projects.visible_row(session=session, principal=principal, code=code)
    return project_diagrams(ProjectState.model_validate(row.snapshot))
