"""Record the event histories the replay test checks new workflow code against.

Run `make histories` (or `python -m tests.workflows.record_histories`) after a deliberate
change of workflow behaviour that is guarded by `workflow.patched(...)`, and commit the new
files next to the old ones: old histories must keep replaying, which is the whole point.
"""

from __future__ import annotations

import asyncio
import string
import tempfile
from collections.abc import Awaitable, Callable
from datetime import UTC, date, datetime, timedelta
from pathlib import Path
from typing import Any

from temporalio.client import WorkflowHandle
from temporalio.contrib.pydantic import pydantic_data_converter
from temporalio.testing import WorkflowEnvironment

from models.calendar import FiscalCalendar
from models.fiscal_notice import FISCAL_NOTICE_SIGNAL, FiscalNotice, FiscalPhase
from models.fiscal_year import local_midnight
from service.temporal_client import test_server_path
from tests.support.started import TRACKER
from tests.support.temporal import add_search_attributes
from tests.workflows import department_scenarios, scenarios
from tests.workflows.fiscal_stubs import Recorder, fiscal_year_worker
from workflows.fiscal_year import FiscalYearInput, FiscalYearWorkflow
from workflows.search_attributes import ALL_KEYS

HISTORIES = Path(__file__).parent / "histories"

Scenario = Callable[[WorkflowEnvironment, str, str], Awaitable[scenarios.Scenario]]
SCENARIOS: dict[str, Scenario] = {
    "three-year-fair": scenarios.three_year_project_with_a_fair_year,
    "two-poor-years": scenarios.two_poor_years,
    "key-evaluation": scenarios.key_evaluated_poor,
    "rollover": scenarios.rolling_over,
}
# A DepartmentYearWorkflow's whole year (one run), recorded after the project scenarios.
DEPARTMENT_YEAR = "department-year"
# A department year missing its self-evaluation: the deadline ladder's alarm timer at work.
DEPARTMENT_DEADLINES = "department-deadlines"
# The zone's fiscal year (`record_fiscal`): a project receiving calls, and a fiscal-year run.
FISCAL = "fiscal"
# Scenarios that leave the project open: finance's exit ends them so the history is complete.
ENDED_BY_EXIT = frozenset({"two-poor-years", "key-evaluation", "rollover"})


async def record(prefix: str, only: frozenset[str] | None = None) -> list[Path]:
    env = await WorkflowEnvironment.start_time_skipping(
        test_server_existing_path=str(test_server_path()),
        data_converter=pydantic_data_converter,
        # The scenarios' workers end what they started from what this records.
        interceptors=[TRACKER],
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
                    written += await _write_runs(env, s.handle, f"{prefix}{name}")
                if only is None or DEPARTMENT_YEAR in only:
                    handle = await department_scenarios.whole_year(env, task_queue, "REC-D1")
                    written += await _write_runs(env, handle, f"{prefix}{DEPARTMENT_YEAR}")
                if only is None or DEPARTMENT_DEADLINES in only:
                    handle = await department_scenarios.missed_self_evaluation(
                        env, task_queue, "REC-D2"
                    )
                    written += await _write_runs(env, handle, f"{prefix}{DEPARTMENT_DEADLINES}")
        if only is None or FISCAL in only:
            written += await record_fiscal(env, prefix)
    finally:
        await env.shutdown()
    return written


async def record_fiscal(env: WorkflowEnvironment, prefix: str) -> list[Path]:
    """A project receiving the zone's calls, and a fiscal-year run that continues as new in
    the middle of a fan-out."""
    written: list[Path] = []
    with tempfile.TemporaryDirectory() as tmp:
        url = f"sqlite:///{tmp}/record.db"
        async with scenarios.running_worker(env.client, url) as (task_queue, _engine):
            s = await scenarios.start_project(env, task_queue, "REC-fiscal-notice")
            await s.act("submit")
            year = await scenarios.next_year(env)
            for phase in (FiscalPhase.BUDGET_PREPARATION, FiscalPhase.BUDGET_PREPARATION):
                notice = FiscalNotice(phase=phase, fiscal_year=year, issued_at=datetime.now(UTC))
                await s.handle.signal(FISCAL_NOTICE_SIGNAL, notice)
            await s.act("exit", {"reason": "cancelled"})
            await s.handle.result()
            written += await _write_runs(env, s.handle, f"{prefix}fiscal-notice")
    recorder = Recorder(project_batches=40)
    async with fiscal_year_worker(env, recorder) as task_queue:
        business = local_midnight(date(year, 8, 1), 480) + timedelta(hours=1)
        handle = await env.client.start_workflow(
            FiscalYearWorkflow.run,
            FiscalYearInput(
                calendar=FiscalCalendar(),
                catch_up_days=0,
                max_history_events=100,
                clock_offset_seconds=(business - await env.get_current_time()).total_seconds(),
            ),
            id="REC-fiscal-year",
            task_queue=task_queue,
        )
        await handle.result()
        written += await _write_runs(env, handle, f"{prefix}fiscal-year")
    return written


async def _write_runs(
    env: WorkflowEnvironment, started: WorkflowHandle[Any, Any], name: str
) -> list[Path]:
    """Every run of a workflow (following continue-as-new), one file each."""
    written: list[Path] = []
    run_id = started.first_execution_run_id
    index = 0
    while run_id:
        handle = env.client.get_workflow_handle(started.id, run_id=run_id)
        history = await handle.fetch_history()
        path = HISTORIES / f"{name}-run{index}.json"
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
    return written


def free_prefix(day: str) -> str:
    """`day-`, or `dayb-`, `dayc-`, ... if files of that day are stored already: a second
    recording on one day (after a second patch) must not overwrite the first, whose runs are
    what workflows started in between still replay."""
    for letter in ("", *string.ascii_lowercase[1:]):
        prefix = f"{day}{letter}-"
        if not any(HISTORIES.glob(f"{prefix}*.json")):
            return prefix
    raise RuntimeError(f"no free history prefix left for {day}")


def main() -> None:
    """`python -m tests.workflows.record_histories [SCENARIO ...]`: all scenarios, or those named
    (`fiscal` for the fiscal-year ones; a new scenario can be recorded without rewriting today's
    files of the others)."""
    import datetime
    import sys

    HISTORIES.mkdir(exist_ok=True)
    prefix = free_prefix(datetime.datetime.now(datetime.UTC).strftime("%Y%m%d"))
    only = frozenset(sys.argv[1:]) or None
    for _path in asyncio.run(record(prefix, only)):
        pass


if __name__ == "__main__":
    main()
