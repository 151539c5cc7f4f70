"""The lifecycle engine: pytransitions machines built from `models.lifecycle`, plus the guards.

One `Lifecycle` wraps one `ProjectState` for one workflow run; each action is applied by a
machine built for it and dropped after it (never shared: a machine keeps references to its
models). It answers "what is missing for this action?" with every unmet
precondition at once, executes an action when nothing is missing, and says which clock events
are due. It does no I/O and reads no clock: time comes in as an argument.
"""

from __future__ import annotations

import functools
from collections.abc import Callable
from dataclasses import dataclass
from datetime import date, datetime
from typing import Any

from pydantic import BaseModel
from transitions import EventData

from models import actions as a
from models.duties import LABEL_ZH as DUTY_LABEL_ZH
from models.duties import Duty, DutyKind, open_duties
from models.effects import FollowUp, accountability, apply_effects
from models.engine_time import business_today, start_of_year
from models.escalation import (
    Firing,
    audiences,
    due_firings,
    execution_pct,
    next_firing,
    overdue_duties,
)
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
from models.notify import Audience, Desk, EventKind
from models.project_state import (
    SYSTEM_ACTOR,
    Actor,
    Cycle,
    HistoryEntry,
    ProjectState,
    entries_after,
)
from models.rules import Rules
from models.state_machines import HasState, StateProxy, build_machine, guard_holds
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


def _not_before(when: datetime, floor: datetime | None) -> datetime:
    return when if floor is None or when >= floor else floor


def _condition(name: str) -> Callable[[EventData], bool]:
    return guard_holds(GUARDS[name].check)


def _machine_transitions(level: Level) -> list[dict[str, Any]]:
    specs: list[dict[str, Any]] = []
    for action in actions_of(level):
        for t in action.transitions:
            spec: dict[str, Any] = {
                "trigger": action.name,
                "source": list(t.source),
                "dest": t.dest,
                "conditions": [_condition(g) for g in t.guards if not GUARDS[g].admission_only]
                + ([_condition(t.when)] if t.when else []),
            }
            if t.unless:
                spec["unless"] = [_condition(t.unless)]
            specs.append(spec)
    return specs


@functools.cache
def _trigger_transitions(level: Level, action: str) -> tuple[dict[str, Any], ...]:
    """The arrows of one trigger (pure data and guard functions: shared by every machine)."""
    return tuple(t for t in _machine_transitions(level) if t["trigger"] == action)


