"""Notifications: the outbox for finance and auditors to watch, and the recipient directory."""

from __future__ import annotations

from typing import Annotated

from fastapi import APIRouter, Path, Query, Response, status
from pydantic import BaseModel, ConfigDict, Field, SecretStr
from starlette.concurrency import run_in_threadpool

from models.notification_tables import Channel, NotificationStatus
from models.notify import Desk
from models.vocabulary import Role
from service import notifications
from service.deps import AdminUser, SessionDep, SettingsDep, require_roles
from service.problems import Problem
from service.users import UNSET

router = APIRouter(tags=["notifications"])

# The secret as a request field: SecretStr keeps it out of reprs, tracebacks and log lines.
Secret = Annotated[
    SecretStr, Field(min_length=notifications.MIN_SECRET, max_length=notifications.MAX_SECRET)
]
Events = Annotated[list[Annotated[str, Field(max_length=40)]], Field(max_length=100)]
# A row id as the database can hold it (INTEGER on PostgreSQL): a larger number from a path
# must be a 422, not an overflow inside the driver (a 500).
RowId = Annotated[int, Path(ge=1, le=2**31 - 1)]


class RecipientCreate(BaseModel):
    # forbid: a misspelt field ("adress") must be an error, not silently ignored.
    model_config = ConfigDict(extra="forbid")

    name: Annotated[str, Field(min_length=1, max_length=100)]
    desk: Desk
    department: str | None = None  # per-department desks only; None: every department
    channel: Channel
    address: Annotated[str, Field(min_length=1, max_length=500)]
    secret: Secret | None = None  # required for webhooks; never returned
    events: Events | None = None  # history action names; None: all
    active: bool = True


class RecipientUpdate(BaseModel):
    """Only the fields present change; `department`, `secret`, `events` may be set to null."""

    model_config = ConfigDict(extra="forbid")

    name: Annotated[str, Field(min_length=1, max_length=100)] | None = None
    desk: Desk | None = None
    department: str | None = None
    channel: Channel | None = None
    address: Annotated[str, Field(min_length=1, max_length=500)] | None = None
    secret: Secret | None = None
    events: Events | None = None
    active: bool | None = None


def notification_problem(
    error: notifications.NotificationError, *, location: str | None = "body"
) -> Problem:
    """The problem details for a broken rule about recipients or notifications.

    `location` prefixes the field as in validation errors (`body.secret`); None for a field
    of the stored resource itself (a notification's `status`).
    """
    if error.field == "id":
        location = "path"
    name = f"{location}.{error.field}" if location else error.field
    field = {"field": name, "reason": error.reason}
    if isinstance(error, notifications.NotFoundError):
        return Problem(status=404, title="Not found", detail=error.reason, errors=[field])
    if isinstance(error, notifications.ConflictError):
        return Problem(status=409, title="Conflict", detail=error.reason, errors=[field])
    return Problem(
        status=422,
        title="Invalid request",
        detail=f"the request is not valid: {name}",
        errors=[field],
    )


# --- the outbox -------------------------------------------------------------------------------


@router.get(
    "/api/notifications",
    dependencies=[require_roles(Role.FINANCE, Role.ADMIN, Role.AUDITOR)],
)
def list_notifications(
    session: SessionDep,
    status: NotificationStatus | None = None,
    project: Annotated[str | None, Query(max_length=32)] = None,
    page: Annotated[int, Query(ge=1, le=100_000)] = 1,
    page_size: Annotated[int, Query(ge=1, le=500)] = 50,
) -> notifications.NotificationPage:
    """Outbox rows, newest first; `status=failed` lists the deliveries that need attention."""
    return notifications.list_notifications(
        session, status=status, project=project, page=page, page_size=page_size
    )


@router.post(
    "/api/notifications/{notification_id}/retry",
    dependencies=[require_roles(Role.FINANCE, Role.ADMIN)],
)
async def retry_notification(
    notification_id: RowId, session: SessionDep, settings: SettingsDep
) -> notifications.NotificationPublic:
    """Put a failed notification back to pending and deliver it now; 409 unless it failed."""
    try:
        # Off the event loop: delivery talks to the network and waits between tries.
        row = await run_in_threadpool(
            notifications.retry_notification,
            session=session,
            settings=settings,
            notification_id=notification_id,
        )
    except notifications.NotificationError as error:
        raise notification_problem(error, location=None) from None
    return notifications.NotificationPublic.of(row)


# --- the directory ----------------------------------------------------------------------------


@router.get("/api/recipients")
def list_recipients(
    session: SessionDep,
    _: AdminUser,
    desk: Desk | None = None,
    department: str | None = None,
    active: bool | None = None,
) -> list[notifications.RecipientPublic]:
    """The directory: who sits at which desk, reached how (secrets are never shown)."""
    found = notifications.list_recipients(
        session=session, desk=desk, department=department, active=active
    )
    return [notifications.RecipientPublic.of(r) for r in found]


@router.post("/api/recipients", status_code=status.HTTP_201_CREATED)
def create_recipient(
    body: RecipientCreate, session: SessionDep, _: AdminUser
) -> notifications.RecipientPublic:
    """Add a recipient; a webhook needs a secret (at least 16 characters) to sign with."""
    try:
        recipient = notifications.create_recipient(
            session=session,
            name=body.name,
            desk=body.desk,
            department=body.department,
            channel=body.channel,
            address=body.address,
            secret=body.secret.get_secret_value() if body.secret else None,
            events=body.events,
            active=body.active,
        )
    except notifications.NotificationError as error:
        raise notification_problem(error) from None
    return notifications.RecipientPublic.of(recipient)


@router.patch("/api/recipients/{recipient_id}")
def update_recipient(
    recipient_id: RowId, body: RecipientUpdate, session: SessionDep, _: AdminUser
) -> notifications.RecipientPublic:
    """Change a recipient; a new secret replaces the old one."""
    given = body.model_fields_set
    try:
        recipient = notifications.update_recipient(
            session=session,
            recipient_id=recipient_id,
            name=body.name,
            desk=body.desk,
            department=body.department if "department" in given else UNSET,
            channel=body.channel,
            address=body.address,
            secret=(body.secret.get_secret_value() if body.secret else None)
            if "secret" in given
            else UNSET,
            events=body.events if "events" in given else UNSET,
            active=body.active,
        )
    except notifications.NotificationError as error:
        raise notification_problem(error) from None
    return notifications.RecipientPublic.of(recipient)


@router.delete("/api/recipients/{recipient_id}", status_code=status.HTTP_204_NO_CONTENT)
def delete_recipient(recipient_id: RowId, session: SessionDep, _: AdminUser) -> Response:
    """Remove a recipient; messages already sent stay in the outbox, unsent ones will fail."""
    try:
        notifications.delete_recipient(session=session, recipient_id=recipient_id)
    except notifications.NotificationError as error:
        raise notification_problem(error) from None
    return Response(status_code=status.HTTP_204_NO_CONTENT)
