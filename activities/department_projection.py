"""The projection activity of the department years: keeps their SQL read model in step."""

from __future__ import annotations

from pydantic import BaseModel
from sqlalchemy import Engine
from sqlmodel import Session, col, func, select
from temporalio import activity

from models.department_state import DepartmentYearState
from models.notification_tables import Notification
from models.project_state import HistoryEntry

DEPARTMENT_SNAPSHOT = "department_year_snapshot"


class DepartmentProjectionInput(BaseModel):
    year: DepartmentYearState  # without history
    entries: list[HistoryEntry]


class DepartmentProjectionResult(BaseModel):
    pending_notifications: int


class DepartmentProjectionActivities:
    def __init__(self, engine: Engine) -> None:
        self._engine = engine

    @activity.defn(name=DEPARTMENT_SNAPSHOT)
    def department_year_snapshot(
        self, inp: DepartmentProjectionInput
    ) -> DepartmentProjectionResult:
        from service.department_projection import apply_department_snapshot

        seq = inp.entries[-1].seq if inp.entries else 0
        with Session(self._engine, expire_on_commit=False) as session:
            apply_department_snapshot(session, year=inp.year, seq=seq, entries=inp.entries)
            pending = session.exec(
                select(func.count())
                .select_from(Notification)
                .where(
                    col(Notification.project_code) == inp.year.info.department,
                    col(Notification.status) == "pending",
                )
            ).one()
        return DepartmentProjectionResult(pending_notifications=pending)
