"""A workflow's refusal of an `act` update as the problem the API answers with: 409 with every
unmet guard when the lifecycle rejected the action (each counted in
`perfbudget_actions_rejected_total`), 422 when the body did not fit its action, 503 with
Retry-After when the workflow's run had taken all the updates it takes (see
`workflows.project.ROLLOVER_PATCH`)."""

from __future__ import annotations

from temporalio.exceptions import ApplicationError

from service.metrics import count_rejection
from service.problems import UPDATE_LIMIT_DETAIL, Problem, temporal_unavailable
from workflows.act_contract import BAD_PAYLOAD, REJECTED, ROLLING_OVER


def rejection_problem(cause: BaseException | None, action: str, *, workflow: str) -> Problem:
    """The problem for `cause` (a failed update's cause); any other failure is the program's
    own fault and raises, naming `action` and the `workflow` it failed in."""
    if isinstance(cause, ApplicationError) and cause.type == REJECTED and cause.details:
        rejection = cause.details[0]
        count_rejection(rejection["action"], rejection["unmet"])
        return Problem(
            status=409,
            title="Action not allowed now",
            detail=str(cause.message),
            action=rejection["action"],
            state=rejection["state"],
            fiscal_year=rejection["fiscal_year"],
            unmet=rejection["unmet"],
        )
    if isinstance(cause, ApplicationError) and cause.type == BAD_PAYLOAD:
        return Problem(status=422, title="Invalid request body", detail=str(cause.message))
    if isinstance(cause, ApplicationError) and cause.type == ROLLING_OVER:
        # Nothing was recorded; the run hands over to a new one within moments.
        return temporal_unavailable(UPDATE_LIMIT_DETAIL)
    raise RuntimeError(f"{action} failed in the {workflow}") from cause
