"""The lifecycle engine: pytransitions machines built from `models.lifecycle`, plus the guards.

One `Lifecycle` wraps one `ProjectState` for one workflow run (never shared: a machine keeps
references to its models). It answers "what is missing for this action?" with every unmet
precondition at once, executes an action when nothing is missing, and says which clock events
are due. It does no I/O and reads no clock: time comes in as an argument.
"""

from __future__ import annotations

from collections.abc import Callable
from dataclasses import dataclass
from datetime import UTC, date, datetime, timedelta, timezone
from typing import Any

from pydantic import BaseModel
from transitions import EventData, Machine

from models import actions as a
from models.effects import apply_effects
from models.guards import GUARDS, GuardContext
from models.lifecycle import (
    ACTIONS,
    PERSON_ACTIONS,
    ActionDef,
    Level,
    TransitionDef,
    actions_of,
    states_of,
)
from models.project_state import Actor, Cycle, HistoryEntry, ProjectState
from models.rules import Rules
from models.vocabulary import Role


class Unmet(BaseModel):
    guard: str
    message: str
    message_zh: str


class Rejection(BaseModel):
    action: str
    state: str
    fiscal_year: int | None
    unmet: list[Unmet]


class ActionRejected(Exception):  # noqa: N818  (a domain outcome, not an error of the program)
    """The action is not possible now; `rejection` lists everything that is missing."""

    def __init__(self, rejection: Rejection) -> None:
        super().__init__(
            f"{rejection.action} rejected: " + "; ".join(u.message for u in rejection.unmet)
        )
        self.rejection = rejection


class AllowedAction(BaseModel):
    action: str
    fiscal_year: int | None = None


def business_today(now: datetime, rules: Rules) -> date:
    """The calendar day in the zone's business time zone (China Standard Time by default)."""
    return now.astimezone(_zone(rules)).date()


def start_of_year(year: int, rules: Rules) -> datetime:
    """Local midnight of 1 January, in UTC: when a fiscal year begins (and the previous ends)."""
    return datetime(year, 1, 1, tzinfo=_zone(rules)).astimezone(UTC)


def _zone(rules: Rules) -> timezone:
    return timezone(timedelta(minutes=rules.utc_offset_minutes))


class _StateProxy:
    """The object a machine moves: reads and writes the `state` of a pydantic model in place."""

    def __init__(self, target: ProjectState | Cycle) -> None:
        self._target = target

    @property
    def state(self) -> str:
        return self._target.state

    @state.setter
    def state(self, value: str) -> None:
        self._target.state = value


def _condition(name: str) -> Callable[[EventData], bool]:
    guard = GUARDS[name]

    def holds(event: EventData) -> bool:
        return guard.check(event.kwargs["ctx"]) is None

    return holds


def _machine_transitions(level: Level) -> list[dict[str, Any]]:
    specs: list[dict[str, Any]] = []
    for action in actions_of(level):
        for t in action.transitions:
            spec: dict[str, Any] = {
                "trigger": action.name,
                "source": list(t.source),
                "dest": t.dest,
                "conditions": [_condition(g) for g in t.guards]
                + ([_condition(t.when)] if t.when else []),
            }
            if t.unless:
                spec["unless"] = [_condition(t.unless)]
            specs.append(spec)
    return specs


def _build_machine(level: Level) -> Machine:
    return Machine(
        model=[],
        states=list(states_of(level)),
        transitions=_machine_transitions(level),
        auto_transitions=False,
        send_event=True,
        initial=None,
    )


@dataclass(frozen=True)
class _Target:
    """What an action would move: the project, or one fiscal-year cycle (maybe not yet made)."""

    level: Level
    state: str | None  # None: the action names a year with no cycle and cannot create one
    cycle: Cycle | None
    fiscal_year: int | None


