"""The shared fixtures do what tests/support promises."""

from __future__ import annotations

import asyncio
import uuid
from datetime import UTC, datetime, timedelta
from pathlib import Path
from typing import cast

import psycopg
import pytest
import sqlalchemy
from sqlalchemy.engine import make_url
from temporalio import workflow
from temporalio.api.operatorservice.v1 import ListSearchAttributesRequest
from temporalio.client import WorkflowExecutionStatus
from temporalio.testing import WorkflowEnvironment
from temporalio.worker import Worker

from tests.support.databases import fresh_postgres_database, libpq_uri, postgres_base_url
from tests.support.started import TRACKER, end_started, still_running
from tests.support.temporal import closed_result
from tests.workflows import scenarios
from tests.workflows.fiscal_stubs import Recorder, fiscal_year_worker
from workflows.fiscal_year import FiscalYearInput, FiscalYearWorkflow
from workflows.search_attributes import ALL_KEYS, FISCAL_YEAR, LIFECYCLE_STATE, PROJECT_CODE


@workflow.defn(sandboxed=False)  # defined in a test module; nothing here needs the sandbox
class TaggingWorkflow:
    """Upserts search attributes, then sleeps for a (skipped) year."""

    @workflow.run
    async def run(self, code: str) -> str:
        workflow.upsert_search_attributes(
            [
                PROJECT_CODE.value_set(code),
                LIFECYCLE_STATE.value_set(["active", "executing"]),
                FISCAL_YEAR.value_set(2026),
            ]
        )
        await workflow.sleep(timedelta(days=365))
        return code


async def test_time_skipping_env_knows_every_search_attribute(
    time_skipping_env: WorkflowEnvironment,
) -> None:
    """An upsert (keyword list included) is visible through describe, and a year skips by."""
    env = time_skipping_env
    client = env.client
    task_queue = f"smoke-{uuid.uuid4()}"
    async with Worker(client, task_queue=task_queue, workflows=[TaggingWorkflow]):
        handle = await client.start_workflow(
            TaggingWorkflow.run, "P-001", id=f"smoke-{uuid.uuid4()}", task_queue=task_queue
        )
        await env.sleep(timedelta(days=365, minutes=1))
        assert await closed_result(env, handle) == "P-001"
        described = await handle.describe()
    attributes = described.typed_search_attributes
    assert attributes.get(PROJECT_CODE) == "P-001"
    assert list(attributes.get(LIFECYCLE_STATE) or []) == ["active", "executing"]
    assert attributes.get(FISCAL_YEAR) == 2026
    assert described.status == WorkflowExecutionStatus.COMPLETED


async def _clock_moves(env: WorkflowEnvironment) -> None:
    """The shared server's clock still skips (a frozen one would hang here)."""
    before = await env.get_current_time()
    await asyncio.wait_for(env.sleep(timedelta(days=1)), timeout=60)
    assert await env.get_current_time() - before >= timedelta(days=1)


async def test_workflows_left_running_are_found_and_ended_their_own_way(
    time_skipping_env: WorkflowEnvironment, sqlite_url: str
) -> None:
    """What the leak guard sees: a project and a year-long sleeper started and left open are
    reported; `end_started` ends the project by `exit` and the sleeper by cancellation, is a
    no-op the second time, and the clock keeps moving afterwards."""
    env = time_skipping_env
    mark = TRACKER.mark()
    tag_queue = f"smoke-{uuid.uuid4()}"
    async with (
        scenarios.running_worker(env.client, sqlite_url, end_workflows=False) as (task_queue, _),
        Worker(env.client, task_queue=tag_queue, workflows=[TaggingWorkflow]),
    ):
        s = await scenarios.start_project(env, task_queue, f"LEAK{uuid.uuid4().hex[:6].upper()}")
        await s.act("submit")
        sleeper = await env.client.start_workflow(
            TaggingWorkflow.run, "P-002", id=f"smoke-{uuid.uuid4()}", task_queue=tag_queue
        )
        started = TRACKER.since(mark)
        assert [(x.workflow_id, x.workflow_type, x.task_queue) for x in started] == [
            (s.handle.id, "ProjectWorkflow", task_queue),
            (sleeper.id, "TaggingWorkflow", tag_queue),
        ]
        assert await still_running(env.client, started) == started

        await end_started(env.client, task_queue)
        await end_started(env.client, tag_queue)
        assert await still_running(env.client, started) == []
        final = await closed_result(env, s.handle)
        assert (final.state, final.exit_reason) == ("exited", "cancelled")
        assert (await sleeper.describe()).status == WorkflowExecutionStatus.CANCELED
        await end_started(env.client, task_queue)  # closed ones are left alone
    await _clock_moves(env)


