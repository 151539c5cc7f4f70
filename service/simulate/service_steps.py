"""Steps taken with the API's own service functions, on the simulation's read model: department
years, control numbers, the zone's key-evaluation selection, commissioning evaluators from the
expert library, and every `approve_budget` once the scenario drives department years."""

from __future__ import annotations

import asyncio
from datetime import UTC
from typing import Any

from sqlmodel import Session

from models.vocabulary import Role
from service import department_years, experts, key_evaluations
from service.auth import Principal
from service.key_evaluations import AssignmentRequest, SelectionRequest
from service.problems import Problem
from service.projects import take_action
from service.simulate.run_state import RejectedStep, RunState
from service.simulate.scenario import ASSIGN_EVALUATORS, OPEN_YEAR, ScenarioError, Step


def _finance_only(step: Step) -> bool:
    """Steps whose API route admits only finance: the zone's selection, commissioning
    evaluators, recording a control number."""
    if step.project is None and step.department is None:
        return True  # the zone's selection
    return step.action in (ASSIGN_EVALUATORS, "set_control_number")


def request_key(step: Step) -> str:
    """The idempotency key a step's request carries (a retried step would apply once)."""
    return f"simulation-step-{step.index}"


def _problem_detail(problem: Problem) -> dict[str, Any]:
    """A refusal by the service code as a rejected step's detail: the workflow's unmet guards
    when it judged the step, else the problem's status and reason (a conflict of interest,
    a role that may not, ...)."""
    if "unmet" in problem.extra:
        return {"state": problem.extra.get("state"), "unmet": problem.extra["unmet"]}
    detail: dict[str, Any] = {"status": problem.status, "error": problem.detail}
    for key in ("conflicts", "errors"):
        if key in problem.extra:
            detail[key] = problem.extra[key]
    return detail


class ServiceSteps(RunState):
    def _register_experts(self) -> None:
        with Session(self._engine) as session:
            for i, body in enumerate(self._scenario.experts):
                try:
                    experts.register(session=session, body=body, by="finance")
                except Problem as problem:
                    raise ScenarioError([f"experts[{i}]: {problem.detail}"]) from None

    def _through_service(self, step: Step) -> bool:
        if step.project is None or step.action == ASSIGN_EVALUATORS:
            return True
        return step.action == "approve_budget" and self._scenario.drives_departments

    async def _serve(self, step: Step) -> None:
        """Take `step` with the API's own service functions on the simulation's read model."""
        self._service_steps.append(step)
        actor = step.actor
        principal = Principal(username=actor.username, role=actor.role, department=actor.department)
        rules = self._scenario.rules
        session = Session(self._engine)
        try:
            if _finance_only(step) and actor.role is not Role.FINANCE:
                # The API's routes admit only finance here (`require_roles`), before any service.
                raise Problem(
                    status=403, title="Forbidden", detail=f"only the finance role may {step.action}"
                )
            if step.project is not None and step.action == ASSIGN_EVALUATORS:
                await key_evaluations.assign(
                    session=session,
                    client=self._service,
                    principal=principal,
                    code=step.project,
                    request=AssignmentRequest.model_validate(step.payload),
                    idempotency_key=request_key(step),
                    rules=rules,
                )
            elif step.project is not None:
                await take_action(
                    session=session,
                    client=self._service,
                    principal=principal,
                    code=step.project,
                    action=step.action,
                    body=step.payload,
                    idempotency_key=request_key(step),
                    rules=rules,
                )
            elif step.department is not None and step.fiscal_year is not None:
                await self._department_step(session, step, principal)
            elif step.fiscal_year is not None:
                view = await key_evaluations.select_year(
                    session=session,
                    client=self._service,
                    principal=principal,
                    fiscal_year=step.fiscal_year,
                    request=SelectionRequest.model_validate(step.payload),
                    rules=rules,
                )
                recorded = view.model_dump(mode="json", exclude={"id", "selected_at"})
                self._selections.append((step, recorded))
        except Problem as problem:
            self._rejected.append(RejectedStep(step, step.year, _problem_detail(problem)))
        finally:
            await asyncio.to_thread(session.close)

    async def _department_step(self, session: Session, step: Step, principal: Principal) -> None:
        code, year, rules = step.department or "", step.fiscal_year or 0, self._scenario.rules
        key = request_key(step)
        if step.action == OPEN_YEAR:
            await department_years.open_year(
                session=session,
                client=self._service,
                settings=self._settings,
                principal=principal,
                code=code,
                fiscal_year=year,
                rules=rules,
                clock_offset_seconds=self._offset,
                opened_at=(await self._business_now()).astimezone(UTC),
            )
        elif step.action == "set_control_number":  # computed from the read model, as the API
            await department_years.set_control_number(
                session=session,
                client=self._service,
                principal=principal,
                code=code,
                fiscal_year=year,
                idempotency_key=key,
                rules=rules,
            )
        else:
            await department_years.take_department_action(
                session=session,
                client=self._service,
                principal=principal,
                code=code,
                fiscal_year=year,
                action=step.action,
                body=step.payload,
                idempotency_key=key,
                rules=rules,
            )