class Lifecycle:
    def __init__(self, project: ProjectState, rules: Rules) -> None:
        self.project = project
        self.rules = rules
        self._project_proxy = _StateProxy(project)
        self._project_machine = _build_machine(Level.PROJECT)
        self._project_machine.add_model(self._project_proxy, initial=project.state)
        self._cycle_machine = _build_machine(Level.CYCLE)
        self._cycle_proxies: dict[int, _StateProxy] = {}
        for cycle in project.cycles:
            self._attach(cycle)

    def _attach(self, cycle: Cycle) -> _StateProxy:
        proxy = _StateProxy(cycle)
        self._cycle_machine.add_model(proxy, initial=cycle.state)
        self._cycle_proxies[cycle.fiscal_year] = proxy
        return proxy

    # --- asking ---------------------------------------------------------------------------

    def _target(
        self, action: ActionDef, payload: a.Payload | None, fiscal_year: int | None
    ) -> _Target:
        if action.level is Level.PROJECT:
            return _Target(Level.PROJECT, self.project.state, None, None)
        year = payload.fiscal_year if isinstance(payload, a.YearPayload) else fiscal_year
        cycle = self.project.cycle(year) if year is not None else None
        if cycle is None and action.name == "submit_goals" and year is not None:
            # Goals create the cycle: judge them against a cycle still being drafted.
            cycle = Cycle(fiscal_year=year, state="goals_drafted")
            return _Target(Level.CYCLE, cycle.state, cycle, year)
        return _Target(Level.CYCLE, cycle.state if cycle else None, cycle, year)

    def _machine(self, level: Level) -> Machine:
        return self._project_machine if level is Level.PROJECT else self._cycle_machine

    def evaluate(
        self,
        action: str,
        payload: a.Payload | None,
        *,
        role: Role | None,
        today: date,
        fiscal_year: int | None = None,
    ) -> Rejection | None:
        """Everything that stops `action` now, or None when it may go ahead.

        With `payload=None` the guards that need a payload are assumed to hold: that answers
        "may this user do this now?" for listing allowed actions.
        """
        definition = ACTIONS[action]
        target = self._target(definition, payload, fiscal_year)
        ctx = GuardContext(
            project=self.project,
            fiscal_year=target.fiscal_year,
            cycle=target.cycle,
            payload=payload,
            today=today,
            rules=self.rules,
        )
        unmet: list[Unmet] = []
        if role is not None and role is not definition.role:
            unmet.append(
                Unmet(
                    guard="role",
                    message=f"only {definition.role.value} may {action}",
                    message_zh=f"仅{definition.role.value}角色可执行此操作",
                )
            )
        chosen = self._possible_transition(definition, target, ctx)
        if chosen is None:
            needed = " or ".join(definition.sources)
            where = (
                f"the project is '{target.state}'"
                if target.level is Level.PROJECT
                else f"fiscal year {target.fiscal_year} is '{target.state}'"
                if target.state
                else f"fiscal year {target.fiscal_year} has no goals yet"
            )
            unmet.append(
                Unmet(
                    guard="state",
                    message=f"{action} needs state {needed}; {where}",
                    message_zh=f"当前状态不允许此操作（需要：{needed}）",
                )
            )
            guard_names = definition.guards
        else:
            guard_names = chosen.guards
        for name in guard_names:
            guard = GUARDS[name]
            if guard.needs_payload and payload is None:
                continue
            if target.fiscal_year is None and target.level is Level.CYCLE:
                continue  # nothing to judge a year's guards against
            detail = guard.check(ctx)
            if detail is not None:
                unmet.append(Unmet(guard=name, message=detail, message_zh=guard.message_zh))
        if not unmet:
            return None
        return Rejection(
            action=action,
            state=self.project.state if target.level is Level.PROJECT else (target.state or "none"),
            fiscal_year=target.fiscal_year,
            unmet=unmet,
        )

    def _possible_transition(
        self, definition: ActionDef, target: _Target, ctx: GuardContext
    ) -> TransitionDef | None:
        """The arrow this action would take from the target's state, routing by when/unless."""
        if target.state is None:
            return None
        if definition.name not in self._machine(target.level).get_triggers(target.state):
            return None
        for t in definition.transitions:
            if target.state not in t.source:
                continue
            if t.when and GUARDS[t.when].check(ctx) is not None:
                continue
            if t.unless and GUARDS[t.unless].check(ctx) is None:
                continue
            return t
        return None

    def allowed_actions(self, *, role: Role, today: date) -> list[AllowedAction]:
        """What a user with `role` could do now (payload checks aside), year by year."""
        allowed: list[AllowedAction] = []
        for name in PERSON_ACTIONS:
            definition = ACTIONS[name]
            if definition.role is not role:
                continue
            if definition.level is Level.PROJECT:
                if self.evaluate(name, None, role=role, today=today) is None:
                    allowed.append(AllowedAction(action=name))
                continue
            years = {c.fiscal_year for c in self.project.cycles}
            if name == "submit_goals":
                years |= {today.year, today.year + 1}
            allowed.extend(
                AllowedAction(action=name, fiscal_year=year)
                for year in sorted(years)
                if self.evaluate(name, None, role=role, today=today, fiscal_year=year) is None
            )
        return allowed

    # --- doing ----------------------------------------------------------------------------

    def execute(
        self, action: str, payload: a.Payload, *, actor: Actor, now: datetime
    ) -> HistoryEntry:
        """Apply `action` if nothing is missing (else raise ActionRejected); record it."""
        today = business_today(now, self.rules)
        rejection = self.evaluate(action, payload, role=actor.role, today=today)
        if rejection is not None:
            raise ActionRejected(rejection)
        definition = ACTIONS[action]
        target = self._target(definition, payload, None)
        if definition.level is Level.PROJECT:
            proxy = self._project_proxy
        else:
            assert target.cycle is not None
            assert target.fiscal_year is not None
            if target.fiscal_year not in self._cycle_proxies:
                self.project.cycles.append(target.cycle)
                self.project.cycles.sort(key=lambda c: c.fiscal_year)
                self._attach(target.cycle)
            proxy = self._cycle_proxies[target.fiscal_year]
        ctx = GuardContext(
            project=self.project,
            fiscal_year=target.fiscal_year,
            cycle=target.cycle,
            payload=payload,
            today=today,
            rules=self.rules,
        )
        before = proxy.state
        fire: Callable[..., bool] = proxy.trigger  # type: ignore[attr-defined]  # set by Machine
        if not fire(action, ctx=ctx):
            # evaluate() and the machine read the same guards; disagreeing is a bug, not a user error.
            raise RuntimeError(f"machine refused {action} from {before} after validation passed")
        detail = apply_effects(action, ctx, now)
        entry = HistoryEntry(
            seq=self.project.seq + 1,
            at=now,
            actor=actor.username,
            role=actor.role,
            action=action,
            fiscal_year=target.fiscal_year,
            from_state=before,
            to_state=proxy.state,
            detail=detail,
        )
        self.project.history.append(entry)
        return entry

    def due_clock_events(self, now: datetime) -> list[tuple[str, a.Payload]]:
        """Clock-driven moves that are due: a budgeted year begins, an executing year ends,
        a project whose last results are applied completes."""
        today = business_today(now, self.rules)
        due: list[tuple[str, a.Payload]] = []
        for cycle in self.project.cycles:
            if cycle.state == "executing" and today.year > cycle.fiscal_year:
                due.append(("end_year", a.YearEnds(fiscal_year=cycle.fiscal_year)))
            elif cycle.state == "budget_approved" and today.year >= cycle.fiscal_year:
                due.append(("start_year", a.YearStarts(fiscal_year=cycle.fiscal_year)))
        if self.evaluate("complete", a.Complete(), role=Role.SYSTEM, today=today) is None:
            due.append(("complete", a.Complete()))
        return due

    def advance_clock(self, now: datetime, actor: Actor) -> list[HistoryEntry]:
        """Apply every due clock event (repeatedly: a year's end may make completion due)."""
        entries: list[HistoryEntry] = []
        while due := self.due_clock_events(now):
            entries.extend(
                self.execute(action, payload, actor=actor, now=now) for action, payload in due
            )
        return entries

    def next_clock_event(self, now: datetime) -> datetime | None:
        """When the clock next moves this project by itself (local midnight of a 1 January)."""
        today = business_today(now, self.rules)
        years = [c.fiscal_year + 1 for c in self.project.cycles if c.state == "executing"] + [
            c.fiscal_year
            for c in self.project.cycles
            if c.state == "budget_approved" and c.fiscal_year > today.year
        ]
        return start_of_year(min(years), self.rules) if years else None
