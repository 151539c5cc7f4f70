"""What a simulation yields: the timeline items, the final state of every project and
department year, and the JSON object `perfbudget simulate` prints."""

from __future__ import annotations

import math
from datetime import datetime
from decimal import Decimal
from typing import Any

from pydantic import BaseModel, Field

Number = int | float


def json_number(value: Decimal | None) -> Number | None:
    if value is None:
        return None
    return int(value) if value == value.to_integral_value() else float(value)


class TimelineItem(BaseModel):
    at: datetime  # business time
    project: str | None = None  # none: a department year's item, or the zone's selection
    department: str | None = None  # a department year's item (with fiscal_year)
    # transition, rejected, notification, continued_as_new, key_evaluation_selection, or an
    # EventKind
    type: str
    action: str | None = None
    fiscal_year: int | None = None
    from_state: str | None = Field(default=None, serialization_alias="from")
    to_state: str | None = Field(default=None, serialization_alias="to")
    level: str | None = None
    to_whom: list[dict[str, Any]] | None = None
    actor: str | None = None
    seq: int  # the project's history seq the item belongs to (or follows)
    step: int | None = None  # the scenario step that caused it
    detail: dict[str, Any] = {}


class FinalCycle(BaseModel):
    fiscal_year: int
    state: str
    score: Number | None
    grade: str | None
    approved_amount: Number | None


class FinalProject(BaseModel):
    state: str
    cycles: list[FinalCycle]
    runs: int


class FinalDepartmentYear(BaseModel):
    state: str
    score: Number | None
    grade: str | None
    budget_amount: Number | None
    # The control number recorded for the year, line by line (`models.control_number`).
    control_number: dict[str, Any] | None
    reserved: Number  # what approvals hold or have taken against it


class Simulation(BaseModel):
    timeline: list[TimelineItem]
    final: dict[str, FinalProject]
    # Department years the scenario opened: department -> fiscal year (as text) -> its end.
    departments: dict[str, dict[str, FinalDepartmentYear]] = {}
    startup_seconds: float  # starting the test server (0 with a shared one)
    wall_seconds: float  # the run itself: worker, workflows, steps, collection
    virtual_years: float  # from start to until
    projects: int

    @property
    def years_per_second(self) -> float:
        return self.virtual_years / self.wall_seconds if self.wall_seconds else math.inf

    def output(self) -> dict[str, Any]:
        """The JSON object `perfbudget simulate` prints."""
        out: dict[str, Any] = {
            "timeline": [
                item.model_dump(mode="json", by_alias=True, exclude_none=True)
                for item in self.timeline
            ],
            "final": {code: p.model_dump(mode="json") for code, p in self.final.items()},
        }
        if self.departments:
            out["departments"] = {
                code: {year: y.model_dump(mode="json") for year, y in years.items()}
                for code, years in self.departments.items()
            }
        return out