@functools.cache
def _trigger_states(level: Level, action: str) -> tuple[str, ...]:
    """The states one trigger's arrows leave or reach, in the level's order: all a machine for
    that trigger needs (a cycle has 11 states, most triggers touch two: half the build)."""
    touched = {s for t in _trigger_transitions(level, action) for s in (*t["source"], t["dest"])}
    return tuple(s for s in states_of(level) if s in touched)


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

    def _moved_by_machine(self, level: Level, action: str, target: HasState) -> StateProxy:
        """`target` attached to a new machine of `level` with `action`'s arrows only.

        Built for one action and dropped after it (~30 µs), not kept with the engine: two
        whole machines with their models were some 700 objects per cached workflow, in the
        heap that every full collection of the worker walks (seconds each, once a thousand
        workflows were cached). Judging actions (the API's allowed actions, the update's
        validator) needs no machine: it reads the same transition table directly.
        """
        proxy = StateProxy(target)
        machine = build_machine(
            _trigger_states(level, action), list(_trigger_transitions(level, action))
        )
        machine.add_model(proxy, initial=target.state)
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

    def evaluate(
        self,
        action: str,
        payload: a.Payload | None,
        *,
        role: Role | None,
        today: date,
        fiscal_year: int | None = None,
        actor: Actor | None = None,
        admitting: bool = True,
    ) -> Rejection | None:
        """Everything that stops `action` now, or None when it may go ahead.

        With `payload=None` the guards that need a payload are assumed to hold: that answers
        "may this user do this now?" for listing allowed actions. `admitting=False`: the
        action was admitted already (see `Guard.admission_only`), as when it is applied.
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
            actor=actor,
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
            if (guard.needs_payload and payload is None) or (
                guard.admission_only and not admitting
            ):
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
        # The action's own arrows are the machine's arrows for its trigger (see
        # `_machine_transitions`): one leaving the target's state is one the machine has.
        for t in definition.transitions:
            if target.state not in t.source:
                continue
            if t.when and GUARDS[t.when].check(ctx) is not None:
                continue
            if t.unless and GUARDS[t.unless].check(ctx) is None:
                continue
            return t
        return None

    def allowed_actions(
        self, *, role: Role, today: date, actor: Actor | None = None
    ) -> list[AllowedAction]:
        """What a user with `role` (or that very `actor`) could do now (payload checks aside),
        year by year."""
        allowed: list[AllowedAction] = []
        for name in PERSON_ACTIONS:
            definition = ACTIONS[name]
            if definition.role is not role:
                continue
            if definition.level is Level.PROJECT:
                if self.evaluate(name, None, role=role, today=today, actor=actor) is None:
                    allowed.append(AllowedAction(action=name))
                continue
            years = {c.fiscal_year for c in self.project.cycles}
            if name == "submit_goals":
                years |= {today.year, today.year + 1}
            allowed.extend(
                AllowedAction(action=name, fiscal_year=year)
                for year in sorted(years)
                if self.evaluate(name, None, role=role, today=today, fiscal_year=year, actor=actor)
                is None
            )
        return allowed

    # --- doing ----------------------------------------------------------------------------

    def execute(
        self, action: str, payload: a.Payload, *, actor: Actor, now: datetime
    ) -> HistoryEntry:
        """Apply `action` if nothing is missing (else raise ActionRejected); record it.

        The guards judged when the action was admitted only (`Guard.admission_only`) are not
        judged again: a replayed history applies what was accepted when it was recorded.
        """
        today = business_today(now, self.rules)
        rejection = self.evaluate(
            action, payload, role=actor.role, today=today, actor=actor, admitting=False
        )
        if rejection is not None:
            raise ActionRejected(rejection)
        definition = ACTIONS[action]
        target = self._target(definition, payload, None)
        if definition.level is Level.PROJECT:
            proxy = self._moved_by_machine(Level.PROJECT, action, self.project)
        else:
            assert target.cycle is not None
            assert target.fiscal_year is not None
            if self.project.cycle(target.fiscal_year) is None:  # goals create the cycle
                self.project.cycles.append(target.cycle)
                self.project.cycles.sort(key=lambda c: c.fiscal_year)
            proxy = self._moved_by_machine(Level.CYCLE, action, target.cycle)
        ctx = GuardContext(
            project=self.project,
            fiscal_year=target.fiscal_year,
            cycle=target.cycle,
            payload=payload,
            today=today,
            rules=self.rules,
            actor=actor,
        )
        before = proxy.state
        fire: Callable[..., bool] = proxy.trigger  # type: ignore[attr-defined]  # set by Machine
        if not fire(action, ctx=ctx):
            # evaluate() and the machine read the same guards; disagreeing is a bug, not a user error.
            raise RuntimeError(f"machine refused {action} from {before} after validation passed")
        if target.cycle is not None and definition.level is Level.CYCLE:
            if not definition.record_only:
                target.cycle.entered[proxy.state] = now  # relative deadlines count from here
        else:
            self.project.entered.setdefault(proxy.state, now)  # first activation starts duties
        applied = apply_effects(action, ctx, now)
        entry = HistoryEntry(
            seq=self.project.seq + 1,
            at=now,
            actor=actor.username,
            role=actor.role,
            action=action,
            fiscal_year=target.fiscal_year,
            from_state=before,
            to_state=proxy.state,
            detail=applied.detail,
            notify=applied.notify,
        )
        self.project.history.append(entry)
        for follow_up in applied.follow_ups:
            self._follow(follow_up, target.fiscal_year, now)
        return entry

    def _follow(self, follow_up: FollowUp, fiscal_year: int | None, now: datetime) -> HistoryEntry:
        if follow_up.record is not None:
            self.project.accountability.append(follow_up.record)
        return self.record_event(
            follow_up.kind.value, fiscal_year, follow_up.detail, follow_up.notify, now
        )

    def record_event(
        self,
        kind: str,
        fiscal_year: int | None,
        detail: dict[str, Any],
        notify: list[Audience],
        now: datetime,
    ) -> HistoryEntry:
        """A history entry that moves no state: a reminder, a warning, an escalation, 问责."""
        cycle = self.project.cycle(fiscal_year) if fiscal_year is not None else None
        state = cycle.state if cycle is not None else self.project.state
        entry = HistoryEntry(
            seq=self.project.seq + 1,
            at=now,
            actor="system",
            role=Role.SYSTEM,
            action=kind,
            fiscal_year=fiscal_year,
            from_state=state,
            to_state=state,
            detail=detail,
            notify=notify,
        )
        self.project.history.append(entry)
        return entry

    def due_clock_events(self, now: datetime) -> list[tuple[datetime, str, a.Payload]]:
        """Clock-driven moves that are due, each with the instant it fell due: a budgeted year
        begins, an executing year ends, a project whose last results are applied completes."""
        today = business_today(now, self.rules)
        due: list[tuple[datetime, str, a.Payload]] = []
        for cycle in self.project.cycles:
            year = cycle.fiscal_year
            if cycle.state == "executing" and today.year > year:
                due.append(
                    (start_of_year(year + 1, self.rules), "end_year", a.YearEnds(fiscal_year=year))
                )
            elif cycle.state == "budget_approved" and today.year >= year:
                due.append(
                    (start_of_year(year, self.rules), "start_year", a.YearStarts(fiscal_year=year))
                )
        if self.evaluate("complete", a.Complete(), role=Role.SYSTEM, today=today) is None:
            due.append((now, "complete", a.Complete()))
        return due

    def has_due(self, now: datetime) -> bool:
        """Whether `advance_clock(now)` would change anything."""
        return bool(self.due_clock_events(now) or due_firings(self.project, self.rules, now))

    def advance_clock(self, now: datetime, actor: Actor) -> list[HistoryEntry]:
        """Apply every due clock event and escalation, earliest first, each exactly once.

        Order matters after a long sleep (a worker down for weeks): the idle-funds check of
        31 October must see the year still executing, before 1 January closes it.
        """
        entries: list[HistoryEntry] = []
        while True:
            moves = self.due_clock_events(now)
            firings = due_firings(self.project, self.rules, now)
            if not moves and not firings:
                return entries
            first_move = min(moves, key=lambda m: m[0], default=None)
            # Each is recorded at the instant it fell due, not when a worker got to it, so the
            # history reads the same however late the wake-up was.
            # (never before the last entry: a deadline moved into the past fires now).
            last = self.project.history[-1].at if self.project.history else None
            if firings and (first_move is None or firings[0].at < first_move[0]):
                entries.extend(self._fire(firings[0], _not_before(firings[0].at, last)))
            else:
                assert first_move is not None
                due_at, action, payload = first_move
                before = self.project.seq
                self.execute(action, payload, actor=actor, now=_not_before(due_at, last))
                entries.extend(entries_after(self.project.history, before))

    def _fire(self, firing: Firing, now: datetime) -> list[HistoryEntry]:
        before = self.project.seq
        self.project.escalations.setdefault(firing.key, []).append(firing.offset)
        year, info = firing.fiscal_year, self.project.info
        if firing.duty is None:
            self._check_idle_funds(year, now)
        else:
            duty, rung = firing.duty, firing.rung
            assert rung is not None
            self.record_event(
                rung.kind.value,
                year,
                {
                    "duty": duty.kind.value,
                    "duty_zh": DUTY_LABEL_ZH[duty.kind],
                    "owner": duty.owner.value,
                    "due": duty.due.isoformat(),
                    "offset_days": rung.offset_days,
                    "to": [d.value for d in rung.to],
                },
                audiences(self.project, rung.to),
                now,
            )
            if rung.accountability:
                subject = (
                    f"department_head:{info.department}"
                    if duty.owner is Role.DEPARTMENT
                    else "finance"
                )
                self._follow(
                    accountability(
                        self.project,
                        year,
                        subject=subject,
                        reason=f"{duty.kind.value} {rung.offset_days} days overdue",
                        now=now,
                    ),
                    year,
                    now,
                )
            if rung.offset_days == 0 and duty.kind is DutyKind.RECTIFICATION and info.major:
                self._follow(
                    accountability(
                        self.project,
                        year,
                        subject=f"owner:{info.owner}",
                        reason="rectification overdue on a major project",
                        now=now,
                    ),
                    year,
                    now,
                )
            if (
                rung.offset_days == 0
                and duty.kind is DutyKind.WARNING_RESPONSE
                and self.project.state == "active"
            ):
                reason = f"red warning of {year} not answered by {duty.due.isoformat()}"
                self.execute(
                    "auto_suspend", a.AutoSuspend(reason=reason), actor=SYSTEM_ACTOR, now=now
                )
        return entries_after(self.project.history, before)

    def _check_idle_funds(self, year: int, now: datetime) -> None:
        """Money idle (资金闲置): execution below the threshold at the check date escalates."""
        cycle = self.project.cycle(year)
        assert cycle is not None
        pct = execution_pct(cycle.approved_amount, cycle.executed_amount)
        threshold = self.rules.calendar.idle_funds_threshold_pct
        if pct >= threshold:
            return
        self.record_event(
            EventKind.ESCALATION.value,
            year,
            {
                "reason": "idle_funds",
                "execution_pct": str(pct),
                "threshold_pct": str(threshold),
                "note": "funds may be recovered (收回统筹)",
                "to": [Desk.FINANCE.value, Desk.DEPARTMENT_HEAD.value],
            },
            audiences(self.project, [Desk.FINANCE, Desk.DEPARTMENT_HEAD]),
            now,
        )

    def next_clock_event(self, now: datetime) -> datetime | None:
        """When the clock next moves this project by itself (local midnight of a 1 January)."""
        today = business_today(now, self.rules)
        years = [c.fiscal_year + 1 for c in self.project.cycles if c.state == "executing"] + [
            c.fiscal_year
            for c in self.project.cycles
            if c.state == "budget_approved" and c.fiscal_year > today.year
        ]
        moments = [start_of_year(y, self.rules) for y in years]
        if (escalation := next_firing(self.project, self.rules, now)) is not None:
            moments.append(escalation)
        return min(moments, default=None)

    def overdue(self, now: datetime) -> list[Duty]:
        return overdue_duties(self.project, self.rules, now)

    def duties(self, now: datetime) -> list[Duty]:
        return open_duties(self.project, self.rules.calendar, business_today(now, self.rules))
