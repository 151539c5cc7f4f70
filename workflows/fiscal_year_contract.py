"""The shapes FiscalYearWorkflow takes and gives: its input (with what a run carries over
continue-as-new), the progress of a call being fanned out, and its report.

Kept out of `workflows.fiscal_year` and passed through to the sandbox, as
`workflows.project_contract` is for projects: the sandbox imports a workflow's own module
afresh for every workflow run and would build these pydantic classes again each time.
Callers import them from `workflows.fiscal_year`, as before.
"""

from __future__ import annotations

from datetime import datetime
from typing import Annotated

from pydantic import BaseModel, Field

from activities.fiscal_year import Target
from models.calendar import FiscalCalendar
from models.fiscal_notice import FiscalNotice, FiscalPhase


class FanOut(BaseModel):
    """A call being fanned out: where the next batch starts, and what was done so far."""

    notice: FiscalNotice
    target: Target = Target.PROJECTS
    cursor: str | None = None
    batches: int = 0
    signalled: int = 0
    skipped: int = 0


class Issued(BaseModel):
    """What became of one call of the year."""

    phase: FiscalPhase
    fiscal_year: int
    issued_at: datetime | None  # None: skipped, too late to issue
    batches: int = 0
    signalled: int = 0
    skipped: int = 0


class FiscalYearInput(BaseModel):
    # The calendar year this run covers; None: the business year when it starts.
    year: int | None = None
    # The calendar to follow; None: the one in force in the database (read at start).
    calendar: FiscalCalendar | None = None
    utc_offset_minutes: Annotated[int, Field(ge=-720, le=840)] = 480
    # A call overdue by more than this is skipped (a run started mid-year issues only what
    # is still timely).
    catch_up_days: Annotated[int, Field(ge=0, le=366)] = 30
    batch_size: Annotated[int, Field(ge=1, le=1000)] = 200
    # Continue as new once the history has this many events (well below Temporal's limits).
    max_history_events: Annotated[int, Field(ge=100)] = 10_000
    # Carried over continue-as-new.
    done: list[Issued] = []
    fan_out: FanOut | None = None
    # Seconds added to the server clock to get business time (tests and demos; 0 in production).
    clock_offset_seconds: float = 0


class FiscalYearReport(BaseModel):
    year: int
    calls: list[Issued]
