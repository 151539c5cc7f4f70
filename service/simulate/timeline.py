"""Collecting a run: the ordered timeline (history entries, notifications, rejections, run
boundaries, selections) and the final states, from the workflows and the read model."""

from __future__ import annotations

import asyncio
import math
from collections.abc import Mapping, Sequence
from dataclasses import dataclass
from datetime import UTC, datetime

from sqlalchemy import Engine
from sqlmodel import Session, col, select

from models.department_state import DepartmentYearState
from models.department_tables import DepartmentHistoryRow, DepartmentYearRow
from models.notification_tables import Notification
from models.notify import EventKind
from models.project_state import HistoryEntry, ProjectState
from service.notifications import PER_DEPARTMENT_DESKS
from service.simulate.results import (
    FinalCycle,
    FinalDepartmentYear,
    FinalProject,
    TimelineItem,
    json_number,
)
from service.simulate.run_state import FiledProject, RunState
from service.simulate.scenario import Step
from service.simulate.service_steps import request_key
from workflows.project import ProjectWorkflow, ProjectWorkflowInput

_EVENT_KINDS = frozenset(k.value for k in EventKind)
# Order of timeline items that share at, project and seq.
_RANK_ENTRY, _RANK_NOTIFICATION, _RANK_REJECTED, _RANK_CONTINUED = range(4)
# A timeline item with its sort key: at, lane, seq, rank among items of one seq, tiebreak.
_Keyed = tuple[tuple[datetime, str, int, int, int], TimelineItem]


