"""The scenario: its JSON schema, the checks that name what is wrong and where, and the
checked `Scenario` the simulator plays."""

from __future__ import annotations

import json
import sys
from collections.abc import Iterable, Mapping, Sequence
from dataclasses import dataclass
from datetime import date, datetime, timedelta, timezone
from pathlib import Path
from typing import Annotated, Any

from pydantic import BaseModel, ConfigDict, Field, PlainValidator, ValidationError

from models.actions import PAYLOADS
from models.department_actions import DEPARTMENT_PAYLOADS
from models.indicators import Code
from models.lifecycle import PERSON_ACTIONS
from models.project_state import Actor, ProjectInfo
from models.rules import Rules
from models.vocabulary import Role
from service.experts import ExpertCreate
from service.key_evaluations import AssignmentRequest, SelectionRequest

# A step given as a date happens at this business hour; the scenario starts at midnight.
STEP_HOUR = 9
_YEAR = timedelta(days=365.2425)
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
