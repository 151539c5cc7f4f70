"""The escalation ladder: what happens as a duty's deadline approaches and passes.

Offsets are days from the deadline (the end of the due day). Department duties climb
reminder → overdue notice → finance → leadership with an accountability record; finance's own
duties (reviews) climb to leadership. All of it is configurable.
"""

from __future__ import annotations

from typing import Annotated, Self

from pydantic import BaseModel, ConfigDict, Field, model_validator

from models.notify import Desk, EventKind


class Rung(BaseModel):
    model_config = ConfigDict(frozen=True, extra="forbid")

    offset_days: Annotated[int, Field(ge=-365, le=3650)]
    kind: EventKind
    to: tuple[Desk, ...]
    accountability: bool = False  # the rung also records 问责 against the responsible desk

    @model_validator(mode="after")
    def _a_ladder_kind(self) -> Self:
        if self.kind not in (EventKind.REMINDER, EventKind.OVERDUE, EventKind.ESCALATION):
            raise ValueError("a rung is a reminder, an overdue notice or an escalation")
        return self


def _rung(offset: int, kind: EventKind, *to: Desk, accountability: bool = False) -> Rung:
    return Rung(offset_days=offset, kind=kind, to=to, accountability=accountability)


class Ladder(BaseModel):
    model_config = ConfigDict(frozen=True, extra="forbid")

    department: tuple[Rung, ...] = (
        _rung(-7, EventKind.REMINDER, Desk.PROJECT_OWNER, Desk.DEPARTMENT),
        _rung(0, EventKind.OVERDUE, Desk.DEPARTMENT_HEAD),
        _rung(15, EventKind.ESCALATION, Desk.FINANCE),
        _rung(30, EventKind.ESCALATION, Desk.LEADERSHIP, accountability=True),
    )
    finance: tuple[Rung, ...] = (
        _rung(-7, EventKind.REMINDER, Desk.FINANCE),
        _rung(0, EventKind.OVERDUE, Desk.FINANCE),
        _rung(15, EventKind.ESCALATION, Desk.LEADERSHIP),
        _rung(30, EventKind.ESCALATION, Desk.LEADERSHIP, accountability=True),
    )

    @model_validator(mode="after")
    def _offsets_unique(self) -> Self:
        for rungs in (self.department, self.finance):
            offsets = [r.offset_days for r in rungs]
            if len(set(offsets)) != len(offsets):
                raise ValueError("two rungs of a ladder share an offset")
        return self
