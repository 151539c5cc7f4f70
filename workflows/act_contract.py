"""The `act` update as ProjectWorkflow and DepartmentYearWorkflow both take it: the request, the
error types a client tells apart, and the checks made before any guard is judged.

Only names and shapes already carried in stored histories live here: the request's fields and
the error type strings must not change (tests/workflows/histories replay them).
"""

from __future__ import annotations

from collections.abc import Mapping
from typing import Any, TypeVar

from pydantic import BaseModel
from temporalio.exceptions import ApplicationError

from models.engine import ActionRejected, Rejection
from models.project_state import Actor
from models.vocabulary import Role

REJECTED = "ActionRejected"
BAD_PAYLOAD = "InvalidPayload"
# Retryable: the run has taken all the updates it takes and is handing over to a new one.
ROLLING_OVER = "RollingOver"

PayloadT = TypeVar("PayloadT", bound=BaseModel)


class ActRequest(BaseModel):
    action: str
    payload: dict[str, Any]
    actor: Actor


def validated_payload(payloads: Mapping[str, type[PayloadT]], request: ActRequest) -> PayloadT:
    """The request's payload, or a BAD_PAYLOAD error: an unknown action (or one the system
    takes only by itself), or a body its payload type refuses."""
    payload_type = payloads.get(request.action)
    if payload_type is None or request.actor.role is Role.SYSTEM:
        raise ApplicationError(f"unknown action {request.action!r}", type=BAD_PAYLOAD)
    try:
        return payload_type.model_validate(request.payload)
    except ValueError as invalid:
        raise ApplicationError(str(invalid), type=BAD_PAYLOAD, non_retryable=True) from None


def rejected_error(rejection: Rejection) -> ApplicationError:
    """A REJECTED error carrying every unmet guard; non-retryable: only a new action helps."""
    return ApplicationError(
        ActionRejected(rejection).args[0],
        rejection.model_dump(mode="json"),
        type=REJECTED,
        non_retryable=True,
    )