async def test_a_fiscal_year_left_running_is_cancelled_by_its_worker(
    time_skipping_env: WorkflowEnvironment,
) -> None:
    """A fiscal-year run whose test stops before its result ends with the worker's block."""
    env = time_skipping_env
    async with fiscal_year_worker(env, Recorder()) as task_queue:
        handle = await env.client.start_workflow(
            FiscalYearWorkflow.run,
            FiscalYearInput(),
            id=f"fiscal-year-{uuid.uuid4()}",
            task_queue=task_queue,
        )
        assert (await handle.describe()).status == WorkflowExecutionStatus.RUNNING
    assert (await handle.describe()).status == WorkflowExecutionStatus.CANCELED
    await _clock_moves(env)


class _ClockAt:
    """Stands in for an environment whose clock is at `when` (the shared one cannot go back)."""

    def __init__(self, when: datetime) -> None:
        self.when = when

    async def get_current_time(self) -> datetime:
        return self.when


async def test_next_year_names_a_clock_too_late_for_a_scenario() -> None:
    """The last start leaving a four-year scenario inside the 2200 limit, then a clear error."""
    latest = cast(WorkflowEnvironment, _ClockAt(datetime(2195, 12, 31, 12, tzinfo=UTC)))
    assert await scenarios.next_year(latest) == 2196
    too_late = cast(WorkflowEnvironment, _ClockAt(datetime(2196, 1, 1, 12, tzinfo=UTC)))
    with pytest.raises(RuntimeError, match=r"at 2196-01-01, too late .* earlier tests ran it away"):
        await scenarios.next_year(too_late)


async def test_dev_env_lists_by_search_attribute(dev_env: WorkflowEnvironment) -> None:
    """The dev server has every key registered with its type and answers queries on them."""
    client = dev_env.client
    task_queue = f"smoke-{uuid.uuid4()}"
    code = f"P-{uuid.uuid4().hex[:8]}"
    async with Worker(client, task_queue=task_queue, workflows=[TaggingWorkflow]):
        handle = await client.start_workflow(
            TaggingWorkflow.run, code, id=f"smoke-{uuid.uuid4()}", task_queue=task_queue
        )
        query = f'ProjectCode = "{code}" AND LifecycleState = "executing"'
        # Visibility is eventually consistent: poll briefly for the upsert to be indexed.
        for _ in range(100):
            found = [execution.id async for execution in client.list_workflows(query)]
            if found:
                break
            await asyncio.sleep(0.1)
        assert found == [handle.id]
        await handle.terminate("smoke test done")
    registered = await client.operator_service.list_search_attributes(
        ListSearchAttributesRequest(namespace=client.namespace)
    )
    custom = {name: int(value_type) for name, value_type in registered.custom_attributes.items()}
    expected = {key.name: key.indexed_value_type.value for key in ALL_KEYS}
    assert custom.items() >= expected.items()


def test_database_url_is_fresh_and_writable(database_url: str) -> None:
    """Each parametrised database starts empty and accepts a table and a row."""
    engine = sqlalchemy.create_engine(database_url)
    try:
        assert sqlalchemy.inspect(engine).get_table_names() == []
        with engine.begin() as connection:
            connection.execute(sqlalchemy.text("CREATE TABLE probe (id INTEGER PRIMARY KEY)"))
            connection.execute(sqlalchemy.text("INSERT INTO probe (id) VALUES (1)"))
        with engine.connect() as connection:
            count = connection.execute(sqlalchemy.text("SELECT count(*) FROM probe")).scalar()
        assert count == 1
    finally:
        engine.dispose()


def test_sqlite_url_is_a_file_in_tmp_path(sqlite_url: str, tmp_path: Path) -> None:
    """sqlite_url points at a file inside the test's own tmp_path."""
    assert sqlite_url == f"sqlite:///{tmp_path / 'app.db'}"


@pytest.mark.postgresql
def test_postgres_database_is_created_and_dropped() -> None:
    """A fresh database exists (and is the one connected to) inside the block, and not after."""
    base = postgres_base_url()

    def exists(name: str) -> bool:
        with psycopg.connect(libpq_uri(base)) as connection:
            row = connection.execute(
                "SELECT 1 FROM pg_database WHERE datname = %s", (name,)
            ).fetchone()
        return row is not None

    with fresh_postgres_database(base) as url:
        name = make_url(url).database
        assert name is not None
        assert name.startswith("pbtest_")
        assert exists(name)
        # Left open on purpose: WITH (FORCE) must drop the database anyway.
        inside = psycopg.connect(libpq_uri(make_url(url)))
        row = inside.execute("SELECT current_database()").fetchone()
        assert row == (name,)
    try:
        assert not exists(name)
    finally:
        inside.close()
