"""The projection activity: keeps the SQL read model in step with a project workflow."""

from __future__ import annotations

from pydantic import BaseModel
from sqlalchemy import Engine
from sqlmodel import Session, col, func, select
from temporalio import activity

from models.escalation import escalation_level
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
            moved = apply_snapshot(session, project=inp.project, seq=seq, entries=inp.entries)
            pending = session.exec(
                select(func.count())
                .select_from(Notification)
                .where(
                    col(Notification.project_code) == inp.project.info.code,
                    col(Notification.status) == "pending",
                )
            ).one()
        if moved:
            _count_escalations(inp.entries)
        return ProjectionResult(pending_notifications=pending)


def _count_escalations(entries: list[HistoryEntry]) -> None:
    """`perfbudget_escalations_total{level}` on the worker's SDK metrics endpoint.

    Counted where they are written: the clock makes them inside the workflow, which the API
    never sees. Only a write that moved the read model forward counts, so an activity retried
    after its write (or the local and the regular projection of the same entries) does not
    count an entry twice.
    """
    levels = [escalation_level(e.action, e.detail) for e in entries]
    if not any(levels):
        return
    counter = activity.metric_meter().create_counter(
        "perfbudget_escalations", "escalating history entries (ladder rungs, warnings)"
    )
    for level in levels:
        if level is not None:
            counter.add(1, {"level": level})
