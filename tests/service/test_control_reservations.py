"""How the API reads a department year's answer to a reservation (`service.control_reservations`):
only a closed year means "no ceiling"; any other failure refuses the approval."""

from __future__ import annotations

from decimal import Decimal
from typing import Any, cast

import pytest
from temporalio.client import Client, WorkflowUpdateFailedError
from temporalio.exceptions import ApplicationError

from models.actions import ApproveBudget
from models.project_state import Actor
from models.vocabulary import Role
from service import control_reservations
from workflows.act_contract import BAD_PAYLOAD

FINANCE = Actor(username="fin", role=Role.FINANCE)


class _Refusing:
    """A client whose department-year workflow fails every update with `cause`."""

    def __init__(self, cause: BaseException) -> None:
        self.cause = cause

    def get_workflow_handle(self, workflow_id: str) -> _Refusing:
        return self

    async def execute_update(self, *args: Any, **kwargs: Any) -> Any:
        raise WorkflowUpdateFailedError(self.cause)


async def _reserve(cause: BaseException) -> Any:
    return await control_reservations.reserve(
        cast(Client, _Refusing(cause)),
        department="D1",
        project_code="P1",
        payload=ApproveBudget(fiscal_year=2027, amount=Decimal(100)),
        request_id="r1",
        actor=FINANCE,
    )


async def test_a_closed_year_holds_no_ceiling() -> None:
    closed = ApplicationError("the department year is closed", type=BAD_PAYLOAD)
    assert await _reserve(closed) is None


async def test_any_other_failure_refuses_the_approval() -> None:
    """A failure of the reservation itself (a bug, a run that took all its updates) must not
    let the budget through unchecked against the control number."""
    for cause in (
        ApplicationError("division by zero", type="ZeroDivisionError"),
        ApplicationError("handing over", type="RollingOver"),
    ):
        with pytest.raises(WorkflowUpdateFailedError):
            await _reserve(cause)
