"""Each scenario of `scenarios/` is simulated once per test session, on the shared server."""

from __future__ import annotations

import json
from collections.abc import Awaitable, Callable
from pathlib import Path
from typing import Any

import pytest
from temporalio.testing import WorkflowEnvironment

from service.simulate import read_scenario, simulate

SCENARIOS = Path(__file__).parent / "scenarios"

Simulated = Callable[[str], Awaitable[dict[str, Any]]]


def scenario_data(name: str) -> dict[str, Any]:
    data: dict[str, Any] = json.loads((SCENARIOS / f"{name}.json").read_text(encoding="utf-8"))
    return data


@pytest.fixture(scope="session")
def simulated(time_skipping_env: WorkflowEnvironment) -> Simulated:
    """The printed output of a scenario file, simulated on first use and then remembered."""
    outputs: dict[str, dict[str, Any]] = {}

    async def run(name: str) -> dict[str, Any]:
        if name not in outputs:
            result = await simulate(
                read_scenario(SCENARIOS / f"{name}.json"), env=time_skipping_env
            )
            # Through JSON, as `perfbudget simulate` prints it.
            outputs[name] = json.loads(json.dumps(result.output()))
        return outputs[name]

    return run
