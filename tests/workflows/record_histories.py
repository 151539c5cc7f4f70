"""Record the event histories the replay test checks new workflow code against.

Run `make histories` (or `python -m tests.workflows.record_histories`) after a deliberate
change of workflow behaviour that is guarded by `workflow.patched(...)`, and commit the new
files next to the old ones: old histories must keep replaying, which is the whole point.
"""

from __future__ import annotations

import asyncio
import tempfile
from collections.abc import Awaitable, Callable
from pathlib import Path

from temporalio.contrib.pydantic import pydantic_data_converter
from temporalio.testing import WorkflowEnvironment

from service.temporal_client import test_server_path
from tests.support.temporal import add_search_attributes
from tests.workflows import scenarios
from workflows.search_attributes import ALL_KEYS

HISTORIES = Path(__file__).parent / "histories"

Scenario = Callable[[WorkflowEnvironment, str, str], Awaitable[scenarios.Scenario]]
SCENARIOS: dict[str, Scenario] = {
    "three-year-fair": scenarios.three_year_project_with_a_fair_year,
    "two-poor-years": scenarios.two_poor_years,
    "key-evaluation": scenarios.key_evaluated_poor,
}
# Scenarios that leave the project open: finance's exit ends them so the history is complete.
ENDED_BY_EXIT = frozenset({"two-poor-years", "key-evaluation"})


async def record(prefix: str, only: frozenset[str] | None = None) -> list[Path]:
    env = await WorkflowEnvironment.start_time_skipping(
        test_server_existing_path=str(test_server_path()), data_converter=pydantic_data_converter
    )
    written: list[Path] = []
    try:
        await add_search_attributes(env.client, ALL_KEYS)
        with tempfile.TemporaryDirectory() as tmp:
            url = f"sqlite:///{tmp}/record.db"
            async with scenarios.running_worker(env.client, url) as (task_queue, _engine):
                for name, scenario in SCENARIOS.items():
                    if only is not None and name not in only:
                        continue
                    s = await scenario(env, task_queue, f"REC-{name}")
                    if name in ENDED_BY_EXIT:
                        await s.act("exit", {"reason": "low_performance"})
                    await s.handle.result()
                    run_id = s.handle.first_execution_run_id
                    index = 0
                    while run_id:
                        handle = env.client.get_workflow_handle(s.handle.id, run_id=run_id)
                        history = await handle.fetch_history()
                        path = HISTORIES / f"{prefix}{name}-run{index}.json"
                        path.write_text(history.to_json())
                        written.append(path)
                        last = history.events[-1]
                        attrs = last.workflow_execution_continued_as_new_event_attributes
                        run_id = (
                            attrs.new_execution_run_id
                            if last.HasField("workflow_execution_continued_as_new_event_attributes")
                            else None
                        )
                        index += 1
    finally:
        await env.shutdown()
    return written


def main() -> None:
    """`python -m tests.workflows.record_histories [SCENARIO ...]`: all scenarios, or those named
    (a new scenario can be recorded without rewriting today's files of the others)."""
    import datetime
    import sys

    HISTORIES.mkdir(exist_ok=True)
    prefix = datetime.datetime.now(datetime.UTC).strftime("%Y%m%d-")
    only = frozenset(sys.argv[1:]) or None
    for _path in asyncio.run(record(prefix, only)):
        pass


if __name__ == "__main__":
    main()
