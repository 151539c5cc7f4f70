"""A project carried over from the previous system (存量项目): it enters this one mid-life.

A district that adopts perfbudget already has projects whose last fiscal year was budgeted and
executed elsewhere. Such a project starts its workflow with that year already closed, so the
duties it owes from that year (its self-evaluation, due 31 March of the next year) are judged
on the real clock like any other: if they are late, they are late today, and the escalation
ladder fires at once.

What was imported is said in the history, by the system actor, in two entries: the filing as
the previous system had it, and the closed year with its amounts and dates. Both are dated at
the import itself (this system learned of them then); the dates the previous system recorded
are in their details, and in the cycle's `entered` times, which the duty calendar reads.
"""

from __future__ import annotations

from datetime import UTC, date, datetime
from decimal import Decimal
from typing import Any

from pydantic import BaseModel, ConfigDict

from models.engine_time import start_of_year, zone
from models.indicators import Indicator
from models.project_state import SYSTEM_ACTOR, Cycle, HistoryEntry, ProjectInfo, ProjectState
from models.rules import Rules

IMPORT_ACTION = "carry_over"  # a history action only: nobody can take it through the API


def start_of_day(day: date, rules: Rules) -> datetime:
    """Local midnight of `day` in the zone's business time, in UTC."""
    return datetime.combine(day, datetime.min.time(), zone(rules)).astimezone(UTC)


class ClosedYear(BaseModel):
    """One fiscal year the previous system budgeted, executed and closed (31 December)."""

    model_config = ConfigDict(frozen=True)

    fiscal_year: int
    indicators: list[Indicator]
    approved_amount: Decimal
    executed_amount: Decimal
    approved_on: date  # when finance approved the budget in the previous system


def carried_over(
    info: ProjectInfo, year: ClosedYear, *, source: str, imported_at: datetime, rules: Rules
) -> ProjectState:
    """The project as it stood in the previous system: active, `year` closed, awaiting its
    self-evaluation; its two history entries say what was imported, from where and when."""
    approved_at = start_of_day(year.approved_on, rules)
    # The year ended when this system would have ended it: local midnight of 1 January.
    closed_at = start_of_year(year.fiscal_year + 1, rules)
    cycle = Cycle(
        fiscal_year=year.fiscal_year,
        state="closed",
        entered={"budget_approved": approved_at, "closed": closed_at},
        requested_amount=year.approved_amount,
        indicators=year.indicators,
        approved_amount=year.approved_amount,
        executed_amount=year.executed_amount,
    )
    imported: dict[str, Any] = {"imported_from": source, "imported_at": imported_at.isoformat()}
    history = [
        HistoryEntry(
            seq=1,
            at=imported_at,
            actor=SYSTEM_ACTOR.username,
            role=SYSTEM_ACTOR.role,
            action="file",
            fiscal_year=None,
            from_state="",
            to_state="filed",
            detail={
                **info.model_dump(mode="json", exclude={"department"}, exclude_none=True),
                **imported,
            },
        ),
        HistoryEntry(
            seq=2,
            at=imported_at,
            actor=SYSTEM_ACTOR.username,
            role=SYSTEM_ACTOR.role,
            action=IMPORT_ACTION,
            fiscal_year=year.fiscal_year,
            from_state="filed",
            to_state="active",
            detail={
                **imported,
                "cycle_state": "closed",
                "approved_on": year.approved_on.isoformat(),
                "closed_at": closed_at.isoformat(),
                "approved_amount": str(year.approved_amount),
                "executed_amount": str(year.executed_amount),
                "indicators": [i.code for i in year.indicators],
            },
        ),
    ]
    return ProjectState(
        info=info,
        state="active",
        entered={"active": approved_at},
        cycles=[cycle],
        history=history,
    )
