"""Stored histories still replay: a change that would break running workflows fails here."""

from __future__ import annotations

import json
from pathlib import Path

import pytest
from temporalio.client import WorkflowHistory
from temporalio.contrib.pydantic import pydantic_data_converter
from temporalio.worker import Replayer

from service.worker import WORKFLOWS, workflow_runner

HISTORIES = sorted((Path(__file__).parent / "histories").glob("*.json"))


def test_histories_are_stored() -> None:
    """The replay check has something to check (refresh with `make histories`)."""
    assert len(HISTORIES) >= 2


@pytest.mark.parametrize("path", HISTORIES, ids=[p.stem for p in HISTORIES])
async def test_history_replays_on_current_code(path: Path) -> None:
    """Replaying a recorded run with today's workflow code raises no nondeterminism error."""
    data = json.loads(path.read_text())  # noqa: ASYNC240  (a small fixture file)
    history = WorkflowHistory.from_json(f"replay-{path.stem}", data)
    replayer = Replayer(
        workflows=list(WORKFLOWS),
        workflow_runner=workflow_runner(),
        data_converter=pydantic_data_converter,
    )
    await replayer.replay_workflow(history)
