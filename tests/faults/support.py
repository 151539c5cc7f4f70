"""What the fault tests share: a real `perfbudget worker` process to kill, a webhook receiver
that counts deliveries per key, polling with deadlines, and "does the projection match the
workflow"."""

from __future__ import annotations

import asyncio
import contextlib
import hmac
import os
import signal
import socket
import sys
import threading
import time
from collections import Counter
from collections.abc import AsyncIterator, Awaitable, Callable, Iterator
from contextlib import asynccontextmanager, contextmanager
from dataclasses import dataclass, field
from datetime import UTC, datetime, timedelta
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer
from pathlib import Path
from typing import Any, TypeVar

from sqlalchemy import Engine
from sqlmodel import Session, col, select
from temporalio.api.enums.v1 import PendingActivityState, TaskQueueType
from temporalio.api.taskqueue.v1 import TaskQueue
from temporalio.api.workflow.v1 import PendingActivityInfo
from temporalio.api.workflowservice.v1 import DescribeTaskQueueRequest
from temporalio.client import Client, WorkflowHandle

from models.calendar import FiscalCalendar
from models.duties import deadline
from models.project_state import Actor, HistoryEntry, ProjectInfo, ProjectState
from models.rules import Rules
from models.tables import CycleRow, HistoryRow, ProjectRow
from models.vocabulary import Role
from service.notifications import DELIVERY_HEADER, SIGNATURE_HEADER, signature
from tests import factories as f
from workflows.project import ProjectWorkflow, ProjectWorkflowInput, workflow_id

T = TypeVar("T")

CST = 480  # minutes east of UTC: the business time zone
CALENDAR = FiscalCalendar()

WEBHOOK_SECRET = "fault-test-webhook-secret"
CLERK = Actor(username="clerk", role=Role.DEPARTMENT, department="D1")


# --- waiting ---------------------------------------------------------------------------------


async def wait_until(
    probe: Callable[[], Awaitable[T]],
    *,
    within: float,
    what: str,
    interval: float = 0.2,
    context: Callable[[], str] | None = None,
) -> T:
    """Poll `probe` until it returns something truthy; fail naming `what` after `within` s."""
    give_up = time.monotonic() + within
    while True:
        result = await probe()
        if result:
            return result
        if time.monotonic() > give_up:
            extra = f"\n{context()}" if context else ""
            raise AssertionError(f"timed out after {within:.0f}s waiting for {what}{extra}")
        await asyncio.sleep(interval)


async def task_queue_polled(client: Client, task_queue: str) -> bool:
    """A worker polls `task_queue` for workflow tasks (it has connected and started)."""
    response = await client.workflow_service.describe_task_queue(
        DescribeTaskQueueRequest(
            namespace=client.namespace,
            task_queue=TaskQueue(name=task_queue),
            task_queue_type=TaskQueueType.TASK_QUEUE_TYPE_WORKFLOW,
        )
    )
    return bool(response.pollers)


def free_port() -> int:
    with socket.socket(socket.AF_INET, socket.SOCK_STREAM) as sock:
        sock.bind(("127.0.0.1", 0))
        port: int = sock.getsockname()[1]
        return port


# --- a worker process ------------------------------------------------------------------------


def perfbudget_command() -> list[str]:
    """`perfbudget worker` as installed beside this interpreter (`.venv/bin/perfbudget`)."""
    script = Path(sys.executable).parent / "perfbudget"
    if script.is_file():
        return [str(script), "worker"]
    return [sys.executable, "-m", "service.cli", "worker"]


@dataclass
class WorkerProcess:
    """One `perfbudget worker` OS process, its output in `log_path`."""

    process: asyncio.subprocess.Process
    log_path: Path

    @classmethod
    async def start(cls, env: dict[str, str], log_path: Path) -> WorkerProcess:
        with log_path.open("ab") as log:
            process = await asyncio.create_subprocess_exec(
                *perfbudget_command(),
                env={**os.environ, **env},
                stdin=asyncio.subprocess.DEVNULL,
                stdout=log,
                stderr=asyncio.subprocess.STDOUT,
                start_new_session=True,
            )
        return cls(process=process, log_path=log_path)

    @property
    def alive(self) -> bool:
        return self.process.returncode is None

    async def kill(self) -> None:
        """SIGKILL: no graceful shutdown, no finishing of the activities in hand."""
        if self.alive:
            with contextlib.suppress(ProcessLookupError):
                os.killpg(self.process.pid, signal.SIGKILL)
        await self.process.wait()

    async def stop(self, grace: float = 40.0) -> None:
        """SIGTERM (graceful), then SIGKILL if it does not exit in time."""
        if self.alive:
            with contextlib.suppress(ProcessLookupError):
                os.killpg(self.process.pid, signal.SIGTERM)
            try:
                await asyncio.wait_for(self.process.wait(), grace)
            except TimeoutError:
                await self.kill()

    def log_tail(self, lines: int = 40) -> str:
        try:
            text = self.log_path.read_text(errors="replace")
        except OSError:
            return "(no log)"
        return f"--- {self.log_path.name} ---\n" + "\n".join(text.splitlines()[-lines:])


