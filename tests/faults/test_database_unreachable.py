"""The application database (PostgreSQL) unreachable for a while, the API and the worker up.

The outage is real: the database stops accepting connections (`ALLOW_CONNECTIONS false`) and
every open session to it is terminated, as when the server restarts or the network drops.
Meanwhile:

- what the workflows accept is not lost: a deadline that falls due is recorded by its
  workflow, the projection activity fails, is retried by Temporal, and writes it once the
  database is back;
- reads answer 503 problem details with `Retry-After`, saying nothing about the database's
  address, driver or SQL; an action asked for meanwhile is refused with 503 before it reaches
  the workflow (the caller is not authenticated without the database), and its retry with the
  same `Idempotency-Key` applies it once.
"""

from __future__ import annotations

import asyncio
import time
import uuid
from collections.abc import AsyncIterator, Awaitable, Callable, Iterator
from concurrent.futures import ThreadPoolExecutor
from contextlib import asynccontextmanager
from datetime import UTC, datetime, timedelta
from typing import Any

import httpx
import psycopg
import pytest
from psycopg import sql
from sqlalchemy.engine import URL, make_url
from temporalio.client import (
    Client,
    Interceptor,
    OutboundInterceptor,
    StartWorkflowUpdateInput,
    WorkflowUpdateHandle,
)
from temporalio.testing import WorkflowEnvironment

from activities.projection import PROJECT_SNAPSHOT
from models.engine_time import business_today
from models.rules import Rules
from service.app import create_app
from service.db import init_db, session_scope
from service.problems import DATABASE_UNAVAILABLE_DETAIL
from service.settings import Settings
from service.users import add_user
from service.worker import build_worker
from tests import factories as f
from tests.faults.support import (
    active_project,
    goals_deadline_of,
    pending_activity,
    snapshot,
    start_project,
    wait_until,
)
from tests.support.databases import fresh_postgres_database, libpq_uri, postgres_base_url
from workflows.project import workflow_id

PASSWORD = "correct-horse-battery"
USERS = {"fin": ("finance", None), "clerk": ("department", "D1")}
CATCH_UP_SECONDS = 60
# Business time starts this long before a goals deadline: enough to project the project's
# first entries and cut the database before the deadline falls due.
DEADLINE_LEAD = 8.0


class BeforeNextUpdate(Interceptor):
    """Runs `hook` once, just before the client's next workflow update leaves for the server."""

    def __init__(self) -> None:
        self.hook: Callable[[], Awaitable[None]] | None = None

    def intercept_client(self, next: OutboundInterceptor) -> OutboundInterceptor:
        return _BeforeUpdate(next, self)


class _BeforeUpdate(OutboundInterceptor):
    def __init__(self, next: OutboundInterceptor, owner: BeforeNextUpdate) -> None:
        super().__init__(next)
        self._owner = owner

    async def start_workflow_update(
        self, input: StartWorkflowUpdateInput
    ) -> WorkflowUpdateHandle[Any]:
        hook, self._owner.hook = self._owner.hook, None
        if hook is not None:
            await hook()
        return await super().start_workflow_update(input)


def _set_reachable(base: URL, database: str, *, reachable: bool) -> None:
    with psycopg.connect(libpq_uri(base), autocommit=True) as admin:
        admin.execute(
            sql.SQL("ALTER DATABASE {} ALLOW_CONNECTIONS {}").format(
                sql.Identifier(database), sql.SQL("true" if reachable else "false")
            )
        )
        if not reachable:
            admin.execute(
                "SELECT pg_terminate_backend(pid) FROM pg_stat_activity"
                " WHERE datname = %s AND pid <> pg_backend_pid()",
                (database,),
            )


@pytest.fixture
def postgres() -> Iterator[tuple[URL, str]]:
    """(server URL, URL of a fresh database on it)."""
    base = postgres_base_url()
    with fresh_postgres_database(base) as url:
        yield base, url


