"""Client-side operations on project workflows that are not API actions."""

from __future__ import annotations

from typing import Any

from temporalio.client import WorkflowHandle, WorkflowUpdateFailedError
from temporalio.service import RPCError

from models.project_state import Actor
from models.vocabulary import Role
from workflows.project import ActRequest, ProjectWorkflow


async def close_project(handle: WorkflowHandle[Any, Any], comment: str) -> None:
    """End a project workflow the way finance would (`exit`, reason cancelled), and wait.

    Tests and the simulator share one time-skipping server between scenarios and need their
    workflows gone afterwards; terminating one while a worker holds one of its tasks leaves
    that server's clock frozen for good, a normal exit does not.
    """
    request = ActRequest(
        action="exit",
        payload={"reason": "cancelled", "comment": comment},
        actor=Actor(username="system", role=Role.FINANCE),
    )
    try:
        await handle.execute_update(ProjectWorkflow.act, request)
    except (WorkflowUpdateFailedError, RPCError):
        return  # already closed
    await handle.result()
