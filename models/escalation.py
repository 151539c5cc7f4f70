"""When the clock alone moves a project: ladder rungs of open duties and the idle-funds check.

Pure: given the state, the rules and an instant, which escalations are due (and not yet
fired), and when the next one falls. Each fires once — the state remembers the rung offsets
fired per duty — so a restart, a replay or a late wake-up never repeats or loses one.
"""

from __future__ import annotations

from collections.abc import Iterable, Iterator, Mapping
from dataclasses import dataclass
from datetime import datetime, timedelta
from decimal import Decimal
from typing import Any

from models.duties import Duty, deadline, open_duties
from models.engine_time import business_today
from models.ladder import Rung
from models.notify import Audience, Desk, EventKind
from models.project_state import ProjectState
from models.rules import Rules
from models.vocabulary import Role

PER_DEPARTMENT = frozenset({Desk.DEPARTMENT, Desk.DEPARTMENT_HEAD, Desk.PROJECT_OWNER})
IDLE_FUNDS_OFFSET = 0


@dataclass(frozen=True)
class Firing:
    at: datetime
    key: str  # escalation key: a duty key, or "idle_funds:<year>"
    offset: int
    duty: Duty | None  # None for the idle-funds check
    rung: Rung | None
    fiscal_year: int


def audiences(project: ProjectState, desks: tuple[Desk, ...] | list[Desk]) -> list[Audience]:
    department = project.info.department
    return [Audience(desk=d, department=department if d in PER_DEPARTMENT else None) for d in desks]


def rungs_for(duty: Duty, rules: Rules) -> tuple[Rung, ...]:
    return rules.ladder.finance if duty.owner is Role.FINANCE else rules.ladder.department


def ladder_firings(duties: Iterable[Duty], rules: Rules) -> Iterator[Firing]:
    """Every rung of every duty's ladder, at its instant: projects and department years alike."""
    offset = rules.utc_offset_minutes
    for duty in duties:
        end = deadline(duty.due, offset)
        for rung in rungs_for(duty, rules):
            yield Firing(
                at=end + timedelta(days=rung.offset_days),
                key=duty.key,
                offset=rung.offset_days,
                duty=duty,
                rung=rung,
                fiscal_year=duty.fiscal_year,
            )


def unfired_due(
    candidates: Iterable[Firing], fired: Mapping[str, list[int]], now: datetime
) -> list[Firing]:
    """The candidates whose time has come and that have not fired, in the order they fell due."""
    due = [f for f in candidates if f.at <= now and f.offset not in fired.get(f.key, [])]
    return sorted(due, key=lambda f: (f.at, f.key))


def next_unfired(
    candidates: Iterable[Firing], fired: Mapping[str, list[int]], now: datetime
) -> datetime | None:
    later = [f.at for f in candidates if f.at > now and f.offset not in fired.get(f.key, [])]
    return min(later, default=None)


def _candidates(project: ProjectState, rules: Rules, now: datetime) -> Iterator[Firing]:
    today = business_today(now, rules)
    yield from ladder_firings(open_duties(project, rules.calendar, today), rules)
    if project.state in ("active", "suspended"):
        for cycle in project.cycles:
            if cycle.state == "executing":
                check = rules.calendar.idle_funds_check.in_year(cycle.fiscal_year)
                yield Firing(
                    at=deadline(check, rules.utc_offset_minutes),
                    key=f"idle_funds:{cycle.fiscal_year}",
                    offset=IDLE_FUNDS_OFFSET,
                    duty=None,
                    rung=None,
                    fiscal_year=cycle.fiscal_year,
                )


def due_firings(project: ProjectState, rules: Rules, now: datetime) -> list[Firing]:
    """Escalations whose time has come and that have not fired, in the order they fell due."""
    return unfired_due(_candidates(project, rules, now), project.escalations, now)


def next_firing(project: ProjectState, rules: Rules, now: datetime) -> datetime | None:
    return next_unfired(_candidates(project, rules, now), project.escalations, now)


def is_overdue(duty: Duty, rules: Rules, now: datetime) -> bool:
    """Past the end of its due day in the zone's time: a project's or a department year's."""
    return deadline(duty.due, rules.utc_offset_minutes) <= now


def overdue_duties(project: ProjectState, rules: Rules, now: datetime) -> list[Duty]:
    today = business_today(now, rules)
    return [d for d in open_duties(project, rules.calendar, today) if is_overdue(d, rules, now)]


def execution_pct(approved: Decimal | None, executed: Decimal | None) -> Decimal:
    if not approved:
        return Decimal(0)
    return (Decimal(100) * (executed or Decimal(0)) / approved).quantize(Decimal("0.01"))


# History actions that escalate, counted per level by the workflow's metrics.
_LADDER_ACTIONS = frozenset(
    {EventKind.REMINDER, EventKind.OVERDUE, EventKind.ESCALATION, EventKind.ACCOUNTABILITY}
)


def escalation_level(action: str, detail: Mapping[str, Any]) -> str | None:
    """The `level` label of an escalating history entry, None for any other entry.

    The ladder's rungs by their kind (reminder, overdue, escalation, accountability) and
    monitoring warnings by colour (warning_yellow, warning_red).
    """
    if action == EventKind.WARNING:
        return f"warning_{detail.get('level', 'unknown')}"
    if action in _LADDER_ACTIONS:
        return action
    return None
