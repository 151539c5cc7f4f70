"""Property-based fuzzing of the whole OpenAPI document (schemathesis) against the real stack.

For every operation, as each of a few roles, schemathesis generates requests that fit the
schema and requests that do not. Each must get no 5xx; every error must be problem details; a
refused request (4xx) must leave the application database as it was; an accepted action must
be in the project's history under the caller's name.

The actions endpoint takes any JSON object in the OpenAPI document (each action has its own
payload model), so random objects would only ever meet a 422. The fuzzed document adds one
operation per action with that action's payload schema, and generated path parameters are often
replaced by real identifiers: requests then reach the workflow and its guards.

The requests go to the ASGI app through httpx on the suite's event loop rather than through
schemathesis's own ASGI client, which runs the app on an event loop of its own: the Temporal
client the app acts through belongs to the loop that created it. Hypothesis runs in a worker
thread and hands each request to that loop.

Generation is derandomized (the same examples on every run, so CI is stable) and bounded per
operation: about 10 s per role on two cores.
"""

from __future__ import annotations

import asyncio
import copy
import time
import uuid
from collections.abc import Callable
from dataclasses import dataclass, field
from datetime import UTC, datetime
from typing import Any

import httpx
import pytest
import requests
import schemathesis
from hypothesis import HealthCheck, Phase, Verbosity, given, settings
from hypothesis import strategies as st
from hypothesis.errors import Unsatisfiable
from pydantic.json_schema import models_json_schema
from schemathesis import APIOperation, Case, GenerationMode
from schemathesis.core.result import Ok
from sqlalchemy import Table, func, select
from sqlmodel import Session, SQLModel, col

from models.actions import PAYLOADS
from models.lifecycle import PERSON_ACTIONS
from models.notification_tables import Notification, Recipient
from models.tables import CalendarSetting, Department, HistoryRow, ProjectRow, User
from service.db import engine_for, session_scope
from service.problems import PROBLEM_JSON
from tests import factories as f
from tests.api.conftest import Api

BASE_URL = "http://api"
JSON = "application/json"
ACTIONS_PATH = "/api/projects/{code}/actions/{action}"
# Examples per operation, per role and per generation mode (fitting the schema or not).
EXAMPLES = 5
# Per action and role, of bodies fitting the action's payload model.
ACTION_EXAMPLES = 4
# Who fuzzes: each finds other routes open (admin: users, recipients, calendar; finance:
# reviews and notifications; a department: filing and its own projects' actions).
FUZZ_ROLES = ("admin", "fin", "clerk1")
# What a refused request must not change, besides project and history counts: every table a
# person changes through the API. The outbox is left out: the worker writes it on its own time.
STATIC_TABLES: tuple[Table, ...] = tuple(
    SQLModel.metadata.tables[str(model.__tablename__)]
    for model in (User, Department, Recipient, CalendarSetting)
)
Operation = APIOperation[Any, Any, Any, Any]


@dataclass
class Seeds:
    """Real identifiers that generated path parameters are sometimes replaced by.

    Random strings would only ever find a 404; these reach the rules behind it.
    """

    projects: list[str]
    recipient: int
    notification: int
    year: int  # the fiscal year the seeded projects are in


@dataclass
class Fuzz:
    """One role's fuzzing run: where requests go and what went wrong."""

    api: Api
    seeds: Seeds
    username: str
    send: Callable[[dict[str, Any]], httpx.Response]
    failures: list[str] = field(default_factory=list)


async def _seed(api: Api) -> Seeds:
    year = datetime.now(UTC).year + 1
    # Workflow ids are unique on the whole dev server, which the session's tests share.
    suffix = uuid.uuid4().hex[:6].upper()
    filed, active = f"FZF{suffix}", f"FZA{suffix}"
    for code in (filed, active):
        response = await api.post("/api/projects", "clerk1", f.filing(code, start=year, end=year))
        assert response.status_code == 201, response.text
    for action, body in (("submit", {}), ("submit_goals", f.goals(year))):
        response = await api.post(f"/api/projects/{active}/actions/{action}", "clerk1", body)
        assert response.status_code == 200, response.text
        await asyncio.to_thread(_settle, api, active, response.json()["seq"])
    recipient = await api.post(
        "/api/recipients",
        "admin",
        {"name": "财政局", "desk": "finance", "channel": "email", "address": "cz@example.cn"},
    )
    assert recipient.status_code == 201, recipient.text
    with session_scope(api.settings) as session:
        now = datetime.now(UTC)
        sent = Notification(
            key=f"{filed}:1:0",
            project_code=filed,
            seq=1,
            event="file",
            desk="finance",
            recipient_id=0,
            channel="email",
            address="cz@example.cn",
            payload={},
            status="sent",
            attempts=1,
            created_at=now,
            sent_at=now,
        )
        session.add(sent)
        session.flush()
        assert sent.id is not None
        notification = sent.id
    return Seeds(
        projects=[filed, active],
        recipient=recipient.json()["id"],
        notification=notification,
        year=year,
    )


