"""The projection activity: keeps the SQL read model in step with a project workflow."""

from __future__ import annotations

from pydantic import BaseModel
from sqlalchemy import Engine
from sqlmodel import Session, col, func, select
from temporalio import activity

from models.notification_tables import Notification
from models.project_state import HistoryEntry, ProjectState
from service.projection import apply_snapshot

PROJECT_SNAPSHOT = "project_snapshot"


class ProjectionInput(BaseModel):
    project: ProjectState  # without history
    entries: list[HistoryEntry]  # the history entries not projected yet (ordered by seq)


class ProjectionResult(BaseModel):
    # Outbox rows of this project waiting for delivery: the workflow starts a delivery only
    # when there is something to deliver (most events have no subscribed recipient).
    pending_notifications: int


class ProjectionActivities:
    """Activities bound to the application database's engine."""

    def __init__(self, engine: Engine) -> None:
        self._engine = engine

    @activity.defn(name=PROJECT_SNAPSHOT)
    def project_snapshot(self, inp: ProjectionInput) -> ProjectionResult:
        seq = inp.entries[-1].seq if inp.entries else 0
        with Session(self._engine, expire_on_commit=False) as session:
            apply_snapshot(session, project=inp.project, seq=seq, entries=inp.entries)
            pending = session.exec(
                select(func.count())
                .select_from(Notification)
                .where(
                    col(Notification.project_code) == inp.project.info.code,
                    col(Notification.status) == "pending",
                )
            ).one()
        return ProjectionResult(pending_notifications=pending)
