"""The delivery activity: sends a project's pending notifications from the outbox.

Imported by workflow code (for the name and the input/output shapes), so this module imports
nothing beyond what the sandbox passes through; the sending machinery is imported when the
activity runs.
"""

from __future__ import annotations

from typing import TYPE_CHECKING

from pydantic import BaseModel
from sqlalchemy import Engine
from sqlmodel import Session
from temporalio import activity

if TYPE_CHECKING:
    from service.settings import Settings

DELIVER_NOTIFICATIONS = "deliver_notifications"


class DeliverInput(BaseModel):
    project_code: str


class DeliverResult(BaseModel):
    sent: int
    failed: int  # gave up on (after notification_max_attempts, or refused for good)
    pending: int  # left pending: another delivery holds them, or they arrived meanwhile
    captured: int = 0  # recorded without sending (notification_mode=capture)


class NotificationActivities:
    """Activities bound to the application database and the delivery settings."""

    def __init__(self, engine: Engine, settings: Settings) -> None:
        self._engine = engine
        self._settings = settings

    @activity.defn(name=DELIVER_NOTIFICATIONS)
    def deliver_notifications(self, inp: DeliverInput) -> DeliverResult:
        """Deliver what is pending for the project; a failing recipient never makes this fail.

        Retries with backoff happen inside (notification_max_attempts,
        notification_retry_delay_seconds), so the workflow's retry policy only covers the
        database being unreachable; a row ends `failed` rather than failing the activity.
        """
        from service.notifications import deliver

        with Session(self._engine, expire_on_commit=False) as session:
            counts = deliver(
                session,
                settings=self._settings,
                project_code=inp.project_code,
                heartbeat=activity.heartbeat,
            )
        return DeliverResult(
            sent=counts.sent, failed=counts.failed, pending=counts.pending, captured=counts.captured
        )
