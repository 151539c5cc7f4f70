"""`perfbudget worker` stopped with SIGTERM (a rollout, a scale-in) finishes the activity in hand.

A webhook delivery is inside the receiver when the worker is told to stop: the worker waits
for it (up to PERFBUDGET_WORKER_GRACEFUL_SHUTDOWN_SECONDS), records it as sent, and only then
exits 0. Nothing is sent twice, nothing is left `sending` for another worker to redo.
"""

from __future__ import annotations

import asyncio
import uuid
from datetime import UTC, datetime
from pathlib import Path
from typing import Any

from sqlmodel import Session, select
from temporalio.client import WorkflowHandle
from temporalio.testing import WorkflowEnvironment

from models.notification_tables import Notification
from models.notify import Desk
from service.db import init_db
from service.notifications import create_recipient
from service.settings import Settings
from tests import factories as f
from tests.faults.support import (
    WEBHOOK_SECRET,
    WebhookReceiver,
    filed_project,
    start_project,
    wait_until,
    worker_env,
    worker_processes,
)
from tests.workflows.scenarios import Scenario

# How long the receiver holds the request after the SIGTERM: the worker must still be there.
HELD_AFTER_SIGTERM_SECONDS = 2.0


async def test_sigterm_lets_the_delivery_in_hand_finish(
    dev_env: WorkflowEnvironment, tmp_path: Path
) -> None:
    database_url = f"sqlite:///{tmp_path / 'app.db'}"
    engine = init_db(Settings(environment="test", database_url=database_url))
    task_queue = f"graceful-{uuid.uuid4()}"
    code = f"TERM-{uuid.uuid4().hex[:6].upper()}"
    year = datetime.now(UTC).year + 1
    env = worker_env(
        temporal_address=dev_env.client.service_client.config.target_host,
        database_url=database_url,
        task_queue=task_queue,
        PERFBUDGET_WORKER_GRACEFUL_SHUTDOWN_SECONDS="30",
    )
    receiver = WebhookReceiver()
    with receiver.running():
        with Session(engine) as session:
            create_recipient(
                session=session,
                name="department inbox",
                desk=Desk.DEPARTMENT,
                channel="webhook",
                address=receiver.url,
                secret=WEBHOOK_SECRET,
            )
        async with worker_processes(env, tmp_path) as start_worker:
            handle: WorkflowHandle[Any, Any] = await start_project(
                dev_env.client, task_queue, filed_project(code, year)
            )
            project = Scenario(env=dev_env, handle=handle)
            worker = await start_worker()
            receiver.hold_next()
            await project.act("submit")
            await project.act("submit_goals", f.goals(year))
            await project.act("return_goals", {"fiscal_year": year, "comment": "指标不够细化"})

            async def holding() -> bool:
                return receiver.holding

            await wait_until(
                holding, within=60, what="a delivery held by the receiver", context=worker.log_tail
            )
            stopping = asyncio.create_task(worker.stop(grace=60))
            await asyncio.sleep(HELD_AFTER_SIGTERM_SECONDS)
            assert worker.alive, "the worker left with a delivery in hand"
            receiver.release()
            await stopping
            assert worker.process.returncode == 0, worker.log_tail()

    with Session(engine) as session:
        (row,) = session.exec(select(Notification).where(Notification.project_code == code))
    assert row.status == "sent", "the stopping worker recorded its delivery"
    assert receiver.received[row.key] == 1
