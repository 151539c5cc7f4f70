"""A scenario's project steps taken on the project's workflow directly: filing each project,
its `act` updates, and a refusal by a workflow that has ended."""

from __future__ import annotations

import asyncio
from datetime import UTC

from temporalio.client import WorkflowExecutionStatus, WorkflowUpdateFailedError
from temporalio.exceptions import ApplicationError
from temporalio.service import RPCError

from models.project_state import Actor, ProjectInfo, ProjectState
from models.vocabulary import Role
from service.project_client import close_project
from service.simulate.run_state import FiledProject, RejectedStep, RunState
from service.simulate.scenario import Step
from workflows.act_contract import REJECTED
from workflows.project import (
    ActOutcome,
    ActRequest,
    ProjectWorkflow,
    ProjectWorkflowInput,
    workflow_id,
)


class ProjectSteps(RunState):
    async def _file(self, info: ProjectInfo) -> None:
        clerk = Actor(
            username=f"department-{info.department}",
            role=Role.DEPARTMENT,
            department=info.department,
        )
        state = ProjectState.filed(info, actor=clerk, at=self._scenario.start.astimezone(UTC))
        handle = await self._client.start_workflow(
            ProjectWorkflow.run,
            ProjectWorkflowInput(
                project=state, rules=self._scenario.rules, clock_offset_seconds=self._offset
            ),
            id=self._id_prefix + workflow_id(info.code),
            task_queue=self._task_queue,
            static_summary=f"{info.code} {info.name} (simulation)",
        )
        self._projects[info.code] = FiledProject(
            info=info, handle=handle, first_run=handle.first_execution_run_id or ""
        )

    async def _act_on_workflow(self, step: Step) -> None:
        assert step.project is not None  # noqa: S101  (a project's step: see _through_service)
        handle = self._projects[step.project].handle
        request = ActRequest(action=step.action, payload=step.payload, actor=step.actor)
        try:
            outcome: ActOutcome = await handle.execute_update(ProjectWorkflow.act, request)
        except (WorkflowUpdateFailedError, RPCError) as failed:
            cause = failed.cause if isinstance(failed, WorkflowUpdateFailedError) else None
            if isinstance(cause, ApplicationError) and cause.type == REJECTED and cause.details:
                rejection = cause.details[0]
                detail = {"state": rejection.get("state"), "unmet": rejection.get("unmet", [])}
                self._rejected.append(RejectedStep(step, rejection.get("fiscal_year"), detail))
            else:
                self._rejected.append(await self._refused(step, cause or failed))
            return
        for entry in outcome.entries:
            self._step_of_entry[(step.project, entry.seq)] = step

    async def _refused(self, step: Step, error: BaseException) -> RejectedStep:
        """A step the workflow did not judge: mostly one on a project whose workflow has ended."""
        year = step.year
        assert step.project is not None  # noqa: S101  (only a project's steps get here)
        handle = self._projects[step.project].handle
        description = await handle.describe()
        status = description.status
        if status is None or status is WorkflowExecutionStatus.RUNNING:
            return RejectedStep(step, year, {"error": str(error)})
        last = (await handle.fetch_history()).events[-1]
        final = await self._result(last)
        ended = final.state if final is not None else status.name.lower()
        unmet = {
            "guard": "state",
            "message": f"the project is '{ended}' and its workflow has ended",
            "message_zh": "项目流程已结束，不能再执行操作",
        }
        return RejectedStep(step, year, {"state": ended, "unmet": [unmet]})

    async def close_open(self) -> None:
        """End every project still open with finance's `exit` (never terminate: see
        `close_project`), while the worker runs; closed ones are left as they are."""

        async def close(project: FiledProject) -> None:
            handle = self._client.get_workflow_handle(project.handle.id)
            await close_project(handle, "simulation over")

        await asyncio.gather(*(close(p) for p in self._projects.values()))
