"""What a simulation run holds while it plays and collects: its clients, the projects it filed,
the steps it took and refused, and business time (the test server's clock plus the offset)."""

from __future__ import annotations

from dataclasses import dataclass
from datetime import datetime, timedelta, timezone
from typing import Any

from sqlalchemy import Engine
from temporalio.api.history.v1 import HistoryEvent
from temporalio.client import Client, WorkflowHandle
from temporalio.testing import WorkflowEnvironment

from models.project_state import ProjectInfo, ProjectState
from service.settings import Settings
from service.simulate.scenario import Scenario, Step


@dataclass
class FiledProject:
    info: ProjectInfo
    handle: WorkflowHandle[Any, Any]
    first_run: str


@dataclass(frozen=True)
class RejectedStep:
    step: Step
    fiscal_year: int | None
    detail: dict[str, Any]


class PrefixedClient(Client):
    """The client the service code is given: every workflow id it names gets the run's prefix,
    so the API's own functions (which name `project-<code>`, `department-<code>-<year>`) reach
    this run's workflows on a server other runs share."""

    def __init__(self, client: Client, prefix: str) -> None:
        super().__init__(**client.config())
        self._prefix = prefix

    def get_workflow_handle(self, workflow_id: str, **kwargs: Any) -> WorkflowHandle[Any, Any]:
        return super().get_workflow_handle(self._prefix + workflow_id, **kwargs)

    async def start_workflow(self, *args: Any, id: str, **kwargs: Any) -> WorkflowHandle[Any, Any]:
        handle: WorkflowHandle[Any, Any] = await super().start_workflow(
            *args, id=self._prefix + id, **kwargs
        )
        return handle


class RunState:
    """The state shared by the step-taking and the collecting parts of a run."""

    def __init__(
        self,
        env: WorkflowEnvironment,
        scenario: Scenario,
        *,
        task_queue: str,
        id_prefix: str,
        engine: Engine,
        settings: Settings,
    ) -> None:
        self._env = env
        self._client: Client = env.client
        self._service: Client = PrefixedClient(env.client, id_prefix) if id_prefix else env.client
        self._engine = engine
        self._settings = settings
        self._scenario = scenario
        self._task_queue = task_queue
        self._id_prefix = id_prefix
        self._offset = 0
        self._projects: dict[str, FiledProject] = {}
        self._step_of_entry: dict[tuple[str, int], Step] = {}
        self._rejected: list[RejectedStep] = []
        # Steps taken through the service code, as the API takes them (matched to the history
        # entries they caused by action, actor and instant).
        self._service_steps: list[Step] = []
        self._selections: list[tuple[Step, dict[str, Any]]] = []

    # Business time is the test server's clock plus `_offset` seconds.

    async def _business_now(self) -> datetime:
        return await self._env.get_current_time() + timedelta(seconds=self._offset)

    async def _advance_to(self, target: datetime) -> None:
        now = await self._business_now()
        if target > now:
            await self._env.sleep(target - now)

    def _business(self, server_time: datetime) -> datetime:
        return server_time + timedelta(seconds=self._offset)

    def _local(self, moment: datetime) -> datetime:
        zone = timezone(timedelta(minutes=self._scenario.rules.utc_offset_minutes))
        # Timers fire a few milliseconds after their instant (the server's clock runs while a
        # workflow task is in flight); the second is what the rules speak of.
        return moment.astimezone(zone).replace(microsecond=0)

    async def _result(self, last: HistoryEvent) -> ProjectState | None:
        """The project a workflow returned, if `last` (its last event) says it completed."""
        if not last.HasField("workflow_execution_completed_event_attributes"):
            return None
        result = last.workflow_execution_completed_event_attributes.result
        (state,) = await self._client.data_converter.decode(list(result.payloads), [ProjectState])
        if not isinstance(state, ProjectState):
            raise TypeError(f"expected a ProjectState, got {state!r}")
        return state
