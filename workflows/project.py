"""ProjectWorkflow: one project or policy from filing to completion or exit, over many years.

The workflow is a thin driver around `models.engine.Lifecycle`: the `act` update validates an
action (every unmet guard at once) and applies it; the main loop sleeps until the next fiscal
event (1 January: a budgeted year begins, an executing year ends), keeps the SQL projection up
to date through an activity, and continues as new at each fiscal-year boundary, carrying the
whole state in its input.
"""

from __future__ import annotations

import asyncio
import contextlib
from collections.abc import Callable
from datetime import datetime, timedelta
from typing import Any

from temporalio import workflow
from temporalio.common import RetryPolicy
from temporalio.exceptions import ActivityError, ApplicationError

with workflow.unsafe.imports_passed_through():
    from activities.notifications import DELIVER_NOTIFICATIONS, DeliverInput
    from activities.projection import PROJECT_SNAPSHOT, ProjectionInput, ProjectionResult
    from models.actions import PAYLOADS
    from models.calendar import FiscalCalendar
    from models.duties import LABEL_ZH as DUTY_LABEL_ZH
    from models.engine import ActionRejected, Lifecycle
    from models.engine_time import business_today, start_of_year
    from models.escalation import escalation_level
    from models.fiscal_notice import FISCAL_NOTICE_SIGNAL, FiscalNotice
    from models.fiscal_year import receive_notice
    from models.lifecycle import CYCLE_OPEN_STATES, PROJECT_FINAL_STATES, STATE_ZH
    from models.project_state import SYSTEM_ACTOR, ProjectState, entries_after
    from models.rules import Rules
    from models.vocabulary import Role
    from workflows import search_attributes as sa
    from workflows.act_contract import ROLLING_OVER, rejected_error, validated_payload

    # ActRequest is also this workflow's: callers import it from here with the workflow.
    from workflows.act_contract import ActRequest as ActRequest
    from workflows.project_contract import ActOutcome as ActOutcome
    from workflows.project_contract import ProjectView as ProjectView
    from workflows.project_contract import ProjectWorkflowInput as ProjectWorkflowInput


# Since this patch `act` answers without projecting: the API writes the action into the read
# model itself (`service.projects.take_action`), so an action costs one workflow task, as a bare
# update does. The main loop confirms the write WRITE_THROUGH_SETTLE later with one idempotent
# projection activity for the whole burst of actions, and so catches up on a write-through
# that never happened (an API that died after the update, a database that was down).
WRITE_THROUGH_PATCH = "projection-write-through"
WRITE_THROUGH_SETTLE = timedelta(seconds=2)
# Since this patch the confirmation waits for the burst to end (before, a stream of actions on
# one project was confirmed every WRITE_THROUGH_SETTLE: an activity, a visibility write and a
# projection write each time). The settle is WRITE_THROUGH_SETTLE; while actions keep coming it
# is extended, each time by twice as long as the last, and at most WRITE_THROUGH_SETTLE_LONGEST
# after the burst began the burst is confirmed anyway. An entry no action made (a clock event,
# a signal) ends the wait at once, as it needs projecting.
QUIET_BURST_PATCH = "projection-after-quiet-burst"
WRITE_THROUGH_SETTLE_LONGEST = timedelta(seconds=30)
# Since this patch the settle's timer, which runs out while actions keep coming, is never
# cancelled: a settle cut short is left to fire (a no-op wake); nor is the alarm when a run
# closes (the server drops a closed run's timers). Cancelling a timer that fired while the
# task that cancels it was with the worker is legal on a real server, but the time-skipping
# test server refuses that completion and never sends the task again (temporalio/sdk-java#3088):
# a loaded simulator (an action that ended a project 2 s after the one before it) stranded its
# workflow there.
SETTLE_TIMER_PATCH = "timers-left-to-fire"
# Since this patch a run continues as new once it has taken `rollover_after_updates` updates
# (500), even with actions not yet projected (the next run projects them first). Temporal
# refuses any update past 2,000 in one run (the client gets FAILED_PRECONDITION until the run
# ends), and each update costs the server more the more the run has taken (a bare update 9.2 ms
# after none, 11.9 ms after 1,000). A project takes a few dozen actions a year; a script
# hammering one took 2,000 in 27 s, and the old loop, which continued as new only with
# everything projected, never found a quiet moment in the stream to do so. Past
# `refuse_updates_after` (1,900) the validator refuses actions (nothing recorded; the API
# answers 503 with Retry-After) until the hand-over, which waits for deliveries in flight.
ROLLOVER_PATCH = "rollover-after-updates"


