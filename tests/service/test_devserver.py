"""EmbeddedTemporal: starts, serves, keeps workflows across a restart, and leaves nothing behind."""

from __future__ import annotations

import os
import socket
import uuid
from pathlib import Path

import pytest
from temporalio import workflow
from temporalio.api.workflowservice.v1 import GetSystemInfoRequest
from temporalio.client import Client, WorkflowExecutionStatus
from temporalio.worker import Worker

from service.devserver import START_ATTEMPTS, EmbeddedTemporal, EmbeddedTemporalError
from service.temporal_client import temporal_cli_path


@workflow.defn(sandboxed=False)  # defined in a test module; nothing here needs the sandbox
class WaitForSignalWorkflow:
    """Runs until it is told to finish, so it must outlive a server restart."""

    def __init__(self) -> None:
        self.finished_with: str | None = None

    @workflow.run
    async def run(self, greeting: str) -> str:
        await workflow.wait_condition(lambda: self.finished_with is not None)
        return f"{greeting}, {self.finished_with}"

    @workflow.signal
    def finish(self, name: str) -> None:
        self.finished_with = name

    @workflow.query
    def waiting(self) -> bool:
        return self.finished_with is None


def free_ports(count: int) -> list[int]:
    """Ports free right now (held open together so they differ)."""
    sockets = [socket.socket() for _ in range(count)]
    try:
        for sock in sockets:
            sock.bind(("127.0.0.1", 0))
        return [sock.getsockname()[1] for sock in sockets]
    finally:
        for sock in sockets:
            sock.close()


def process_group_exists(pgid: int) -> bool:
    try:
        os.killpg(pgid, 0)
    except ProcessLookupError:
        return False
    return True


@pytest.fixture
def embedded(tmp_path: Path) -> EmbeddedTemporal:
    port, ui_port = free_ports(2)
    return EmbeddedTemporal(data_dir=tmp_path / "data", port=port, ui_port=ui_port)


async def test_workflow_survives_a_restart(embedded: EmbeddedTemporal) -> None:
    """A running workflow started before a stop is still there, and finishes, after a start."""
    task_queue = f"devserver-{uuid.uuid4()}"
    workflow_id = f"survivor-{uuid.uuid4()}"

    async with embedded:
        assert embedded.process is not None
        first_pid = embedded.process.pid
        client = await Client.connect(embedded.address)
        async with Worker(client, task_queue=task_queue, workflows=[WaitForSignalWorkflow]):
            handle = await client.start_workflow(
                WaitForSignalWorkflow.run, "hello", id=workflow_id, task_queue=task_queue
            )
            assert await handle.query(WaitForSignalWorkflow.waiting)
    assert not process_group_exists(first_pid)
    assert embedded.db_path.is_file()
    assert embedded.log_path.is_file()

    async with embedded:
        client = await Client.connect(embedded.address)
        handle = client.get_workflow_handle_for(WaitForSignalWorkflow.run, workflow_id)
        assert (await handle.describe()).status == WorkflowExecutionStatus.RUNNING
        async with Worker(client, task_queue=task_queue, workflows=[WaitForSignalWorkflow]):
            await handle.signal(WaitForSignalWorkflow.finish, "world")
            assert await handle.result() == "hello, world"
        assert embedded.process is not None
        second_pid = embedded.process.pid
    assert not process_group_exists(second_pid)


async def test_search_attributes_are_registered(embedded: EmbeddedTemporal) -> None:
    """The server starts with every custom search attribute of workflows/search_attributes."""
    from temporalio.api.operatorservice.v1 import ListSearchAttributesRequest

    from workflows.search_attributes import ALL_KEYS

    async with embedded:
        client = await Client.connect(embedded.address)
        registered = await client.operator_service.list_search_attributes(
            ListSearchAttributesRequest(namespace="default")
        )
    assert {key.name for key in ALL_KEYS} <= set(registered.custom_attributes)


async def test_busy_port_is_refused_clearly(tmp_path: Path) -> None:
    """A taken port is reported with the variable to change, before anything is started."""
    with socket.socket() as busy:
        busy.bind(("127.0.0.1", 0))
        busy.listen()
        port = busy.getsockname()[1]
        (ui_port,) = free_ports(1)
        server = EmbeddedTemporal(data_dir=tmp_path, port=port, ui_port=ui_port)
        with pytest.raises(EmbeddedTemporalError, match="PERFBUDGET_TEMPORAL_PORT"):
            await server.start()
    assert server.process is None


async def test_early_exit_reports_the_log_tail(tmp_path: Path) -> None:
    """A server that dies while starting is reported with the end of its log."""
    fake = tmp_path / "temporal"
    fake.write_text("#!/bin/sh\necho 'boom: bad flag' >&2\nexit 3\n")
    fake.chmod(0o755)
    port, ui_port = free_ports(2)
    server = EmbeddedTemporal(data_dir=tmp_path, port=port, ui_port=ui_port, executable=fake)
    with pytest.raises(EmbeddedTemporalError, match=r"status 3(.|\n)*boom: bad flag"):
        await server.start()
    assert server.process is None


def _clashing_cli(tmp_path: Path, clashes: int) -> tuple[Path, Path]:
    """A `temporal` that fails its first `clashes` starts as the CLI does when one of its own
    internal ports lands on a port taken meanwhile, then runs the real one; and its tally."""
    tally = tmp_path / "starts"
    fake = tmp_path / "temporal"
    fake.write_text(
        "#!/bin/sh\n"
        f"echo start >> '{tally}'\n"
        f"if [ $(wc -l < '{tally}') -le {clashes} ]; then\n"
        "  echo 'listen tcp 127.0.0.1:41247: bind: address already in use' >&2; exit 1\n"
        "fi\n"
        f"exec '{temporal_cli_path()}' \"$@\"\n"
    )
    fake.chmod(0o755)
    return fake, tally


async def test_a_start_that_meets_a_port_clash_of_the_clis_own_is_tried_again(
    tmp_path: Path,
) -> None:
    fake, tally = _clashing_cli(tmp_path, clashes=1)
    port, ui_port = free_ports(2)
    server = EmbeddedTemporal(
        data_dir=tmp_path / "data", port=port, ui_port=ui_port, executable=fake
    )
    async with server:
        client = await Client.connect(server.address)
        assert (
            await client.workflow_service.get_system_info(GetSystemInfoRequest())
        ).server_version
    assert tally.read_text().count("start") == 2
    assert "address already in use" in server.log_path.read_text()


async def test_a_port_clash_on_every_try_is_reported(tmp_path: Path) -> None:
    fake, tally = _clashing_cli(tmp_path, clashes=START_ATTEMPTS)
    port, ui_port = free_ports(2)
    server = EmbeddedTemporal(
        data_dir=tmp_path / "data", port=port, ui_port=ui_port, executable=fake
    )
    with pytest.raises(EmbeddedTemporalError, match="address already in use"):
        await server.start()
    assert tally.read_text().count("start") == START_ATTEMPTS
    assert server.process is None