def _settle(api: Api, code: str, seq: int) -> None:
    """Wait until the read model has caught up with an accepted action.

    Blocking: it runs in the fuzzing thread, off the event loop that the worker needs.
    """
    engine = engine_for(api.settings.effective_database_url)
    deadline = time.monotonic() + 10
    while time.monotonic() < deadline:
        with Session(engine) as session:
            row = session.get(ProjectRow, code)
            if row is not None and row.seq >= seq:
                return
        time.sleep(0.01)
    raise AssertionError(f"the read model of {code} did not reach #{seq}")


def _database_state(api: Api) -> dict[str, Any]:
    """What a refused request must not change.

    History rows of people only: clock events (role `system`) fall due on the workflow's own
    time, e.g. for a generated project whose years are long past.
    """
    engine = engine_for(api.settings.effective_database_url)
    with Session(engine) as session:
        state: dict[str, Any] = {
            "projects": session.execute(select(func.count()).select_from(ProjectRow)).scalar(),
            "person_history": session.execute(
                select(col(HistoryRow.code), func.count())
                .where(col(HistoryRow.role) != "system")
                .group_by(col(HistoryRow.code))
                .order_by(col(HistoryRow.code))
            ).all(),
        }
        for table in STATIC_TABLES:
            state[table.name] = session.execute(
                select(table).order_by(*table.primary_key.columns)
            ).all()
    return state


def _recorded(api: Api, code: str, action: str, username: str) -> bool:
    """Whether the project's history has `action` taken by `username`."""
    engine = engine_for(api.settings.effective_database_url)
    with Session(engine) as session:
        found = session.execute(
            select(func.count())
            .select_from(HistoryRow)
            .where(
                col(HistoryRow.code) == code,
                col(HistoryRow.action) == action,
                col(HistoryRow.actor) == username,
            )
        ).scalar()
    return bool(found)


def fuzzed_document(document: dict[str, Any]) -> dict[str, Any]:
    """The app's OpenAPI document plus one operation per action, with its payload's schema."""
    document = copy.deepcopy(document)
    generic = document["paths"][ACTIONS_PATH]["post"]
    # Prefixed: the payloads' own definitions must not replace the app's of the same name.
    refs, definitions = models_json_schema(
        [(PAYLOADS[action], "validation") for action in PERSON_ACTIONS],
        ref_template="#/components/schemas/Payload_{model}",
    )
    schemas = document["components"]["schemas"]
    schemas.update({f"Payload_{name}": s for name, s in definitions.get("$defs", {}).items()})
    for action in PERSON_ACTIONS:
        operation = copy.deepcopy(generic)
        operation["operationId"] = f"{generic['operationId']}_{action}"
        operation["parameters"] = [p for p in generic["parameters"] if p["name"] != "action"]
        schema = refs[PAYLOADS[action], "validation"]
        operation["requestBody"] = {"required": True, "content": {JSON: {"schema": schema}}}
        document["paths"][ACTIONS_PATH.replace("{action}", action)] = {"post": operation}
    return document


def _with_seeds(case: Case[Operation], seeds: Seeds, pick: int) -> None:
    """Point the case at real things, chosen by `pick`."""
    if isinstance(case.body, dict) and "fiscal_year" in case.body and pick % 2:
        # The seeded projects' year: other years only ever meet the same guard.
        case.body["fiscal_year"] = seeds.year
    real: dict[str, Any] = {
        "code": seeds.projects[pick % len(seeds.projects)],
        "action": PERSON_ACTIONS[pick % len(PERSON_ACTIONS)],
        "recipient_id": seeds.recipient,
        "notification_id": seeds.notification,
        "username": ("clerk2", "eval", "nobody")[pick % 3],
    }
    if case.path.startswith("/api/departments/{code}"):
        real["code"] = ("D1", "D2", "DX")[pick % 3]
    for name in list(case.path_parameters or {}):
        if name in real:
            case.path_parameters[name] = real[name]


def _as_httpx(case: Case[Operation]) -> dict[str, Any]:
    """The request schemathesis would send with `requests`, as httpx arguments.

    Prepared by `requests` itself, so the bytes (form encoding of odd values, JSON of
    schema-breaking bodies, query strings) are exactly what schemathesis means to send.
    """
    kwargs = case.as_transport_kwargs(base_url=BASE_URL)
    prepared = requests.Request(
        method=kwargs["method"],
        url=kwargs["url"],
        headers=kwargs.get("headers"),
        params=kwargs.get("params"),
        data=kwargs.get("data"),
        json=kwargs.get("json"),
        files=kwargs.get("files"),
    ).prepare()
    headers = {
        name: value
        for name, value in prepared.headers.items()
        if name.lower() not in {"content-length", "connection", "authorization"}
    }
    return {
        "method": prepared.method,
        "url": prepared.url,
        "headers": headers,
        "content": prepared.body,
    }