def _assert_unavailable(response: httpx.Response, database: str) -> None:
    assert response.status_code == 503, response.text
    assert response.headers["content-type"] == "application/problem+json"
    assert int(response.headers["retry-after"]) > 0
    assert response.json() == {
        "type": "about:blank",
        "title": "Service Unavailable",
        "status": 503,
        "detail": DATABASE_UNAVAILABLE_DETAIL,
    }
    text = response.text.lower()
    for internal in (database, "psycopg", "sqlalchemy", "postgres", "5432", "select", "fatal"):
        assert internal not in text


def _users(settings: Settings) -> None:
    with session_scope(settings) as session:
        for username, (role, department) in USERS.items():
            add_user(
                session=session,
                username=username,
                password=PASSWORD,
                role=role,
                department=department,
            )


class Stack:
    """The API (over ASGI) and an in-process worker on one database and the session dev server."""

    def __init__(self, http: httpx.AsyncClient, auth: dict[str, dict[str, str]], code: str):
        self.http = http
        self.auth = auth
        self.code = code

    async def act(
        self, action: str, as_: str, body: dict[str, Any], key: str | None = None
    ) -> httpx.Response:
        headers = {**self.auth[as_], **({"Idempotency-Key": key} if key else {})}
        return await self.http.post(
            f"/api/projects/{self.code}/actions/{action}", headers=headers, json=body
        )

    async def read(self, path: str | None = None) -> httpx.Response:
        return await self.http.get(path or f"/api/projects/{self.code}", headers=self.auth["fin"])

    async def projected(self, seq: int) -> bool:
        response = await self.read()
        return response.status_code == 200 and response.json()["seq"] == seq


@asynccontextmanager
async def running_stack(
    env: WorkflowEnvironment, settings: Settings, code: str, client: Client | None = None
) -> AsyncIterator[Stack]:
    engine = init_db(settings)
    _users(settings)
    app = create_app(settings, temporal_client=client or env.client)
    with ThreadPoolExecutor(max_workers=4) as executor:
        worker = build_worker(
            env.client, task_queue=settings.task_queue, engine=engine, executor=executor
        )
        transport = httpx.ASGITransport(app=app)
        async with (
            app.router.lifespan_context(app),  # ends after the worker (see tests/api/conftest)
            worker,
            httpx.AsyncClient(transport=transport, base_url="http://api") as http,
        ):
            auth = {}
            for username in USERS:
                token = await http.post(
                    "/api/auth/token", data={"username": username, "password": PASSWORD}
                )
                assert token.status_code == 200, token.text
                auth[username] = {"Authorization": f"Bearer {token.json()['access_token']}"}
            yield Stack(http, auth, code)


def _settings(database_url: str) -> Settings:
    return Settings(
        environment="test", database_url=database_url, task_queue=f"faults-{uuid.uuid4()}"
    )


