"""The shapes ProjectWorkflow takes and gives: its input, the `act` update's outcome, its view.

Kept out of `workflows.project` and passed through to the sandbox: the sandbox imports a
workflow's own module afresh for every workflow run (a start, a continue-as-new, a reload
into the cache), and building these pydantic classes each time was 7 % of the worker's CPU in
the fiscal-year benchmark. Callers import them from `workflows.project`, as before.
"""

from __future__ import annotations

from pydantic import BaseModel, Field, model_validator

from models.engine import AllowedAction
from models.project_state import HistoryEntry, ProjectState
from models.rules import Rules


class ProjectWorkflowInput(BaseModel):
    project: ProjectState
    rules: Rules = Rules()
    # Highest history seq already written to the SQL projection (carried over continue-as-new).
    projected_seq: int = 0
    # Seconds added to the server clock to get business time: 0 in production; lets tests and
    # demos run a scenario dated in the past on a clock that only moves forward.
    clock_offset_seconds: float = 0
    # Updates one run takes before it hands over to a new one, and after which it refuses more
    # until it has (see ROLLOVER_PATCH). Carried over continue-as-new.
    rollover_after_updates: int = Field(default=500, ge=1)
    refuse_updates_after: int = Field(default=1_900, ge=2)

    @model_validator(mode="after")
    def _refusing_only_after_rollover(self) -> ProjectWorkflowInput:
        if self.refuse_updates_after <= self.rollover_after_updates:
            raise ValueError("refuse_updates_after must be above rollover_after_updates")
        return self


class ActOutcome(BaseModel):
    """The update's result: the project after the action and the history it added."""

    project: ProjectState  # without history (it is in `entries` and the projection)
    entries: list[HistoryEntry]


class ProjectView(BaseModel):
    project: ProjectState
    allowed: dict[str, list[AllowedAction]]  # by role
