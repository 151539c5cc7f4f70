"""The Temporal dev server stopped and started again on its database file: nothing is lost.

The embedded server (`perfbudget up`'s) keeps its state in `temporal.db`; a running `perfbudget
worker` process rides out the outage. Business time is shifted (`clock_offset_seconds`) so a
project's goals deadline falls a few seconds ahead: its overdue rung is a durable timer that
falls due while the server is down, and must fire once the server is back.
"""

from __future__ import annotations

import asyncio
import time
import uuid
from datetime import UTC, datetime, timedelta
from pathlib import Path
from typing import Any

from sqlmodel import Session, select
from temporalio.client import Client, WorkflowExecutionStatus, WorkflowHandle
from temporalio.contrib.pydantic import pydantic_data_converter

from models.engine_time import business_today
from models.project_state import HistoryEntry, ProjectState
from models.rules import Rules
from models.tables import HistoryRow
from service.db import engine_for, init_db
from service.devserver import EmbeddedTemporal
from service.settings import Settings
from service.temporal_client import core_runtime
from tests.faults.support import (
    active_project,
    free_port,
    goals_deadline_of,
    projection_mismatches,
    snapshot,
    start_project,
    task_queue_polled,
    wait_until,
    worker_env,
    worker_processes,
)


async def _entries(handle: WorkflowHandle[Any, Any], action: str) -> list[HistoryEntry]:
    return [e for e in (await snapshot(handle)).history if e.action == action]


async def test_timers_survive_a_dev_server_restart(tmp_path: Path) -> None:
    """Stop the dev server before two overdue rungs fall due, wait until the first has, start
    it again on the same database file: both workflows are still there, both rungs fire (once)
    on the worker that kept running, and the projection follows."""
    server = EmbeddedTemporal(
        data_dir=tmp_path / "temporal", port=free_port(), ui_port=free_port(), stop_timeout=15
    )
    database_url = f"sqlite:///{tmp_path / 'app.db'}"
    engine = init_db(Settings(environment="test", database_url=database_url))
    task_queue = f"faults-{uuid.uuid4()}"
    env = worker_env(
        temporal_address=server.address, database_url=database_url, task_queue=task_queue
    )
    year = business_today(datetime.now(UTC), Rules()).year
    due = goals_deadline_of(year)
    await server.start()
    try:
        client = await Client.connect(
            server.address, data_converter=pydantic_data_converter, runtime=core_runtime()
        )
        async with worker_processes(env, tmp_path) as start_worker:
            worker = await start_worker()
            await wait_until(
                lambda: task_queue_polled(client, task_queue),
                within=60,
                what="the worker to poll",
                context=worker.log_tail,
            )
            # Business time runs this many seconds before each deadline when the workflow
            # starts; the first falls due while the server is down, the second (normally)
            # after it is back.
            # (A few seconds are enough on an idle machine; the margin is for a loaded CI one,
            # where starting both and seeing their reminders once took longer than 10 s.)
            leads = {"RESTART-A": 18.0, "RESTART-B": 24.0}
            handles: dict[str, WorkflowHandle[Any, Any]] = {}
            started = time.monotonic()
            for code, lead in leads.items():
                offset = (due - timedelta(seconds=lead) - datetime.now(UTC)).total_seconds()
                handles[code] = await start_project(
                    client,
                    task_queue,
                    active_project(code, goals_deadline=due),
                    clock_offset_seconds=offset,
                )

            def logs() -> str:
                return worker.log_tail() + "\n" + server.log_tail(10)

            # The reminder (−7 days) was due at once: the worker ran each workflow, which now
            # sleeps on the overdue rung's timer.
            for handle in handles.values():
                await wait_until(
                    lambda h=handle: _entries(h, "reminder"),  # type: ignore[misc]
                    within=30,
                    what="the reminder of the goals duty",
                    context=logs,
                )
            for handle in handles.values():
                assert await _entries(handle, "overdue") == []
            await server.stop()
            assert time.monotonic() - started < leads["RESTART-A"], (
                "the server was stopped after the first rung fell due; the test proves nothing"
            )
            # Down until the first rung has fallen due (a wall-clock instant, nothing to poll).
            remaining = leads["RESTART-A"] - (time.monotonic() - started)
            await asyncio.sleep(remaining + 0.5)
            await server.start()
            assert worker.alive, logs()

            for code, handle in handles.items():
                overdue = await wait_until(
                    lambda h=handle: _entries(h, "overdue"),  # type: ignore[misc]
                    within=45,
                    what=f"the overdue rung of {code} after the restart",
                    context=logs,
                )
                assert len(overdue) == 1
                assert overdue[0].detail["duty"] == "goals"
                description = await handle.describe()
                assert description.status is WorkflowExecutionStatus.RUNNING
            # Same history as before the restart, plus the rung: nothing lost, nothing twice.
            for handle in handles.values():
                state = await snapshot(handle)
                assert [e.action for e in state.history] == [
                    "file",
                    "submit",
                    "reminder",
                    "overdue",
                ]

                async def projected(s: ProjectState = state) -> bool:
                    return not projection_mismatches(engine, s)

                await wait_until(projected, within=30, what="the projection", context=logs)
            with Session(engine_for(database_url)) as session:
                rungs = session.exec(select(HistoryRow).where(HistoryRow.action == "overdue"))
                assert sorted(r.code for r in rungs) == sorted(leads)
            for handle in handles.values():
                await handle.terminate("test finished")
            await worker.stop()
    finally:
        await server.stop()
