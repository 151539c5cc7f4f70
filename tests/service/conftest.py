"""The API on a temporary SQLite database with a stand-in Temporal client.

The stand-in supports only what `/healthz` calls; tests that need real workflows use the dev
server fixtures in `tests/api`.
"""

from __future__ import annotations

import asyncio
from collections.abc import AsyncIterator, Iterator
from dataclasses import dataclass, field
from datetime import timedelta
from pathlib import Path
from typing import Any, cast

import httpx
import pytest
import pytest_asyncio
from fastapi import FastAPI
from sqlmodel import Session
from temporalio.client import Client

from service.app import create_app
from service.db import engine_for, init_db
from service.settings import Settings
from service.users import add_user

PASSWORD = "correct-horse-battery"
SECRET = "test-secret-that-is-long-enough-for-hs256-0123456789"


@dataclass
class FakeServiceClient:
    """Answers `check_health` as told: healthy, unhealthy, raising, or never."""

    healthy: bool = True
    error: Exception | None = None
    hang: bool = False
    calls: list[timedelta | None] = field(default_factory=list)

    # The name `timeout` is the real `ServiceClient.check_health` signature's.
    async def check_health(self, *, timeout: timedelta | None = None) -> bool:  # noqa: ASYNC109
        self.calls.append(timeout)
        if self.hang:
            await asyncio.Event().wait()
        if self.error is not None:
            raise self.error
        return self.healthy


@dataclass
class FakeTemporalClient:
    service_client: FakeServiceClient = field(default_factory=FakeServiceClient)


@pytest.fixture
def settings(tmp_path: Path) -> Settings:
    return Settings(
        environment="test",
        database_url=f"sqlite:///{tmp_path / 'api.db'}",
        jwt_secret=SECRET,
        token_ttl_minutes=15,
        log_format="json",
    )


@pytest.fixture
def temporal() -> FakeTemporalClient:
    return FakeTemporalClient()


@pytest.fixture
def app(settings: Settings, temporal: FakeTemporalClient) -> FastAPI:
    init_db(settings)
    return create_app(settings, temporal_client=cast(Client, temporal))


@pytest_asyncio.fixture
async def client(app: FastAPI) -> AsyncIterator[httpx.AsyncClient]:
    """An HTTP client on the started app (httpx over ASGI; Starlette's TestClient now warns)."""
    # The transport re-raises what escapes the app, so a bug that bypasses the 500 problem
    # handling fails the test instead of passing unnoticed.
    async with app.router.lifespan_context(app):
        transport = httpx.ASGITransport(app=app)
        async with httpx.AsyncClient(transport=transport, base_url="http://api") as http:
            yield http


@pytest.fixture
def session(settings: Settings, client: httpx.AsyncClient) -> Iterator[Session]:
    """A session on the app's database (tables exist once the client has started the app)."""
    with Session(engine_for(settings.effective_database_url), expire_on_commit=False) as db:
        yield db


@pytest.fixture
def users(session: Session) -> dict[str, str]:
    """One user per role, all with PASSWORD; maps username to role."""
    people = {
        "admin": ("admin", None),
        "fin": ("finance", None),
        "clerk": ("department", "D1"),
        "audit": ("auditor", None),
        "eval": ("evaluator", None),
    }
    for username, (role, department) in people.items():
        add_user(
            session=session,
            username=username,
            password=PASSWORD,
            role=role,
            department=department,
        )
    return {username: role for username, (role, _) in people.items()}


async def sign_in(
    client: httpx.AsyncClient, username: str, password: str = PASSWORD
) -> dict[str, str]:
    """Authorization headers for `username`, via the token endpoint."""
    response = await client.post(
        "/api/auth/token", data={"username": username, "password": password}
    )
    assert response.status_code == 200, response.text
    return {"Authorization": f"Bearer {response.json()['access_token']}"}


def logged_events(caplog: pytest.LogCaptureFixture) -> list[dict[str, Any]]:
    """The structlog event dicts that reached stdlib logging (context variables merged in)."""
    return [record.msg for record in caplog.records if isinstance(record.msg, dict)]
