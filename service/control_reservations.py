"""Project budget approvals held against the department's control number, race-free.

The protocol, for `approve_budget` of project P (department D, year Y, amount A):

1. `reserve` on D's year workflow (`department-D-Y`), an update: the workflow serialises its
   updates, so of two finance officers approving two of D's projects at once, the second sees
   the first's reservation. It answers `ControlFacts` (ceiling, reserved before, granted) and
   holds A when it fits — also when no ceiling is set yet, so a ceiling set later counts what
   was approved before it.
2. `approve_budget` on P with those facts in its payload (`ApproveBudget.control`): P's guard
   `within_control_number` judges them deterministically, and refuses with the reason (in
   English and Chinese) when A did not fit.
3. `settle_reservation`: confirmed when P approved, released when P refused for any reason.

Every step is idempotent under the request's key (the reservation id is derived from it), so
a retried request reserves once. Should the API die between 1 and 3, the amount stays held:
the ceiling is never exceeded, at worst under-used until finance releases it
(`release_reservation`). No department year open for Y (no row in the read model, which the
API writes before it answers the opening), or one already closed: no ceiling (the guard holds)
— finance opens the year and sets the control number to enforce one.
"""

from __future__ import annotations

import structlog
from sqlmodel import Session
from temporalio.client import Client, WorkflowUpdateFailedError
from temporalio.exceptions import ApplicationError
from temporalio.service import RPCError, RPCStatusCode

from models.actions import ApproveBudget
from models.control_number import ControlFacts
from models.department_tables import DepartmentYearRow
from models.project_state import Actor
from workflows.act_contract import BAD_PAYLOAD
from workflows.department import (
    DepartmentYearWorkflow,
    ReserveRequest,
    SettleRequest,
    department_workflow_id,
)

log = structlog.get_logger(__name__)


def year_open(session: Session, department: str, fiscal_year: int) -> bool:
    """Whether the department's year is open (in the read model): only then is there a
    workflow to reserve in. Ends the read at once: the caller goes on to wait on workflows."""
    try:
        return session.get(DepartmentYearRow, (department, fiscal_year)) is not None
    finally:
        session.close()


async def reserve(
    client: Client,
    *,
    department: str,
    project_code: str,
    payload: ApproveBudget,
    request_id: str,
    actor: Actor,
) -> ControlFacts | None:
    """Step 1: the facts of the department year, or None when it has no open year."""
    handle = client.get_workflow_handle(department_workflow_id(department, payload.fiscal_year))
    reservation_id = f"{project_code}:{payload.fiscal_year}:{request_id}"
    try:
        return await handle.execute_update(
            DepartmentYearWorkflow.reserve,
            ReserveRequest(
                reservation_id=reservation_id,
                project_code=project_code,
                amount=payload.amount,
                actor=actor,
            ),
            id=f"reserve:{reservation_id}",
        )
    except RPCError as error:
        if error.status is RPCStatusCode.NOT_FOUND:
            return None  # no year opened, or it has ended: no ceiling
        raise
    except WorkflowUpdateFailedError as failed:
        cause = failed.cause
        if isinstance(cause, ApplicationError) and cause.type == BAD_PAYLOAD:
            return None  # the year has been reviewed and closes: no ceiling any more
        # Any other failure must not pass for "no ceiling": the approval is not taken.
        raise


async def settle(client: Client, facts: ControlFacts, *, confirmed: bool, actor: Actor) -> None:
    """Step 3: confirm or release a reservation that was granted."""
    if not facts.granted:
        return
    handle = client.get_workflow_handle(department_workflow_id(facts.department, facts.fiscal_year))
    try:
        await handle.execute_update(
            DepartmentYearWorkflow.settle_reservation,
            SettleRequest(reservation_id=facts.reservation_id, confirmed=confirmed, actor=actor),
            id=f"settle:{facts.reservation_id}",
        )
    except (RPCError, WorkflowUpdateFailedError):
        # The amount stays held: never over the ceiling; finance can release it.
        log.warning(
            "reservation_not_settled", reservation_id=facts.reservation_id, confirmed=confirmed
        )