def _problems_with(response: httpx.Response) -> list[str]:
    if response.status_code >= 500:
        return [f"server error {response.status_code}"]
    if response.status_code < 400:
        return []
    media_type = response.headers.get("content-type", "").split(";")[0]
    if media_type != PROBLEM_JSON:
        return [f"{response.status_code} is {media_type or 'untyped'}, not problem details"]
    body = response.json()
    wrong = [
        f"problem member {name!r} missing or not {kind.__name__}"
        for name, kind in (("type", str), ("title", str), ("status", int), ("detail", str))
        if not isinstance(body.get(name), kind)
    ]
    if body.get("status") != response.status_code:
        wrong.append(f"problem status {body.get('status')} != {response.status_code}")
    return wrong


def _check_one(fuzz: Fuzz, case: Case[Operation], mode: GenerationMode) -> None:
    try:
        request = _as_httpx(case)
        httpx.Request(**request)  # a header httpx cannot encode is no request to a server
    except (UnicodeError, ValueError, TypeError, requests.RequestException):
        return
    before = _database_state(fuzz.api)
    response = fuzz.send(request)
    wrong = _problems_with(response)
    if 400 <= response.status_code < 500 and _database_state(fuzz.api) != before:
        wrong.append("a refused request changed the database")
    if response.status_code < 300 and "/actions/" in case.path:
        code = case.path_parameters["code"]
        action = case.path_parameters.get("action") or case.path.rsplit("/", 1)[-1]
        _settle(fuzz.api, code, response.json()["seq"])
        if not _recorded(fuzz.api, code, action, fuzz.username):
            wrong.append(f"accepted {action} is not in the history under {fuzz.username}")
    if wrong:
        fuzz.failures.append(
            f"{request['method']} {request['url']} [{mode.value}]: {'; '.join(wrong)}\n"
            f"  sent: {request['content']!r:.300}\n  got: {response.text:.300}"
        )


def _fuzz_operation(fuzz: Fuzz, operation: Operation, mode: GenerationMode, examples: int) -> None:
    @settings(
        max_examples=examples,
        derandomize=True,  # the same examples on every run: CI is stable
        database=None,  # nothing stored between runs either
        deadline=None,  # a request through Temporal takes what it takes
        phases=[Phase.explicit, Phase.generate],  # no shrinking: the report has the request
        suppress_health_check=list(HealthCheck),
        verbosity=Verbosity.quiet,
    )
    @given(
        case=operation.as_strategy(generation_mode=mode),
        use_seeds=st.booleans(),
        pick=st.integers(0, 99),
    )
    def check(case: Case[Operation], use_seeds: bool, pick: int) -> None:
        if use_seeds:
            _with_seeds(case, fuzz.seeds, pick)
        _check_one(fuzz, case, mode)

    try:
        check()
    except Unsatisfiable:
        # Nothing to break in an operation without parameters or body (GET /healthz).
        assert mode is GenerationMode.NEGATIVE


def _plan(operation: Operation) -> list[tuple[GenerationMode, int]]:
    one_action = operation.path != ACTIONS_PATH and operation.path.startswith(
        ACTIONS_PATH.removesuffix("{action}")
    )
    if one_action:
        # Schema-breaking bodies are the generic actions operation's to send.
        return [(GenerationMode.POSITIVE, ACTION_EXAMPLES)]
    return [(GenerationMode.POSITIVE, EXAMPLES), (GenerationMode.NEGATIVE, EXAMPLES)]


@pytest.mark.timeout(180)
@pytest.mark.parametrize("role", FUZZ_ROLES)
async def test_generated_requests_get_no_5xx_and_refusals_change_nothing(
    api: Api, role: str
) -> None:
    """Every operation, fed schema-fitting and schema-breaking input, answers as it should."""
    seeds = await _seed(api)
    schema = schemathesis.openapi.from_dict(fuzzed_document(api.app.openapi()))
    operations = [r.ok() for r in schema.get_all_operations() if isinstance(r, Ok)]
    # The whole API and every action, not a parse failure.
    assert len(operations) >= 20 + len(PERSON_ACTIONS)
    loop = asyncio.get_running_loop()
    token = {"Authorization": f"Bearer {api.tokens[role]}"}

    def send(request: dict[str, Any]) -> httpx.Response:
        request = {**request, "headers": {**request["headers"], **token}}
        future = asyncio.run_coroutine_threadsafe(api.http.request(**request), loop)
        return future.result(timeout=60)

    fuzz = Fuzz(api=api, seeds=seeds, username=role, send=send)

    def run() -> None:
        for operation in operations:
            for mode, examples in _plan(operation):
                _fuzz_operation(fuzz, operation, mode, examples)

    await asyncio.to_thread(run)
    assert not fuzz.failures, f"{len(fuzz.failures)} bad answers:\n" + "\n".join(fuzz.failures)