def worker_env(
    *, temporal_address: str, database_url: str, task_queue: str, **extra: str
) -> dict[str, str]:
    return {
        "PERFBUDGET_ENVIRONMENT": "test",
        "PERFBUDGET_TEMPORAL_ADDRESS": temporal_address,
        "PERFBUDGET_DATABASE_URL": database_url,
        "PERFBUDGET_TASK_QUEUE": task_queue,
        "PERFBUDGET_LOG_FORMAT": "json",
        **extra,
    }


@asynccontextmanager
async def worker_processes(
    env: dict[str, str], log_dir: Path
) -> AsyncIterator[Callable[[], Awaitable[WorkerProcess]]]:
    """A factory of worker processes; every one still alive is killed on the way out."""
    started: list[WorkerProcess] = []

    async def start() -> WorkerProcess:
        worker = await WorkerProcess.start(env, log_dir / f"worker-{len(started) + 1}.log")
        started.append(worker)
        return worker

    try:
        yield start
    finally:
        for worker in started:
            await worker.kill()


# --- a webhook receiver ----------------------------------------------------------------------


@dataclass
class WebhookReceiver:
    """A webhook endpoint as a careful receiver writes one: it verifies the signature and
    processes each `X-Perfbudget-Delivery` key once, acknowledging repeats without acting.

    `hold_next()` makes the next request wait inside the handler until `release()`: the moment
    at which a test kills the sender.
    """

    secret: str = WEBHOOK_SECRET
    received: Counter[str] = field(default_factory=Counter)  # every arrival, by key
    processed: list[str] = field(default_factory=list)  # first arrivals only, in order
    bad_signatures: int = 0
    _lock: threading.Lock = field(default_factory=threading.Lock)
    _hold: bool = False
    _held: threading.Event = field(default_factory=threading.Event)
    _gate: threading.Event = field(default_factory=threading.Event)
    _server: ThreadingHTTPServer | None = None

    @property
    def url(self) -> str:
        assert self._server is not None
        return f"http://127.0.0.1:{self._server.server_address[1]}/hook"

    def hold_next(self) -> None:
        with self._lock:
            self._hold = True
            self._held.clear()
            self._gate.clear()

    @property
    def holding(self) -> bool:
        """A request is waiting inside the handler."""
        return self._held.is_set()

    def release(self) -> None:
        self._gate.set()

    def _arrive(self, key: str, body: bytes, signed: str) -> bool:
        """Record one arrival; True if this request must wait for `release()`."""
        with self._lock:
            if not hmac.compare_digest(signed, signature(self.secret, body)):
                self.bad_signatures += 1
            self.received[key] += 1
            if self.received[key] == 1:
                self.processed.append(key)  # the receiver's one and only effect per key
            hold, self._hold = self._hold, False
            if hold:
                self._held.set()
            return hold

    @contextmanager
    def running(self) -> Iterator[WebhookReceiver]:
        receiver = self

        class Handler(BaseHTTPRequestHandler):
            def do_POST(self) -> None:
                body = self.rfile.read(int(self.headers.get("Content-Length", "0")))
                key = self.headers.get(DELIVERY_HEADER, "")
                if receiver._arrive(key, body, self.headers.get(SIGNATURE_HEADER, "")):
                    receiver._gate.wait(timeout=120)
                with contextlib.suppress(OSError):  # the sender may be dead by now
                    self.send_response(204)
                    self.end_headers()

            def log_message(self, format: str, *args: Any) -> None:
                pass  # quiet: the counters are the record

        server = ThreadingHTTPServer(("127.0.0.1", 0), Handler)
        server.daemon_threads = True
        thread = threading.Thread(target=server.serve_forever, daemon=True)
        self._server = server
        thread.start()
        try:
            yield self
        finally:
            self.release()
            server.shutdown()
            server.server_close()
            thread.join(timeout=5)


# --- workflows and the projection ------------------------------------------------------------


