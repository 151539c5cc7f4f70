"""The whole stack in one process: the real dev server, a worker, and the API over HTTP/ASGI."""

from __future__ import annotations

import asyncio
import uuid
from collections.abc import AsyncIterator
from concurrent.futures import ThreadPoolExecutor
from dataclasses import dataclass
from typing import Any

import httpx
import pytest_asyncio
from fastapi import FastAPI
from temporalio.testing import WorkflowEnvironment

from service.app import create_app
from service.db import init_db, session_scope
from service.settings import Settings
from service.users import add_user
from service.worker import build_worker

PASSWORD = "correct-horse-battery"
USERS = {
    "admin": ("admin", None),
    "fin": ("finance", None),
    "fin2": ("finance", None),
    "clerk1": ("department", "D1"),
    "clerk2": ("department", "D2"),
    "audit": ("auditor", None),
    "eval": ("evaluator", None),
}


@dataclass
class Api:
    http: httpx.AsyncClient
    settings: Settings
    app: FastAPI
    tokens: dict[str, str]

    def auth(self, username: str) -> dict[str, str]:
        return {"Authorization": f"Bearer {self.tokens[username]}"}

    async def get(self, path: str, as_: str, **kwargs: Any) -> httpx.Response:
        return await self.http.get(path, headers=self.auth(as_), **kwargs)

    async def post(
        self, path: str, as_: str, json: Any = None, headers: dict[str, str] | None = None
    ) -> httpx.Response:
        return await self.http.post(path, headers={**self.auth(as_), **(headers or {})}, json=json)

    async def act(
        self, code: str, action: str, as_: str, body: Any = None, key: str | None = None
    ) -> httpx.Response:
        """Take an action; on success, wait until the read model reflects it (its `seq`)."""
        headers = {"Idempotency-Key": key} if key else None
        response = await self.post(f"/api/projects/{code}/actions/{action}", as_, body, headers)
        if response.status_code == 200:
            await self.settled(code, response.json()["seq"])
        return response

    async def settled(self, code: str, seq: int, within: float = 10.0) -> None:
        """The projection is eventually consistent: wait until it reaches `seq`."""
        deadline = asyncio.get_running_loop().time() + within
        while True:
            detail = await self.get(f"/api/projects/{code}", "audit")
            if detail.status_code == 200 and detail.json()["seq"] >= seq:
                return
            if asyncio.get_running_loop().time() > deadline:
                raise AssertionError(f"projection of {code} did not reach #{seq}")
            await asyncio.sleep(0.02)


@pytest_asyncio.fixture
async def api(dev_env: WorkflowEnvironment, database_url: str) -> AsyncIterator[Api]:
    settings = Settings(
        environment="test",
        database_url=database_url,
        task_queue=f"api-{uuid.uuid4()}",
    )
    engine = init_db(settings)
    with session_scope(settings) as session:
        for username, (role, department) in USERS.items():
            add_user(
                session=session,
                username=username,
                password=PASSWORD,
                role=role,
                department=department,
            )
    app = create_app(settings, temporal_client=dev_env.client)
    with ThreadPoolExecutor(max_workers=4) as executor:
        worker = build_worker(
            dev_env.client, task_queue=settings.task_queue, engine=engine, executor=executor
        )
        # The app's lifespan ends (and disposes of the engine's pool) after the worker has
        # stopped: a connection a projection activity still held at the dispose would go back
        # to the discarded pool, and psycopg would warn when it is garbage-collected, in
        # whichever later test that happened.
        async with app.router.lifespan_context(app), worker:
            transport = httpx.ASGITransport(app=app)
            async with httpx.AsyncClient(transport=transport, base_url="http://api") as http:
                tokens = {}
                for username in USERS:
                    response = await http.post(
                        "/api/auth/token", data={"username": username, "password": PASSWORD}
                    )
                    assert response.status_code == 200, response.text
                    tokens[username] = response.json()["access_token"]
                yield Api(http=http, settings=settings, app=app, tokens=tokens)
