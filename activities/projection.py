"""The projection activity: keeps the SQL read model in step with a project workflow."""

from __future__ import annotations

from pydantic import BaseModel
from sqlalchemy import Engine
from sqlmodel import Session
from temporalio import activity

from models.project_state import HistoryEntry, ProjectState
from service.projection import apply_snapshot

PROJECT_SNAPSHOT = "project_snapshot"


class ProjectionInput(BaseModel):
    project: ProjectState  # without history
    entries: list[HistoryEntry]  # the history entries not projected yet (ordered by seq)


class ProjectionActivities:
    """Activities bound to the application database's engine."""

    def __init__(self, engine: Engine) -> None:
        self._engine = engine

    @activity.defn(name=PROJECT_SNAPSHOT)
    def project_snapshot(self, inp: ProjectionInput) -> None:
        seq = inp.entries[-1].seq if inp.entries else 0
        with Session(self._engine, expire_on_commit=False) as session:
            apply_snapshot(session, project=inp.project, seq=seq, entries=inp.entries)
