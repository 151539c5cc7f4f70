"""The Temporal worker: project and department-year workflows and the activities of their I/O."""

from __future__ import annotations

import asyncio
from collections.abc import Sequence
from concurrent.futures import ThreadPoolExecutor
from datetime import timedelta
from typing import Any

import structlog
from sqlalchemy import Engine
from temporalio.client import Client
from temporalio.worker import Worker
from temporalio.worker.workflow_sandbox import SandboxRestrictions

from activities.department_projection import DepartmentProjectionActivities
from activities.fiscal_year import FiscalYearActivities
from activities.notifications import NotificationActivities
from activities.projection import ProjectionActivities
from service.gc_tuning import settle_heap
from service.outbox_sweep import sweep_outbox
from service.sandbox_runner import DirectContextSandboxedWorkflowRunner
from service.schedules import ensure_fiscal_year_schedule
from service.settings import Settings
from workflows.department import DepartmentYearWorkflow
from workflows.fiscal_year import FiscalYearWorkflow
from workflows.project import ProjectWorkflow

log = structlog.get_logger(__name__)

WORKFLOWS: Sequence[type] = (ProjectWorkflow, FiscalYearWorkflow, DepartmentYearWorkflow)

# Pure modules the sandbox may share with the worker instead of re-importing per run:
# pytransitions (its Machine is built per run, never shared), pydantic, and our models.
PASSTHROUGH = (
    "transitions",
    "pydantic",
    "pydantic_core",
    "models",
    "activities",
    "sqlalchemy",
    "sqlmodel",
)


def workflow_runner() -> DirectContextSandboxedWorkflowRunner:
    return DirectContextSandboxedWorkflowRunner(
        restrictions=SandboxRestrictions.default.with_passthrough_modules(*PASSTHROUGH)
    )


def activities_for(engine: Engine, settings: Settings) -> list[Any]:
    projection = ProjectionActivities(engine)
    departments = DepartmentProjectionActivities(engine)
    notifications = NotificationActivities(engine, settings)
    fiscal_year = FiscalYearActivities(engine, settings)
    return [
        projection.project_snapshot,
        departments.department_year_snapshot,
        notifications.deliver_notifications,
        fiscal_year.calendar_in_force,
        fiscal_year.signal_batch,
        fiscal_year.release_disclosures,
    ]


def build_worker(
    client: Client,
    *,
    task_queue: str,
    engine: Engine,
    executor: ThreadPoolExecutor,
    settings: Settings | None = None,
    max_cached_workflows: int = 1000,
) -> Worker:
    """A worker for the project workflows and their activities.

    `settings` configure notification delivery; without them the environment's are read
    (a fresh `Settings()`, not the process-wide cache, so a test's environment applies).
    """
    settings = settings or Settings()
    return Worker(
        client,
        task_queue=task_queue,
        workflows=list(WORKFLOWS),
        activities=activities_for(engine, settings),
        activity_executor=executor,
        workflow_runner=workflow_runner(),
        # 0 turns off sticky queues: every task replays the history from the start.
        max_cached_workflows=max_cached_workflows,
        # On shutdown, let activities in hand finish (projection writes, deliveries) rather
        # than abandon them to their timeouts; after this they are cancelled and retried by
        # another worker.
        graceful_shutdown_timeout=timedelta(seconds=settings.worker_graceful_shutdown_seconds),
    )


async def run_worker(*, settings: Settings, client: Client, stop: asyncio.Event) -> None:
    """Run until `stop` is set, then shut down gracefully (finishing the tasks in hand)."""
    from service.db import open_db

    engine = open_db(settings)
    try:
        await ensure_fiscal_year_schedule(
            client,
            task_queue=settings.task_queue,
            utc_offset_minutes=settings.rules.utc_offset_minutes,
        )
    except Exception:
        # Projects keep their own deadlines; the zone's calls wait for the next start-up.
        log.exception("fiscal_year_schedule_failed")
    with ThreadPoolExecutor(max_workers=16, thread_name_prefix="activity") as executor:
        worker = build_worker(
            client,
            task_queue=settings.task_queue,
            engine=engine,
            executor=executor,
            settings=settings,
        )
        settle_heap(settings.gc_young_threshold)
        sweeper = asyncio.create_task(sweep_outbox(engine, settings, stop))
        try:
            async with worker:
                await stop.wait()
        finally:
            stop.set()
            await sweeper