class Timeline(RunState):
    async def collect(
        self, engine: Engine
    ) -> tuple[
        list[TimelineItem], dict[str, FinalProject], dict[str, dict[str, FinalDepartmentYear]]
    ]:
        lives = await asyncio.gather(*(self._life(p) for p in self._projects.values()))
        outbox = await asyncio.to_thread(_outbox, engine)
        keyed: list[_Keyed] = []
        final: dict[str, FinalProject] = {}
        for project, (state, boundaries) in zip(self._projects.values(), lives, strict=True):
            code = project.info.code
            final[code] = FinalProject(
                state=state.state,
                cycles=[
                    FinalCycle(
                        fiscal_year=c.fiscal_year,
                        state=c.state,
                        score=json_number(c.score),
                        grade=c.grade.value if c.grade else None,
                        approved_amount=json_number(c.approved_amount),
                    )
                    for c in state.cycles
                ],
                runs=len(boundaries) + 1,
            )
            keyed += self._entries(code, state.history, outbox)
            keyed += self._rejections(code, state.history)
            for run, (at, seq) in enumerate(boundaries, start=1):
                item = TimelineItem(
                    at=at,
                    project=code,
                    type="continued_as_new",
                    seq=seq,
                    detail={"from_run": run, "to_run": run + 1},
                )
                keyed.append(((at, code, seq, _RANK_CONTINUED, 0), item))
        years = await asyncio.to_thread(_department_years, engine)
        departments: dict[str, dict[str, FinalDepartmentYear]] = {}
        for year, history in years:
            info = year.info
            departments.setdefault(info.department, {})[str(info.fiscal_year)] = _final_year(year)
            keyed += self._department_entries(year, history)
        keyed += self._department_rejections()
        for step, recorded in self._selections:
            item = TimelineItem(
                at=step.at,
                type="key_evaluation_selection",
                action=step.action,
                fiscal_year=step.fiscal_year,
                actor=step.actor.username,
                seq=0,
                step=step.index,
                detail=recorded,
            )
            keyed.append(((step.at, "~zone", 0, _RANK_ENTRY, step.index), item))
        keyed.sort(key=lambda pair: pair[0])
        return [item for _key, item in keyed], final, departments

    def _step_for(self, code: str, entry: HistoryEntry) -> Step | None:
        """The scenario step that caused a project's history entry, if a step did."""
        step = self._step_of_entry.get((code, entry.seq))
        if step is not None:
            return step
        at = self._local(entry.at)
        refused = {r.step.index for r in self._rejected}
        for s in self._service_steps:
            if (
                s.index not in refused
                and s.project in (code, None)
                and s.department is None
                and (s.action, s.actor.username, s.at) == (entry.action, entry.actor, at)
                and (s.year is None or s.year == entry.fiscal_year)
            ):
                return s
        return None

    @staticmethod
    def _lane(department: str, fiscal_year: int) -> str:
        return f"~department {department} {fiscal_year}"  # after the projects of an instant

    def _department_entries(
        self, year: DepartmentYearState, history: Sequence[DepartmentHistoryRow]
    ) -> list[_Keyed]:
        code, fiscal_year = year.info.department, year.info.fiscal_year
        lane = self._lane(code, fiscal_year)
        keyed: list[_Keyed] = []
        for row in history:
            at = self._local(row.at)
            step = self._reserving_step(row) or next(
                (
                    s
                    for s in self._service_steps
                    if (s.department, s.fiscal_year) == (code, fiscal_year)
                    and (s.action, s.actor.username, s.at) == (row.action, row.actor, at)
                ),
                None,
            )
            item = TimelineItem(
                at=at,
                department=code,
                type="transition",
                action=row.action,
                fiscal_year=fiscal_year,
                from_state=row.from_state,
                to_state=row.to_state,
                actor=row.actor,
                seq=row.seq,
                step=step.index if step else None,
                detail=row.detail,
            )
            keyed.append(((at, lane, row.seq, _RANK_ENTRY, 0), item))
        return keyed

    def _reserving_step(self, row: DepartmentHistoryRow) -> Step | None:
        """The approval a reservation entry belongs to: its id ends in the step's request key."""
        reservation = row.detail.get("reservation_id")
        if not isinstance(reservation, str):
            return None
        return next(
            (s for s in self._service_steps if reservation.endswith(f":{request_key(s)}")), None
        )

    def _department_rejections(self) -> list[_Keyed]:
        keyed: list[_Keyed] = []
        for r in self._rejected:
            step = r.step
            if step.project is not None or step.department is None or step.fiscal_year is None:
                continue
            item = TimelineItem(
                at=step.at,
                department=step.department,
                type="rejected",
                action=step.action,
                fiscal_year=step.fiscal_year,
                actor=step.actor.username,
                seq=0,
                step=step.index,
                detail=r.detail,
            )
            lane = self._lane(step.department, step.fiscal_year)
            keyed.append(((step.at, lane, 0, _RANK_REJECTED, step.index), item))
        return keyed

    def _at(self, code: str, entry: HistoryEntry) -> datetime:
        """An entry's business time: a step's own instant, or the second its timer fired."""
        step = self._step_for(code, entry)
        if step is not None:
            return step.at
        return self._local(entry.at)

    def _entries(
        self,
        code: str,
        history: Sequence[HistoryEntry],
        outbox: Mapping[tuple[str, int], list[_Outbox]],
    ) -> list[_Keyed]:
        keyed = []
        for entry in history:
            at = self._at(code, entry)
            step = self._step_for(code, entry)
            kind = entry.action if entry.action in _EVENT_KINDS else "transition"
            level = entry.detail.get("level")
            item = TimelineItem(
                at=at,
                project=code,
                type=kind,
                action=entry.action,
                fiscal_year=entry.fiscal_year,
                from_state=entry.from_state,
                to_state=entry.to_state,
                level=level if isinstance(level, str) else None,
                to_whom=(
                    [a.model_dump(mode="json", exclude_none=True) for a in entry.notify]
                    if kind != "transition" and entry.notify
                    else None
                ),
                actor=entry.actor,
                seq=entry.seq,
                step=step.index if step else None,
                detail=entry.detail,
            )
            keyed.append(((at, code, entry.seq, _RANK_ENTRY, 0), item))
            keyed += self._notifications(code, entry, at, step, outbox.get((code, entry.seq), []))
        return keyed

    def _notifications(
        self,
        code: str,
        entry: HistoryEntry,
        at: datetime,
        step: Step | None,
        rows: Sequence[_Outbox],
    ) -> list[_Keyed]:
        """One item per outbox row of the entry; an audience nobody in the directory sits at
        still shows, without a recipient."""
        keyed: list[_Keyed] = []
        unclaimed = list(rows)
        department = self._projects[code].info.department
        for audience in entry.notify:
            whom = audience.model_dump(mode="json", exclude_none=True)
            if audience.desk in PER_DEPARTMENT_DESKS:
                whom.setdefault("department", department)
            mine = [r for r in unclaimed if r.desk == audience.desk.value]
            unclaimed = [r for r in unclaimed if r not in mine]
            deliveries = [({**whom, "recipient": r.address}, r.status) for r in mine]
            for to_whom, status in deliveries or [(whom, "no_recipient")]:
                item = TimelineItem(
                    at=at,
                    project=code,
                    type="notification",
                    action=entry.action,
                    fiscal_year=entry.fiscal_year,
                    to_whom=[to_whom],
                    seq=entry.seq,
                    step=step.index if step else None,
                    detail={"status": status},
                )
                keyed.append(((at, code, entry.seq, _RANK_NOTIFICATION, len(keyed)), item))
        return keyed

    def _rejections(self, code: str, history: Sequence[HistoryEntry]) -> list[_Keyed]:
        keyed = []
        for r in self._rejected:
            if r.step.project != code:
                continue
            # The seq the project was at: entries up to this instant, except those of steps
            # that ran after this one at the same instant, and what followed them.
            later = min(
                (
                    e.seq
                    for e in history
                    if (s := self._step_for(code, e)) is not None
                    and (s.at, s.index) > (r.step.at, r.step.index)
                ),
                default=math.inf,
            )
            seq = max(
                (e.seq for e in history if self._at(code, e) <= r.step.at and e.seq < later),
                default=0,
            )
            item = TimelineItem(
                at=r.step.at,
                project=code,
                type="rejected",
                action=r.step.action,
                fiscal_year=r.fiscal_year,
                actor=r.step.actor.username,
                seq=seq,
                step=r.step.index,
                detail=r.detail,
            )
            keyed.append(((r.step.at, code, seq, _RANK_REJECTED, r.step.index), item))
        return keyed

    async def _life(self, project: FiledProject) -> tuple[ProjectState, list[tuple[datetime, int]]]:
        """The project's state now, and each run boundary (business time, last seq)."""
        run_id = project.first_run
        boundaries: list[tuple[datetime, int]] = []
        converter = self._client.data_converter
        while True:
            handle = self._client.get_workflow_handle(project.handle.id, run_id=run_id)
            last = (await handle.fetch_history()).events[-1]
            if last.HasField("workflow_execution_continued_as_new_event_attributes"):
                attrs = last.workflow_execution_continued_as_new_event_attributes
                (carried,) = await converter.decode(
                    list(attrs.input.payloads), [ProjectWorkflowInput]
                )
                at = self._local(self._business(last.event_time.ToDatetime(tzinfo=UTC)))
                boundaries.append((at, carried.project.seq))
                run_id = attrs.new_execution_run_id
                continue
            state = await self._result(last)
            if state is None:
                state = await handle.query(ProjectWorkflow.snapshot)
            return state, boundaries


