"""`perfbudget worker` killed with SIGKILL mid-lifecycle, twice, and started again.

First while a webhook delivery is inside the receiver (sent, not yet recorded as sent), then
while the projection activity waits inside its write transaction (SQLite held by another
writer). What the system guarantees, and what is asserted:

- every workflow goes on: actions taken between the kills apply once, in order;
- the projection converges on the workflow (an activity lost with its worker is retried by
  Temporal when its start-to-close timeout, 30 s, expires, and writes idempotently);
- notifications are delivered at least once, each under a stable key (`X-Perfbudget-Delivery`):
  a row that was marked `sent` is never sent again; the one row whose sender died mid-request
  is sent again once its claim is stale, and the receiver drops the repeat by its key.
"""

from __future__ import annotations

import sqlite3
import uuid
from collections.abc import Iterator
from contextlib import contextmanager
from datetime import UTC, datetime
from pathlib import Path
from typing import Any

from sqlmodel import Session, select
from temporalio.client import WorkflowHandle
from temporalio.testing import WorkflowEnvironment

from activities.projection import PROJECT_SNAPSHOT
from models.notification_tables import Notification
from models.notify import Desk
from models.project_state import ProjectState
from service.db import init_db
from service.notifications import create_recipient
from service.settings import Settings
from tests import factories as f
from tests.faults.support import (
    WEBHOOK_SECRET,
    WebhookReceiver,
    filed_project,
    notification_keys,
    pending_activity_started,
    projected_seq,
    projection_mismatches,
    snapshot,
    start_project,
    wait_until,
    worker_env,
    worker_processes,
)
from tests.workflows.scenarios import Scenario

# A 'sending' row older than this belongs to a dead deliverer and is sent again. It must exceed
# the longest healthy delivery (the receiver here answers at once, except the held request).
CLAIM_TIMEOUT_SECONDS = 3
# Start-to-close timeout of the projection activity (workflows/project.py) plus its first retry
# backoff and two worker start-ups on a busy machine.
CATCH_UP_SECONDS = 90


@contextmanager
def sqlite_write_lock(path: Path) -> Iterator[None]:
    """Hold SQLite's write lock: every other writer waits (busy timeout 30 s) until released."""
    connection = sqlite3.connect(path, isolation_level=None, timeout=30)
    try:
        connection.execute("BEGIN IMMEDIATE")
        yield
        connection.execute("ROLLBACK")
    finally:
        connection.close()


def outbox(database_url: str, code: str) -> list[Notification]:
    with Session(init_db(Settings(environment="test", database_url=database_url))) as session:
        return list(session.exec(select(Notification).where(Notification.project_code == code)))


async def test_worker_killed_mid_delivery_and_mid_projection(
    dev_env: WorkflowEnvironment, tmp_path: Path
) -> None:
    db_path = tmp_path / "app.db"
    database_url = f"sqlite:///{db_path}"
    engine = init_db(Settings(environment="test", database_url=database_url))
    task_queue = f"faults-{uuid.uuid4()}"
    code = f"KILL-{uuid.uuid4().hex[:6].upper()}"
    year = datetime.now(UTC).year + 1
    env = worker_env(
        temporal_address=dev_env.client.service_client.config.target_host,
        database_url=database_url,
        task_queue=task_queue,
        PERFBUDGET_NOTIFICATION_CLAIM_TIMEOUT_SECONDS=str(CLAIM_TIMEOUT_SECONDS),
        PERFBUDGET_NOTIFICATION_RETRY_DELAY_SECONDS="0.2",
    )
    receiver = WebhookReceiver()
    with receiver.running():
        with Session(engine) as session:
            recipient_id = create_recipient(
                session=session,
                name="department inbox",
                desk=Desk.DEPARTMENT,
                channel="webhook",
                address=receiver.url,
                secret=WEBHOOK_SECRET,
            ).id
        assert recipient_id is not None
        async with worker_processes(env, tmp_path) as start_worker:
            handle: WorkflowHandle[Any, Any] = await start_project(
                dev_env.client, task_queue, filed_project(code, year)
            )
            project = Scenario(env=dev_env, handle=handle)
            workers = [await start_worker()]

            def logs() -> str:
                return "\n".join(w.log_tail(15) for w in workers)

            # 1. Killed while a delivery is inside the receiver. `return_goals` notifies the
            #    department desk: one outbox row, whose request the receiver holds.
            receiver.hold_next()
            await project.act("submit")
            await project.act("submit_goals", f.goals(year))
            await project.act("return_goals", {"fiscal_year": year, "comment": "指标不够细化"})

            async def holding() -> bool:
                return receiver.holding

            await wait_until(
                holding, within=60, what="a delivery held by the receiver", context=logs
            )
            await workers[0].kill()
            receiver.release()  # the receiver finishes; its answer reaches no one
            (interrupted,) = outbox(database_url, code)
            assert interrupted.status == "sending", "the killed worker had claimed the row"
            assert receiver.received[interrupted.key] == 1

            # 2. Killed while the projection activity waits inside its write: the workflow
            #    accepts an action that notifies, whose projection cannot commit.
            workers.append(await start_worker())
            await project.act("submit_goals", f.goals(year))
            with sqlite_write_lock(db_path):
                before_lock = projected_seq(engine, code)
                await project.act("return_goals", {"fiscal_year": year, "comment": "仍需细化"})

                async def projecting() -> int:
                    return await pending_activity_started(handle, PROJECT_SNAPSHOT)

                await wait_until(
                    projecting, within=60, what="the projection activity to start", context=logs
                )
                await workers[1].kill()
                assert projected_seq(engine, code) == before_lock, "nothing was committed"

            # 3. A new worker: the workflow goes on and everything catches up.
            workers.append(await start_worker())
            await project.act("submit_goals", f.goals(year))
            state: ProjectState = await snapshot(handle)
            expected_keys = notification_keys(state, recipient_id)
            assert len(expected_keys) == 2

            async def converged() -> bool:
                if projection_mismatches(engine, state):
                    return False
                rows = outbox(database_url, code)
                return sorted(r.key for r in rows) == sorted(expected_keys) and all(
                    r.status == "sent" for r in rows
                )

            await wait_until(
                converged,
                within=CATCH_UP_SECONDS,
                what="the projection and the outbox to catch up",
                context=lambda: (
                    f"{projection_mismatches(engine, state)}\n"
                    f"{[(r.key, r.status) for r in outbox(database_url, code)]}\n{logs()}"
                ),
            )
            assert [e.action for e in state.history] == [
                "file",
                "submit",
                "submit_goals",
                "return_goals",
                "submit_goals",
                "return_goals",
                "submit_goals",
            ]
            assert state.cycle(year) is not None
            assert state.cycle(year).state == "goals_submitted"  # type: ignore[union-attr]

            # At least once, under a stable key, deduplicated by the receiver.
            rows = {r.key: r for r in outbox(database_url, code)}
            assert receiver.bad_signatures == 0
            assert sorted(receiver.processed) == sorted(expected_keys)  # each processed once
            assert receiver.received[interrupted.key] == 2  # re-sent after the crash, dropped
            assert rows[interrupted.key].attempts == 2
            for key in expected_keys:
                if key != interrupted.key:
                    assert receiver.received[key] == 1, "a row marked sent was sent again"
                    assert rows[key].attempts == 1
            await handle.terminate("test finished")
            await workers[-1].stop()
