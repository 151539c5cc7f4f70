"""The baseline workflow: an update that does nothing, and as many timers as asked for.

A module of its own that imports nothing but temporalio, so that a default worker runs it in
Temporal's sandbox, as our worker runs ours (`tests.bench.stack` also runs it unsandboxed, for
reference).
"""

from __future__ import annotations

from datetime import timedelta

from temporalio import workflow


@workflow.defn
class BareWorkflow:
    def __init__(self) -> None:
        self._done = False

    @workflow.run
    async def run(self, timers: int) -> int:
        for _ in range(timers):
            await workflow.sleep(timedelta(milliseconds=1))
        await workflow.wait_condition(lambda: self._done)
        return timers

    @workflow.update
    async def noop(self, value: int) -> int:
        return value

    @workflow.update
    async def finish(self) -> None:
        self._done = True