def workflow_id(code: str) -> str:
    return f"project-{code}"


@workflow.defn
class ProjectWorkflow:
    @workflow.init
    def __init__(self, inp: ProjectWorkflowInput) -> None:
        self._input = inp
        self._state = inp.project
        self._lifecycle = Lifecycle(self._state, inp.rules)
        self._projected_seq = inp.projected_seq
        self._run_year = business_today(self._now(), inp.rules).year
        self._search_attributes: dict[str, Any] = {}
        self._retimed = False  # a calendar change arrived: deadlines must be recomputed
        self._alarm: asyncio.Task[None] | None = None
        self._alarm_at: datetime | None = None
        self._rang = False  # the alarm went off: a deadline or fiscal event is due
        self._projecting_at_once = 0  # actions whose local projection is in flight
        self._acted_seq = 0  # the last history seq an action wrote (and the API writes through)
        self._write_through = False  # WRITE_THROUGH_PATCH holds for this run (see _writes_through)
        self._quiet_burst = False  # QUIET_BURST_PATCH holds for this run
        self._timers_left = False  # SETTLE_TIMER_PATCH holds for this run
        self._settle_timer: asyncio.Task[None] | None = None
        self._updates = 0  # updates this run has taken (each counts towards the server's limit)
        # (business now, history seq, rules) at which the `act` validator found no clock event
        # or rung due: the handler, run next in the same task, need not look again.
        self._nothing_due: tuple[datetime, int, Rules] | None = None
        self._rollover = False  # ROLLOVER_PATCH holds for this run
        self._acted_at: datetime | None = None  # business time of the last action (ditto)
        # Entries up to here are counted in `perfbudget_escalations_total` (by the run before
        # this one, which counts entries as it projects them; what it handed over unprojected,
        # ROLLOVER_PATCH, is counted here).
        self._counted_seq = inp.projected_seq
        # Deliveries run beside the main loop: a failing recipient never holds up a deadline.
        self._deliveries: set[asyncio.Task[None]] = set()

    # --- the main loop ----------------------------------------------------------------------

    @workflow.run
    async def run(self, inp: ProjectWorkflowInput) -> ProjectState:
        self._writes_through()
        self._quiet_burst = workflow.patched(QUIET_BURST_PATCH)
        self._timers_left = workflow.patched(SETTLE_TIMER_PATCH)
        self._rollover = workflow.patched(ROLLOVER_PATCH)
        while True:
            await self._let_the_api_write()
            self._lifecycle.advance_clock(self._now(), SYSTEM_ACTOR)
            self._publish()
            await self._project()
            if self._state.state in PROJECT_FINAL_STATES:
                break
            if self._rollover_due():
                # Actions that arrive meanwhile are carried over unprojected: the next run
                # projects them first (its `_let_the_api_write` has no action of its own).
                await workflow.wait_condition(workflow.all_handlers_finished)
                await self._deliveries_done()
                self._disarm()
                workflow.continue_as_new(self._next_input())
            if self._year_turned() or workflow.info().is_continue_as_new_suggested():
                await workflow.wait_condition(workflow.all_handlers_finished)
                await self._deliveries_done()
                if self._state.seq == self._projected_seq:  # nothing new arrived meanwhile
                    self._disarm()
                    workflow.continue_as_new(self._next_input())
                continue
            self._arm_alarm(self._next_wake())
            # Wake for anything new (an action may have ended the project, or opened a duty
            # whose deadline needs the alarm), once its own projection is done.
            await workflow.wait_condition(self._woken(self._state.seq))
            self._retimed = self._rang = False
        await workflow.wait_condition(workflow.all_handlers_finished)
        await self._project()
        await self._deliveries_done()
        self._disarm()
        return self._state

    def _now(self) -> datetime:
        return workflow.now() + timedelta(seconds=self._input.clock_offset_seconds)

    def _writes_through(self) -> bool:
        """Whether this run answers actions without projecting them (WRITE_THROUGH_PATCH).

        Asked first thing in the run (and by `act`, should an update come first): a run whose
        history was recorded before the patch keeps the old behaviour throughout.
        """
        self._write_through = workflow.patched(WRITE_THROUGH_PATCH)
        return self._write_through

    def _woken(self, seen: int) -> Callable[[], bool]:
        def woken() -> bool:
            changed = self._state.seq != seen
            if self._write_through:
                # Also what arrived while the last projection ran (its seq was seen already).
                changed = changed or self._state.seq > self._projected_seq
            changed = changed and not self._projecting_at_once
            return changed or self._retimed or self._rang or self._rollover_due()

        return woken

    def _arm_alarm(self, wake_at: datetime) -> None:
        """One timer for the next deadline or fiscal event, kept while that instant stands.

        A timer per turn of the loop would be cancelled and started again by every action:
        two more commands and events each time, and more work for the server.
        """
        if self._alarm is not None and not self._alarm.done() and self._alarm_at == wake_at:
            return
        if self._alarm is not None:
            self._alarm.cancel()
        self._alarm_at = wake_at
        self._alarm = asyncio.create_task(self._ring(wake_at))

    def _disarm(self) -> None:
        """Before the run closes: the alarm is dropped with the run (SETTLE_TIMER_PATCH)."""
        if self._alarm is not None and not self._timers_left:
            self._alarm.cancel()

    async def _ring(self, wake_at: datetime) -> None:
        await workflow.sleep(
            max(wake_at - self._now(), timedelta(milliseconds=1)),
            summary=f"next deadline or fiscal event {wake_at.isoformat()}",
        )
        self._rang = True

    def _year_turned(self) -> bool:
        return business_today(self._now(), self._input.rules).year > self._run_year

    def _next_wake(self) -> datetime:
        """The next fiscal event, or the next year's start (where this run hands over)."""
        boundary = start_of_year(self._run_year + 1, self._input.rules)
        event = self._lifecycle.next_clock_event(self._now())
        return min(boundary, event) if event else boundary

    def _next_input(self) -> ProjectWorkflowInput:
        return self._input.model_copy(
            update={"project": self._state, "projected_seq": self._projected_seq}
        )

    async def _project(self) -> None:
        """Bring the SQL read model up to this state (idempotent, keyed by history seq).

        Retries until the database answers: nothing accepted is ever missing from it.
        """
        await workflow.wait_condition(lambda: not self._projecting_at_once)
        if self._state.seq <= self._projected_seq:
            return
        self._count_escalations()
        seq = self._state.seq
        new = entries_after(self._state.history, self._projected_seq)
        result = await workflow.execute_activity(
            PROJECT_SNAPSHOT,
            ProjectionInput(project=self._without_history(), entries=new),
            result_type=ProjectionResult,
            start_to_close_timeout=timedelta(seconds=30),
            retry_policy=RetryPolicy(maximum_interval=timedelta(minutes=1)),
            summary=f"project {self._state.info.code} up to #{seq}",
        )
        self._projected(seq, result)

    async def _let_the_api_write(self) -> None:
        """Wait a moment before projecting what only actions added: the API writes each one
        through as it answers, and one activity then confirms a whole burst of them.

        What the clock or a signal added is projected at once (no API writes it), and so is
        a project that has just ended (its workflow is about to close).
        """
        only_actions = self._projected_seq < self._state.seq == self._acted_seq
        if not only_actions or self._ended() or self._rollover_due():
            return
        began = self._now()
        wait = WRITE_THROUGH_SETTLE
        while True:
            # An action that ends the project cuts the wait short: its workflow closes.
            await self._settle(wait)
            if not self._quiet_burst or self._settle_cut_short() or self._acted_at is None:
                return
            # While actions keep coming, wait twice as long each time (2, 4, 8, 16 s): a long
            # burst costs the server a few workflow tasks, never one per action (restarting a
            # timer would be two more commands and events for each). No timer either for the
            # last moments of a burst that is over (actions a few ms apart).
            now = self._now()
            left = began + WRITE_THROUGH_SETTLE_LONGEST - now
            quiet_in = self._acted_at + WRITE_THROUGH_SETTLE - now
            if min(left, quiet_in) < WRITE_THROUGH_SETTLE / 4:
                return
            wait = min(max(quiet_in, 2 * wait), left)

    async def _settle(self, wait: timedelta) -> None:
        """Wait `wait`, or less if the settle is cut short (see `_settle_cut_short`)."""
        summary = "confirm the API's write-through"
        if not self._timers_left:
            with contextlib.suppress(TimeoutError):
                await workflow.wait_condition(
                    self._settle_cut_short, timeout=wait, timeout_summary=summary
                )
            return
        # Held until it fires: a settle cut short leaves its timer to fire as a no-op wake.
        self._settle_timer = timer = asyncio.create_task(workflow.sleep(wait, summary=summary))
        await workflow.wait_condition(lambda: timer.done() or self._settle_cut_short())

    def _settle_cut_short(self) -> bool:
        """The project ended, or (QUIET_BURST_PATCH) something other than an action added to
        its history, which no API writes through."""
        if self._quiet_burst and self._state.seq != self._acted_seq:
            return True
        return self._ended() or self._rollover_due()

    def _ended(self) -> bool:
        return self._state.state in PROJECT_FINAL_STATES

    def _rollover_due(self) -> bool:
        """This run has taken enough updates to hand over to a new one (ROLLOVER_PATCH)."""
        return self._rollover and self._updates >= self._input.rollover_after_updates

    async def _project_at_once(self) -> None:
        """Project an action before answering it, as a local activity (runs recorded before
        WRITE_THROUGH_PATCH only). If the database does not answer within seconds, the main
        loop's retrying activity takes over and the action is answered anyway."""
        if self._state.seq <= self._projected_seq:
            return
        self._count_escalations()
        seq = self._state.seq
        new = entries_after(self._state.history, self._projected_seq)
        self._projecting_at_once += 1
        try:
            result = await workflow.execute_local_activity(
                PROJECT_SNAPSHOT,
                ProjectionInput(project=self._without_history(), entries=new),
                result_type=ProjectionResult,
                # Well inside the 10 s workflow task timeout: under a write storm on SQLite a
                # slow write hands over to the main loop's activity instead of holding the task.
                start_to_close_timeout=timedelta(seconds=2),
                schedule_to_close_timeout=timedelta(seconds=3),
                retry_policy=RetryPolicy(maximum_attempts=1),
                summary=f"project {self._state.info.code} up to #{seq}",
            )
        except (ActivityError, ApplicationError):
            # (A local activity that gave up surfaces as its ApplicationError.)
            workflow.logger.warning("projection deferred for %s", self._state.info.code)
            return
        finally:
            self._projecting_at_once -= 1
        self._projected(seq, result)

    def _count_escalations(self) -> None:
        """`perfbudget_escalations_total{level}` on the worker's SDK metrics endpoint, for the
        ladder rungs and warnings made since the last count.

        Counted here, where they are made, rather than by whichever writer projects them
        first (the API writes actions through): once each, as the workflow's metric meter
        stays silent while a history is replayed.
        """
        levels = [
            escalation_level(e.action, e.detail)
            for e in self._state.history
            if e.seq > self._counted_seq
        ]
        self._counted_seq = self._state.seq
        if not any(levels):
            return
        counter = workflow.metric_meter().create_counter(
            "perfbudget_escalations", "escalating history entries (ladder rungs, warnings)"
        )
        for level in levels:
            if level is not None:
                counter.add(1, {"level": level})

    def _projected(self, seq: int, result: ProjectionResult) -> None:
        self._projected_seq = max(self._projected_seq, seq)
        if result.pending_notifications:
            task = asyncio.create_task(self._deliver())
            self._deliveries.add(task)
            task.add_done_callback(self._deliveries.discard)

    async def _deliver(self) -> None:
        """Send what the projection just put in the outbox (the activity retries each send)."""
        try:
            await workflow.execute_activity(
                DELIVER_NOTIFICATIONS,
                DeliverInput(project_code=self._state.info.code),
                start_to_close_timeout=timedelta(minutes=5),
                heartbeat_timeout=timedelta(seconds=60),
                retry_policy=RetryPolicy(maximum_attempts=3),
                summary=f"notify about {self._state.info.code}",
            )
        except ActivityError:
            # Failed rows stay visible at GET /api/notifications?status=failed; the lifecycle
            # goes on regardless.
            workflow.logger.warning("notification delivery failed for %s", self._state.info.code)

    async def _deliveries_done(self) -> None:
        if self._deliveries:
            await asyncio.gather(*self._deliveries)

    def _without_history(self) -> ProjectState:
        return self._state.model_copy(update={"history": []})

    # --- what operators see -----------------------------------------------------------------

    def _publish(self) -> None:
        """Search attributes and current details, upserted only when they change."""
        info = self._state.info
        open_cycles = [c for c in self._state.cycles if c.state in CYCLE_OPEN_STATES]
        warning = self._state.warning
        grade = self._state.latest_grade.value if self._state.latest_grade else ""
        now = self._now()
        overdue = self._lifecycle.overdue(now)
        wanted: dict[str, Any] = {
            sa.PROJECT_CODE.name: info.code,
            sa.DEPARTMENT.name: info.department,
            sa.BUDGET_TYPE.name: info.budget_type.value,
            sa.LIFECYCLE_STATE.name: [self._state.state, *sorted({c.state for c in open_cycles})],
            sa.FISCAL_YEAR.name: self._run_year,
            sa.WARNING_LEVEL.name: warning.value,
            sa.GRADE.name: grade,
            sa.OVERDUE.name: bool(overdue),
        }
        if wanted != self._search_attributes:
            workflow.upsert_search_attributes(
                [
                    sa.PROJECT_CODE.value_set(info.code),
                    sa.DEPARTMENT.value_set(info.department),
                    sa.BUDGET_TYPE.value_set(info.budget_type.value),
                    sa.LIFECYCLE_STATE.value_set(wanted[sa.LIFECYCLE_STATE.name]),
                    sa.FISCAL_YEAR.value_set(self._run_year),
                    sa.WARNING_LEVEL.value_set(warning.value),
                    sa.GRADE.value_set(grade) if grade else sa.GRADE.value_unset(),
                    sa.OVERDUE.value_set(bool(overdue)),
                ]
            )
            self._search_attributes = wanted
        lines = [
            f"**{info.code}** {info.name} — {STATE_ZH[self._state.state]} ({self._state.state})",
        ]
        for c in self._state.cycles:
            grade_text = f", grade {c.grade.value}" if c.grade else ""
            lines.append(f"- {c.fiscal_year}: {c.state}, warning {c.warning.value}{grade_text}")
        duties = self._lifecycle.duties(now)
        if duties:
            lines.append("\nOpen duties:")
            late = {d.key for d in overdue}
            for d in duties:
                mark = " **OVERDUE**" if d.key in late else ""
                lines.append(
                    f"- {d.fiscal_year} {DUTY_LABEL_ZH[d.kind]} ({d.kind.value}, {d.owner.value})"
                    f" due {d.due.isoformat()}{mark}"
                )
        climbed = {k: v for k, v in self._state.escalations.items() if v}
        if climbed:
            lines.append(
                "\nEscalations so far: "
                + "; ".join(
                    f"{k} at {', '.join(f'{o:+d}d' for o in sorted(v))}" for k, v in climbed.items()
                )
            )
        if self._state.state not in PROJECT_FINAL_STATES:
            lines.append(f"\nNext wake-up: {self._next_wake().isoformat()}")
        if self._state.exit_proposed:
            lines.append("\nProposed for exit (two poor years in a row)")
        workflow.set_current_details("\n".join(lines))

    # --- commands and questions -------------------------------------------------------------

    @workflow.update
    async def act(self, request: ActRequest) -> ActOutcome:
        self._updates += 1
        now = self._now()
        before = self._state.seq
        if self._nothing_due != (now, before, self._input.rules):
            # (Validators do not run on replay: there this always looks, and finds the same.)
            self._lifecycle.advance_clock(now, SYSTEM_ACTOR)
        payload = PAYLOADS[request.action].model_validate(request.payload)
        try:
            self._lifecycle.execute(request.action, payload, actor=request.actor, now=now)
        except ActionRejected as rejected:
            raise rejected_error(rejected.rejection) from None
        self._lifecycle.advance_clock(now, SYSTEM_ACTOR)
        if self._writes_through():
            # The main loop publishes (search attributes, details) and projects after the
            # settle: one visibility write per burst of actions, not one per action.
            self._acted_seq = self._state.seq
            self._acted_at = now
        else:  # histories recorded before the patch published and projected every action
            self._publish()
            await self._project_at_once()
        return ActOutcome(
            project=self._without_history(),
            entries=entries_after(self._state.history, before),
        )

    @act.validator
    def _validate_act(self, request: ActRequest) -> None:
        """Reject before anything is recorded: an unknown action, a bad body, an unmet guard,
        or (retryable) one update too many for this run, which is about to hand over."""
        if self._updates >= self._input.refuse_updates_after:
            raise ApplicationError(
                f"this run has taken {self._updates} updates and is handing over to a new one",
                type=ROLLING_OVER,
            )
        payload = validated_payload(PAYLOADS, request)
        now = self._now()
        lifecycle = self._lifecycle
        if lifecycle.has_due(now):
            # Judge the action as the handler will: after the due clock events, on a copy.
            lifecycle = Lifecycle(self._state.model_copy(deep=True), self._input.rules)
            lifecycle.advance_clock(now, SYSTEM_ACTOR)
        else:
            self._nothing_due = (now, self._state.seq, self._input.rules)
        rejection = lifecycle.evaluate(
            request.action,
            payload,
            role=request.actor.role,
            today=business_today(now, self._input.rules),
            actor=request.actor,
        )
        if rejection is not None:
            raise rejected_error(rejection)

    @workflow.signal
    def update_calendar(self, calendar: FiscalCalendar) -> None:
        """A new fiscal calendar: deadlines (and their timers) move without a restart."""
        rules = self._input.rules.model_copy(update={"calendar": calendar})
        self._input = self._input.model_copy(update={"rules": rules})
        self._lifecycle.rules = rules
        self._retimed = True

    @workflow.signal(name=FISCAL_NOTICE_SIGNAL)
    def fiscal_notice(self, notice: FiscalNotice) -> None:
        """A call of the zone's fiscal year (`FiscalYearWorkflow`): a history entry, once.

        Clock events due first are applied first, so the history reads in time order; the main
        loop wakes on the new entry and projects it (and notifies the department).
        """
        now = self._now()
        self._lifecycle.advance_clock(now, SYSTEM_ACTOR)
        receive_notice(self._lifecycle, notice, now)

    @workflow.query
    def calendar(self) -> FiscalCalendar:
        """The fiscal calendar this project's deadlines follow now."""
        return self._input.rules.calendar

    @workflow.query
    def snapshot(self) -> ProjectState:
        return self._state

    @workflow.query
    def unprojected(self) -> int:
        """History entries not yet in the SQL read model (0 once the projection caught up):
        lets operators and tests wait for a deferred projection to land."""
        return self._state.seq - self._projected_seq

    @workflow.query
    def view(self) -> ProjectView:
        today = business_today(self._now(), self._input.rules)
        return ProjectView(
            project=self._state,
            allowed={
                role.value: self._lifecycle.allowed_actions(role=role, today=today)
                for role in (Role.DEPARTMENT, Role.FINANCE)
            },
        )
