"""SQLModel tables of notifications: the recipient directory and the outbox.

The directory says who sits at which desk (`models.notify.Desk`), so no address lives in code.
The outbox gets one row per (history entry, recipient), written in the same transaction as the
history entry itself; delivery (`service.notifications.deliver`) then works through it, so an
event is never announced without being recorded, nor recorded without being announced.
"""

from __future__ import annotations

from datetime import datetime
from typing import Any, Final, Literal

from sqlalchemy import JSON, Column, Index
from sqlmodel import Field, SQLModel

Channel = Literal["email", "webhook"]
CHANNELS: Final[tuple[Channel, ...]] = ("email", "webhook")

# pending → sending (claimed by one deliverer) → sent | failed; captured when the service only
# records what it would send (`notification_mode=capture`, the simulator).
NotificationStatus = Literal["pending", "sending", "sent", "failed", "captured"]
NOTIFICATION_STATUSES: Final[tuple[NotificationStatus, ...]] = (
    "pending",
    "sending",
    "sent",
    "failed",
    "captured",
)


class Recipient(SQLModel, table=True):
    """One person or system at a desk, reached through one channel."""

    __tablename__ = "notification_recipient"
    __table_args__ = (Index("ix_recipient_desk_department", "desk", "department"),)

    id: int | None = Field(default=None, primary_key=True)
    name: str = Field(max_length=100)  # for project_owner: the project's `owner`, as filed
    desk: str = Field(max_length=32)  # a `models.notify.Desk` value
    # None: every department (per-department desks), and always None for bureau-wide desks.
    # No foreign key: a department's mailbox may be registered before its first user creates
    # the department row.
    department: str | None = Field(default=None, max_length=32)
    channel: str = Field(max_length=16)  # a `Channel`
    address: str = Field(max_length=500)  # an e-mail address or an http(s) URL
    # The webhook's HMAC key. Write-only through the API; read only to sign a delivery.
    secret: str | None = Field(default=None, max_length=256)
    # History action names this recipient wants; None: all of them.
    events: list[str] | None = Field(default=None, sa_column=Column(JSON, nullable=True))
    active: bool = True
    created_at: datetime


class Notification(SQLModel, table=True):
    """One message to one recipient about one history entry; `key` makes it exist once."""

    __tablename__ = "notification"
    __table_args__ = (
        Index("ix_notification_project_status", "project_code", "status"),
        Index("ix_notification_status_id", "status", "id"),
    )

    id: int | None = Field(default=None, primary_key=True)
    # f"{project_code}:{seq}:{recipient_id}": the same entry projected twice (activity retry,
    # API write-through, rebuild) cannot make a second row; webhook receivers dedupe on it too.
    key: str = Field(max_length=128, unique=True)
    project_code: str = Field(max_length=32)
    seq: int
    event: str = Field(max_length=40)  # the history entry's action
    desk: str = Field(max_length=32)  # the audience desk that matched the recipient
    # No foreign key: channel and address are copied here so the row stays readable (and an
    # e-mail deliverable) after its recipient is edited or removed from the directory.
    recipient_id: int
    channel: str = Field(max_length=16)
    address: str = Field(max_length=500)
    payload: dict[str, Any] = Field(sa_column=Column(JSON, nullable=False))
    status: str = Field(default="pending", max_length=16)  # a `NotificationStatus`
    attempts: int = 0
    last_error: str | None = Field(default=None, max_length=500)  # never holds a secret
    # Who holds a 'sending' row since when: a deliverer that died holding it is recognised by
    # its age and the row goes back to pending (`notification_claim_timeout_seconds`).
    claimed_by: str | None = Field(default=None, max_length=32)
    claimed_at: datetime | None = None
    created_at: datetime
    sent_at: datetime | None = None
