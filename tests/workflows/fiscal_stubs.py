"""FiscalYearWorkflow's activities replaced by recorders, for the time-skipping server (the
tests and the history recorder): the real fan-out runs on the dev server in tests/api."""

from __future__ import annotations

import contextlib
import uuid
from collections.abc import AsyncIterator
from contextlib import asynccontextmanager
from dataclasses import dataclass, field
from datetime import datetime

from temporalio import activity
from temporalio.testing import WorkflowEnvironment
from temporalio.worker import Worker

from activities.fiscal_year import (
    CALENDAR_IN_FORCE,
    RELEASE_DISCLOSURES,
    SIGNAL_BATCH,
    ReleaseInput,
    SignalBatchInput,
    SignalBatchResult,
    Target,
)
from models.calendar import FiscalCalendar
from models.fiscal_notice import FiscalPhase
from service.worker import workflow_runner
from tests.support.started import end_started
from workflows.fiscal_year import FiscalYearWorkflow


@dataclass
class Recorder:
    """Stands in for the fan-out: `project_batches` pages of projects, one of departments."""

    project_batches: int = 1
    calls: list[SignalBatchInput] = field(default_factory=list)
    released: list[ReleaseInput] = field(default_factory=list)

    @activity.defn(name=CALENDAR_IN_FORCE)
    async def calendar_in_force(self) -> FiscalCalendar:
        return FiscalCalendar()

    @activity.defn(name=RELEASE_DISCLOSURES)
    async def release(self, inp: ReleaseInput) -> None:
        self.released.append(inp)

    @activity.defn(name=SIGNAL_BATCH)
    async def signal_batch(self, inp: SignalBatchInput) -> SignalBatchResult:
        self.calls.append(inp)
        if inp.target is Target.DEPARTMENTS:
            return SignalBatchResult(signalled=1, skipped=0, next_cursor=None)
        page = int(inp.cursor or 0) + 1
        last = page >= self.project_batches
        return SignalBatchResult(
            signalled=inp.limit, skipped=1, next_cursor=None if last else str(page)
        )

    def issued(self) -> list[tuple[FiscalPhase, int, datetime]]:
        """Each call once, with its instant: the first batch of each."""
        return [
            (c.notice.phase, c.notice.fiscal_year, c.notice.issued_at)
            for c in self.calls
            if c.cursor is None and c.target is Target.PROJECTS
        ]


@asynccontextmanager
async def fiscal_year_worker(env: WorkflowEnvironment, recorder: Recorder) -> AsyncIterator[str]:
    """A worker on a fresh task queue; on the way out it cancels any fiscal-year run started
    there that is still open (a test that failed before its result), while it still runs."""
    task_queue = f"fy-{uuid.uuid4()}"
    async with Worker(
        env.client,
        task_queue=task_queue,
        workflows=[FiscalYearWorkflow],
        activities=[recorder.calendar_in_force, recorder.release, recorder.signal_batch],
        workflow_runner=workflow_runner(),
    ):
        try:
            yield task_queue
        except BaseException:
            # The failure is the news; the autouse guard names any workflow still open.
            with contextlib.suppress(Exception):
                await end_started(env.client, task_queue)
            raise
        await end_started(env.client, task_queue)