@pytest.mark.postgresql
async def test_database_unreachable_while_a_deadline_falls_due(
    dev_env: WorkflowEnvironment, postgres: tuple[URL, str]
) -> None:
    """Reads are 503 problems, actions are refused (503) and applied once when retried, and
    the overdue notice a workflow recorded during the outage reaches the read model after it."""
    base, database_url = postgres
    database = make_url(database_url).database
    assert database is not None
    settings = _settings(database_url)
    code = f"DB-{uuid.uuid4().hex[:6].upper()}"
    year = business_today(datetime.now(UTC), Rules()).year
    due = goals_deadline_of(year)
    handle = dev_env.client.get_workflow_handle(workflow_id(code))

    async with running_stack(dev_env, settings, code) as api:
        started = time.monotonic()
        offset = (due - timedelta(seconds=DEADLINE_LEAD) - datetime.now(UTC)).total_seconds()
        await start_project(
            dev_env.client,
            settings.task_queue,
            active_project(code, goals_deadline=due),
            clock_offset_seconds=offset,
        )
        # file, submit, and the reminder (−7 days, due at once) are in the read model.
        await wait_until(lambda: api.projected(3), within=30, what="the projection of #3")
        assert time.monotonic() - started < DEADLINE_LEAD, "the deadline passed before the outage"
        try:
            await asyncio.to_thread(_set_reachable, base, database, reachable=False)
            for path in (
                "/api/projects",
                f"/api/projects/{code}",
                f"/api/projects/{code}/history",
            ):
                _assert_unavailable(await api.read(path), database)
            goals = f.goals(year + 1)
            refused = await api.act("submit_goals", "clerk", goals, key="G-1")
            _assert_unavailable(refused, database)
            health = await api.http.get("/healthz")
            assert health.status_code == 503
            assert health.json()["database"] == "down"

            # The deadline falls due: the workflow records it, its projection fails and is
            # retried by Temporal.
            async def overdue() -> bool:
                return any(e.action == "overdue" for e in (await snapshot(handle)).history)

            await wait_until(overdue, within=DEADLINE_LEAD + 30, what="the overdue notice")

            async def retrying() -> bool:
                pending = await pending_activity(handle, PROJECT_SNAPSHOT)
                return pending is not None and pending.attempt >= 2

            await wait_until(retrying, within=30, what="the projection activity to be retried")
            assert [e.action for e in (await snapshot(handle)).history] == [
                "file",
                "submit",
                "reminder",
                "overdue",
            ], "the refused action never reached the workflow"
        finally:
            await asyncio.to_thread(_set_reachable, base, database, reachable=True)

        # Back: the read model catches up with what was recorded during the outage.
        await wait_until(lambda: api.projected(4), within=CATCH_UP_SECONDS, what="#4 projected")
        history = (await api.read(f"/api/projects/{code}/history")).json()
        assert [(h["seq"], h["action"]) for h in history] == [
            (e.seq, e.action) for e in (await snapshot(handle)).history
        ]
        # The caller retries the refused action with its key, twice: it applies once.
        first = await api.act("submit_goals", "clerk", goals, key="G-1")
        again = await api.act("submit_goals", "clerk", goals, key="G-1")
        assert first.status_code == again.status_code == 200, again.text
        assert first.json()["seq"] == again.json()["seq"] == 5
        actions = [e.action for e in (await snapshot(handle)).history]
        assert actions == ["file", "submit", "reminder", "overdue", "submit_goals"]
        await handle.terminate("test finished")


@pytest.mark.postgresql
async def test_database_lost_in_the_middle_of_an_action(
    dev_env: WorkflowEnvironment, postgres: tuple[URL, str]
) -> None:
    """The database goes away after the API has read the project, just as the workflow takes
    the action: the caller is told it was accepted (200, from the workflow's own state), and
    the read model has it once the database is back."""
    base, database_url = postgres
    database = make_url(database_url).database
    assert database is not None
    settings = _settings(database_url)
    code = f"DB-{uuid.uuid4().hex[:6].upper()}"
    year = datetime.now(UTC).year + 1
    handle = dev_env.client.get_workflow_handle(workflow_id(code))
    before_update = BeforeNextUpdate()
    config = dev_env.client.config()
    config["interceptors"] = [before_update]

    async def cut() -> None:
        await asyncio.to_thread(_set_reachable, base, database, reachable=False)

    async with running_stack(dev_env, settings, code, Client(**config)) as api:
        filed = await api.http.post(
            "/api/projects",
            headers=api.auth["clerk"],
            json=f.filing(code, start=year, end=year + 2),
        )
        assert filed.status_code == 201, filed.text
        for action, body in (("submit", {}), ("submit_goals", f.goals(year))):
            assert (await api.act(action, "clerk", body)).status_code == 200
        await wait_until(lambda: api.projected(3), within=30, what="the projection of #3")
        try:
            before_update.hook = cut
            accepted = await api.act("approve_goals", "fin", {"fiscal_year": year}, key="A-1")
            assert (await snapshot(handle)).history[-1].action == "approve_goals"
            assert accepted.status_code == 200, accepted.text
            assert accepted.json()["seq"] == 4
            assert accepted.json()["cycles"][0]["state"] == "goals_approved"
        finally:
            await asyncio.to_thread(_set_reachable, base, database, reachable=True)
        await wait_until(lambda: api.projected(4), within=CATCH_UP_SECONDS, what="#4 projected")
        await handle.terminate("test finished")
