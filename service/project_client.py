"""Client-side operations on project workflows that are not API actions."""

from __future__ import annotations

import asyncio
import uuid
from typing import Any

from temporalio.client import WorkflowExecutionStatus, WorkflowHandle, WorkflowUpdateFailedError
from temporalio.service import RPCError, RPCStatusCode

from models.project_state import Actor
from models.vocabulary import Role
from workflows.project import ActRequest, ProjectWorkflow

# Attempts at the `exit` update before giving up on a workflow that stays open.
CLOSE_ATTEMPTS = 20


async def close_project(handle: WorkflowHandle[Any, Any], comment: str) -> None:
    """End a project workflow the way finance would (`exit`, reason cancelled), and wait.

    Tests and the simulator share one time-skipping server between scenarios and need their
    workflows gone afterwards; terminating one while a worker holds one of its tasks leaves
    that server's clock frozen for good, a normal exit does not. A no-op for a closed workflow.

    A failed update does not mean the workflow has ended: it may have been continuing as new,
    or the server may have been slow to answer under load. So the latest run is looked at
    after each failure, and the update is tried again (same id: applied once) until the
    workflow is closed; one that will not close is an error, never silently left running.
    `handle` must not be bound to a run (a continued workflow lives on in a newer one).
    """
    request = ActRequest(
        action="exit",
        payload={"reason": "cancelled", "comment": comment},
        actor=Actor(username="system", role=Role.FINANCE),
    )
    update_id = f"close-{uuid.uuid4()}"
    failure: BaseException | None = None
    for attempt in range(CLOSE_ATTEMPTS):
        if not await is_open(handle):
            return
        try:
            await handle.execute_update(ProjectWorkflow.act, request, id=update_id)
        except (WorkflowUpdateFailedError, RPCError) as error:
            # Closed meanwhile, between runs, or already exited and finishing: look again.
            failure = error
            await asyncio.sleep(0.05 * (attempt + 1))
            continue
        await wait_closed(handle)
        return
    raise RuntimeError(f"workflow {handle.id} is still open after {CLOSE_ATTEMPTS} exits") from (
        failure
    )


async def wait_closed(handle: WorkflowHandle[Any, Any], seconds: float = 60) -> None:
    """Wait, in real time, until the workflow has closed.

    Polled rather than awaited with `result()`: on the time-skipping server waiting for a
    result lets the clock skip to the next timer, and a workflow that is ending needs none.
    """
    loop = asyncio.get_running_loop()
    give_up = loop.time() + seconds
    while await is_open(handle):
        if loop.time() > give_up:
            raise TimeoutError(f"workflow {handle.id} still open after {seconds} s")
        await asyncio.sleep(0.05)


async def is_open(handle: WorkflowHandle[Any, Any]) -> bool:
    """Whether the workflow's latest run (the handle's run, if bound to one) is still open."""
    try:
        described = await handle.describe()
    except RPCError as error:
        if error.status is RPCStatusCode.NOT_FOUND:
            return False
        raise
    return described.status is WorkflowExecutionStatus.RUNNING
