"""DepartmentYearWorkflow: one department's fiscal year (部门整体绩效), id `department-<code>-<year>`.

A thin driver around `models.department_lifecycle.DepartmentYear`, in the style of
`ProjectWorkflow`: the `act` update validates an action (every unmet guard at once, in English
and Chinese) and applies it; `reserve` and `settle_reservation` hold project budget approvals
against the year's control number; the `fiscal_notice` signal records the zone's calls; the
main loop keeps the SQL projection up to date and ends once finance has reviewed the year.

Why reservations are updates here: Temporal runs one workflow's update handlers one at a time
on one state, so "is there room for this amount? then hold it" cannot interleave between two
finance officers approving two projects of the same department at once. The project's own
guard (`within_control_number`) then judges the facts this workflow answered.
"""

from __future__ import annotations

import asyncio
from collections.abc import Callable
from datetime import datetime, timedelta

from temporalio import workflow
from temporalio.common import RetryPolicy
from temporalio.exceptions import ActivityError, ApplicationError

with workflow.unsafe.imports_passed_through():
    from activities.department_projection import (
        DEPARTMENT_SNAPSHOT,
        DepartmentProjectionInput,
        DepartmentProjectionResult,
    )
    from activities.notifications import DELIVER_NOTIFICATIONS, DeliverInput
    from models.control_number import ControlFacts
    from models.department_actions import DEPARTMENT_PAYLOADS
    from models.department_lifecycle import FINAL_STATE, STATE_ZH, DepartmentYear
    from models.department_state import DepartmentYearState
    from models.engine import ActionRejected
    from models.engine_time import business_today
    from models.fiscal_notice import FISCAL_NOTICE_SIGNAL, FiscalNotice
    from models.project_state import entries_after
    from models.vocabulary import Role
    from workflows.act_contract import BAD_PAYLOAD, ActRequest, rejected_error, validated_payload
    from workflows.department_contract import AssessmentNoticeRequest as AssessmentNoticeRequest
    from workflows.department_contract import DepartmentActOutcome as DepartmentActOutcome
    from workflows.department_contract import DepartmentYearInput as DepartmentYearInput
    from workflows.department_contract import DepartmentYearView as DepartmentYearView
    from workflows.department_contract import ReserveRequest as ReserveRequest
    from workflows.department_contract import SettleRequest as SettleRequest

# Runs started before this patch have no deadlines: their histories replay without the timer.
DEADLINES_PATCH = "department-deadlines"
# Since this patch a run continues as new once it has taken `rollover_after_updates` updates,
# carrying what is not projected yet, as a project's does (`workflows.project.ROLLOVER_PATCH`):
# Temporal refuses any update past 2,000 in one run, and every project budget approval held
# against the control number is two updates here (reserve, settle). Without it the run handed
# over only when the server suggested it and every change was projected. Such a run also leaves
# its alarm to fire when it hands over or closes (the server drops a closed run's timers), as a
# project's does (`workflows.project.SETTLE_TIMER_PATCH`): cancelling a timer that fires while
# the task that cancels it is with the worker strands that task on the time-skipping test
# server (temporalio/sdk-java#3088), and a run handing over every few updates cancels far more.
ROLLOVER_PATCH = "department-rollover-after-updates"

# The same request as a project's `act` (the histories carry its fields, not its name).
DepartmentActRequest = ActRequest


def department_workflow_id(department: str, fiscal_year: int) -> str:
    return f"department-{department}-{fiscal_year}"


