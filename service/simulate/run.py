"""A simulation run: playing the scenario's steps instant by instant, each lane (a project, a
department year) on its own, and handing each step to the part that takes it."""

from __future__ import annotations

import asyncio
import math
from collections.abc import Sequence
from itertools import groupby

from service.simulate.project_steps import ProjectSteps
from service.simulate.scenario import Step
from service.simulate.service_steps import ServiceSteps
from service.simulate.timeline import Timeline


class Run(ProjectSteps, ServiceSteps, Timeline):
    """One run of a scenario: `play` takes its steps, `collect` reads what they did."""

    async def play(self) -> None:
        scenario = self._scenario
        server_now = await self._env.get_current_time()
        # Whole seconds: the workflow's deadlines (business time minus the offset) stay exact.
        self._offset = math.floor((scenario.start - server_now).total_seconds())
        await self._advance_to(scenario.start)
        await asyncio.gather(*(self._file(info) for info in scenario.projects))
        await asyncio.to_thread(self._register_experts)
        for at, group in groupby(scenario.steps, key=lambda s: s.at):
            await self._advance_to(at)
            by_project: dict[str, list[Step]] = {}
            for step in group:
                by_project.setdefault(step.lane, []).append(step)
            # Lanes (projects, department years) move concurrently; one lane's steps of one
            # instant in file order.
            await asyncio.gather(*(self._take(steps) for steps in by_project.values()))
        await self._advance_to(scenario.until)

    async def _take(self, steps: Sequence[Step]) -> None:
        for step in steps:
            await self._act(step)

    async def _act(self, step: Step) -> None:
        """A step goes through the API's service code where the API would check more than the
        workflow does (see `_through_service`); otherwise straight to the project's workflow."""
        if self._through_service(step):
            await self._serve(step)
            return
        await self._act_on_workflow(step)