@dataclass(frozen=True)
class _Outbox:
    desk: str
    address: str
    status: str


def _department_years(
    engine: Engine,
) -> list[tuple[DepartmentYearState, list[DepartmentHistoryRow]]]:
    """Every department year of the run as its read model has it, with its history."""
    found = []
    with Session(engine) as session:
        rows = session.exec(
            select(DepartmentYearRow).order_by(
                col(DepartmentYearRow.department), col(DepartmentYearRow.fiscal_year)
            )
        ).all()
        for row in rows:
            history = session.exec(
                select(DepartmentHistoryRow)
                .where(
                    col(DepartmentHistoryRow.department) == row.department,
                    col(DepartmentHistoryRow.fiscal_year) == row.fiscal_year,
                )
                .order_by(col(DepartmentHistoryRow.seq))
            ).all()
            found.append((DepartmentYearState.model_validate(row.snapshot), list(history)))
    return found


def _final_year(year: DepartmentYearState) -> FinalDepartmentYear:
    review, own = year.review, year.self_evaluation
    score = review.final_score if review else own.score if own else None
    number = year.control_number
    return FinalDepartmentYear(
        state=year.state,
        score=json_number(score),
        grade=year.grade.value if year.grade else None,
        budget_amount=json_number(year.budget_amount),
        control_number=number.model_dump(mode="json") if number is not None else None,
        reserved=json_number(year.reserved) or 0,
    )


def _outbox(engine: Engine) -> dict[tuple[str, int], list[_Outbox]]:
    """The outbox rows by (project, history seq), in the order they were written."""
    found: dict[tuple[str, int], list[_Outbox]] = {}
    with Session(engine) as session:
        for row in session.exec(select(Notification).order_by(col(Notification.id))):
            key = (row.project_code, row.seq)
            found.setdefault(key, []).append(_Outbox(row.desk, row.address, row.status))
    return found