@workflow.defn
class DepartmentYearWorkflow:
    @workflow.init
    def __init__(self, inp: DepartmentYearInput) -> None:
        self._input = inp
        self._state = inp.year
        self._engine = DepartmentYear(self._state, inp.rules)
        self._projected_seq = inp.projected_seq
        self._deliveries: set[asyncio.Task[None]] = set()
        # Deadlines and their ladder: off for runs recorded before `DEADLINES_PATCH`.
        self._deadlines = False
        self._alarm: asyncio.Task[None] | None = None
        self._alarm_at: datetime | None = None
        self._rang = False  # the alarm went off: a rung of the ladder is due
        self._updates = 0  # updates this run has taken (each counts towards the server's limit)
        self._rollover = False  # ROLLOVER_PATCH holds for this run

    @workflow.run
    async def run(self, inp: DepartmentYearInput) -> DepartmentYearState:
        self._deadlines = workflow.patched(DEADLINES_PATCH)
        self._rollover = workflow.patched(ROLLOVER_PATCH)
        if self._deadlines and self._state.opened_at is None:
            self._state.opened_at = self._now()
        while True:
            self._advance_clock()
            self._publish()
            await self._project()
            if self._state.state == FINAL_STATE:
                break
            if self._rollover_due():
                # What arrives meanwhile is carried over unprojected; the next run projects it
                # first thing.
                await workflow.wait_condition(workflow.all_handlers_finished)
                await self._deliveries_done()
                self._closing()
                workflow.continue_as_new(self._next_input())
            if workflow.info().is_continue_as_new_suggested():
                await workflow.wait_condition(workflow.all_handlers_finished)
                await self._deliveries_done()
                if self._state.seq == self._projected_seq:
                    self._closing()
                    workflow.continue_as_new(self._next_input())
                continue
            if self._deadlines:
                self._arm_alarm(self._engine.next_deadline(self._now()))
            await workflow.wait_condition(self._woken(self._state.seq))
            self._rang = False
        await workflow.wait_condition(workflow.all_handlers_finished)
        await self._project()
        await self._deliveries_done()
        self._closing()
        return self._state

    def _woken(self, seen: int) -> Callable[[], bool]:
        return lambda: self._state.seq != seen or self._rang or self._rollover_due()

    def _rollover_due(self) -> bool:
        """This run has taken enough updates to hand over to a new one (ROLLOVER_PATCH)."""
        return self._rollover and self._updates >= self._input.rollover_after_updates

    def _advance_clock(self) -> None:
        if self._deadlines:
            self._engine.advance_clock(self._now())

    def _arm_alarm(self, wake_at: datetime | None) -> None:
        """One timer for the next rung, kept while that instant stands (as ProjectWorkflow's):
        a duty done, or none owed, cancels it."""
        if self._alarm is not None and not self._alarm.done() and self._alarm_at == wake_at:
            return
        self._disarm()
        self._alarm_at = wake_at
        self._alarm = None if wake_at is None else asyncio.create_task(self._ring(wake_at))

    def _closing(self) -> None:
        """Before the run hands over or closes: the alarm is left to the server, which drops a
        closed run's timers (ROLLOVER_PATCH); runs recorded before it cancelled it."""
        if not self._rollover:
            self._disarm()

    def _disarm(self) -> None:
        if self._alarm is not None:
            self._alarm.cancel()
            self._alarm = None

    async def _ring(self, wake_at: datetime) -> None:
        await workflow.sleep(
            max(wake_at - self._now(), timedelta(milliseconds=1)),
            summary=f"next deadline rung {wake_at.isoformat()}",
        )
        self._rang = True

    def _now(self) -> datetime:
        return workflow.now() + timedelta(seconds=self._input.clock_offset_seconds)

    def _next_input(self) -> DepartmentYearInput:
        return self._input.model_copy(
            update={"year": self._state, "projected_seq": self._projected_seq}
        )

    def _publish(self) -> None:
        info, year = self._state.info, self._state
        lines = [
            f"**{info.department}** {info.fiscal_year} — {STATE_ZH[year.state]} ({year.state})"
        ]
        if year.control_number is not None:
            lines.append(f"Control number {year.control_number.ceiling}, reserved {year.reserved}")
        if year.review is not None:
            lines.append(f"Reviewed: {year.review.final_score} ({year.review.grade.value})")
        workflow.set_current_details("\n".join(lines))

    async def _project(self) -> None:
        """Bring the SQL read model up to this state; retries until the database answers."""
        if self._state.seq <= self._projected_seq:
            return
        seq = self._state.seq
        new = entries_after(self._state.history, self._projected_seq)
        result = await workflow.execute_activity(
            DEPARTMENT_SNAPSHOT,
            DepartmentProjectionInput(year=self._without_history(), entries=new),
            result_type=DepartmentProjectionResult,
            start_to_close_timeout=timedelta(seconds=30),
            retry_policy=RetryPolicy(maximum_interval=timedelta(minutes=1)),
            summary=f"department {self._state.info.department} {self._state.info.fiscal_year}"
            f" up to #{seq}",
        )
        self._projected_seq = max(self._projected_seq, seq)
        if result.pending_notifications:
            task = asyncio.create_task(self._deliver())
            self._deliveries.add(task)
            task.add_done_callback(self._deliveries.discard)

    async def _deliver(self) -> None:
        try:
            await workflow.execute_activity(
                DELIVER_NOTIFICATIONS,
                # The outbox keys department notices by the department's code.
                DeliverInput(project_code=self._state.info.department),
                start_to_close_timeout=timedelta(minutes=5),
                heartbeat_timeout=timedelta(seconds=60),
                retry_policy=RetryPolicy(maximum_attempts=3),
                summary=f"notify department {self._state.info.department}",
            )
        except ActivityError:
            workflow.logger.warning(
                "notification delivery failed for department %s", self._state.info.department
            )

    async def _deliveries_done(self) -> None:
        if self._deliveries:
            await asyncio.gather(*self._deliveries)

    def _without_history(self) -> DepartmentYearState:
        return self._state.model_copy(update={"history": []})

    def _outcome(self, before: int) -> DepartmentActOutcome:
        return DepartmentActOutcome(
            year=self._without_history(),
            entries=entries_after(self._state.history, before),
        )

    # --- commands -------------------------------------------------------------------------

    @workflow.update
    async def act(self, request: DepartmentActRequest) -> DepartmentActOutcome:
        self._updates += 1
        now = self._now()
        before = self._state.seq
        payload = DEPARTMENT_PAYLOADS[request.action].model_validate(request.payload)
        # Rungs already due are recorded before the action that ends their duty.
        self._advance_clock()
        try:
            self._engine.execute(
                request.action,
                payload,
                actor=request.actor,
                today=business_today(now, self._input.rules),
                now=now,
            )
        except ActionRejected as rejected:
            raise rejected_error(rejected.rejection) from None
        return self._outcome(before)

    @act.validator
    def _validate_act(self, request: DepartmentActRequest) -> None:
        """Reject before anything is recorded: an unknown action, a bad body, an unmet guard."""
        payload = validated_payload(DEPARTMENT_PAYLOADS, request)
        rejection = self._engine.evaluate(
            request.action,
            payload,
            role=request.actor.role,
            today=business_today(self._now(), self._input.rules),
        )
        if rejection is not None:
            raise rejected_error(rejection)

    @workflow.update
    def reserve(self, request: ReserveRequest) -> ControlFacts:
        """Hold an approval's amount against the control number, or say why it does not fit."""
        self._updates += 1
        return self._engine.reserve(
            reservation_id=request.reservation_id,
            project_code=request.project_code,
            amount=request.amount,
            actor=request.actor,
            now=self._now(),
        )

    @reserve.validator
    def _validate_reserve(self, request: ReserveRequest) -> None:
        if self._state.state == FINAL_STATE:
            raise ApplicationError("the department year is closed", type=BAD_PAYLOAD)

    @workflow.update
    def settle_reservation(self, request: SettleRequest) -> bool:
        """Confirm (the project approved) or release (it refused) a held reservation."""
        self._updates += 1
        return self._engine.settle(
            reservation_id=request.reservation_id,
            confirmed=request.confirmed,
            actor=request.actor,
            now=self._now(),
        )

    @workflow.update
    def notify_assessment(self, request: AssessmentNoticeRequest) -> DepartmentActOutcome:
        """考核通报: record finance's notice to this department (delivered through the outbox)."""
        self._updates += 1
        before = self._state.seq
        self._engine.record_assessment_notice(
            detail=request.detail, actor=request.actor, now=self._now()
        )
        return self._outcome(before)

    @workflow.signal(name=FISCAL_NOTICE_SIGNAL)
    def fiscal_notice(self, notice: FiscalNotice) -> None:
        """A call of the zone's fiscal year (FiscalYearWorkflow), recorded once in the history."""
        self._engine.record_notice(notice, self._now())

    # --- questions ------------------------------------------------------------------------

    @workflow.query
    def snapshot(self) -> DepartmentYearState:
        return self._state

    @workflow.query
    def view(self) -> DepartmentYearView:
        today = business_today(self._now(), self._input.rules)
        return DepartmentYearView(
            year=self._state,
            allowed={
                role.value: self._engine.allowed_actions(role=role, today=today)
                for role in (Role.DEPARTMENT, Role.FINANCE)
            },
        )
