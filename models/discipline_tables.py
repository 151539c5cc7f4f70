"""Leads on finished projects transferred to discipline inspection (移送纪检监察).

A project's own transfers are recorded by its workflow (`ProjectState.discipline_transfers`).
Once the project is completed or exited its workflow has ended and takes no more actions, yet
a lead may come years later (绩效终身责任追究): it is recorded here, append-only — the service
inserts rows and never updates or deletes one.
"""

from __future__ import annotations

from datetime import datetime

from sqlmodel import Field, SQLModel


class ClosedProjectTransfer(SQLModel, table=True):
    __tablename__ = "closed_project_transfer"

    id: int | None = Field(default=None, primary_key=True)
    code: str = Field(max_length=32, index=True)
    # f"{code}:{Idempotency-Key}": a retried request records the lead once.
    key: str = Field(max_length=200, unique=True)
    at: datetime
    actor: str = Field(max_length=64)
    role: str = Field(max_length=16)
    project_state: str = Field(max_length=32)  # completed or exited, when the lead was recorded
    fiscal_year: int | None = None
    reason: str = Field(max_length=4000)
    evidence: str = Field(max_length=500)