def filed_project(code: str, start: int, *, at: datetime | None = None) -> ProjectState:
    """A project as the API files it: state `filed`, one history entry."""
    at = at or datetime.now(UTC)
    info = ProjectInfo(**f.filing(code, start=start, end=start + 2), department="D1")
    return ProjectState.filed(info, actor=CLERK, at=at)


def active_project(code: str, *, goals_deadline: datetime) -> ProjectState:
    """A project activated two months before the goals deadline of its first year.

    Built as a continued-as-new input would carry it; its only open duty is the goals of its
    first year, due at `goals_deadline` (the end of a 31 October, or the next working day).
    """
    activated = goals_deadline - timedelta(days=60)
    start_year = goals_deadline.astimezone(UTC).year + 1
    project = filed_project(code, start_year, at=activated)
    submit = HistoryEntry(
        seq=2,
        at=activated,
        actor=CLERK.username,
        role=Role.DEPARTMENT,
        action="submit",
        fiscal_year=None,
        from_state="filed",
        to_state="active",
    )
    return project.model_copy(
        update={
            "state": "active",
            "entered": {**project.entered, "active": activated},
            "history": [*project.history, submit],
        }
    )


def goals_deadline_of(year: int) -> datetime:
    """The instant the goals for `year + 1` become overdue."""
    return deadline(CALENDAR.due(CALENDAR.goals_due, year), CST)


async def start_project(
    client: Client,
    task_queue: str,
    project: ProjectState,
    *,
    clock_offset_seconds: float = 0,
) -> WorkflowHandle[Any, Any]:
    return await client.start_workflow(
        ProjectWorkflow.run,
        ProjectWorkflowInput(
            project=project, rules=Rules(), clock_offset_seconds=clock_offset_seconds
        ),
        id=workflow_id(project.info.code),
        task_queue=task_queue,
    )


async def snapshot(handle: WorkflowHandle[Any, Any]) -> ProjectState:
    state: ProjectState = await handle.query(ProjectWorkflow.snapshot)
    return state


async def pending_activity(
    handle: WorkflowHandle[Any, Any], activity: str
) -> PendingActivityInfo | None:
    """The workflow's pending (scheduled, started or backing off) `activity`, if any."""
    description = await handle.describe()
    for pending in description.raw_description.pending_activities:
        if pending.activity_type.name == activity:
            return pending
    return None


async def pending_activity_started(handle: WorkflowHandle[Any, Any], activity: str) -> int:
    """The attempt of `activity` that a worker is running now, else 0."""
    pending = await pending_activity(handle, activity)
    if pending is None or pending.state != PendingActivityState.PENDING_ACTIVITY_STATE_STARTED:
        return 0
    return pending.attempt


def projected_seq(engine: Engine, code: str) -> int:
    with Session(engine) as session:
        row = session.get(ProjectRow, code)
        return row.seq if row is not None else 0


def projection_mismatches(engine: Engine, state: ProjectState) -> list[str]:
    """How the SQL read model of the project differs from the workflow's state (none: [])."""
    code = state.info.code
    with Session(engine) as session:
        row = session.get(ProjectRow, code)
        if row is None:
            return [f"no project row for {code}"]
        problems = []
        if row.seq != state.seq:
            problems.append(f"row seq {row.seq} != workflow seq {state.seq}")
        if row.state != state.state:
            problems.append(f"row state {row.state} != workflow state {state.state}")
        expected_snapshot = state.model_dump(mode="json", exclude={"history"})
        if row.snapshot != expected_snapshot:
            problems.append("the row's snapshot differs from the workflow's state")
        history = session.exec(
            select(HistoryRow).where(HistoryRow.code == code).order_by(col(HistoryRow.seq))
        ).all()
        projected = [(h.seq, h.action, h.to_state) for h in history]
        expected = [(e.seq, e.action, e.to_state) for e in state.history]
        if projected != expected:
            problems.append(f"history rows {projected} != workflow history {expected}")
        cycles = session.exec(select(CycleRow).where(CycleRow.code == code)).all()
        if sorted((c.fiscal_year, c.state) for c in cycles) != sorted(
            (c.fiscal_year, c.state) for c in state.cycles
        ):
            problems.append("cycle rows differ from the workflow's cycles")
        return problems


def notification_keys(state: ProjectState, recipient_id: int) -> list[str]:
    """The outbox keys the workflow's history calls for, with one recipient per desk."""
    return [f"{state.info.code}:{e.seq}:{recipient_id}" for e in state.history if e.notify]
