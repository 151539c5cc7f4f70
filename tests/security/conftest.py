"""Fixtures of the security tests: the real stack on SQLite, and a light app without Temporal.

The role matrix and the fuzzer use `api` from tests/api (dev server, worker, API over ASGI) on
SQLite only: who may do what is decided above the database, and PostgreSQL is covered by
tests/api. Throttling, body limits, CORS and logs need no workflow: they use `light_app`.
"""

from __future__ import annotations

from collections.abc import AsyncIterator, Callable
from contextlib import AbstractAsyncContextManager, asynccontextmanager
from pathlib import Path
from typing import Any, cast

import httpx
import pytest
from fastapi import FastAPI
from temporalio.client import Client

from service.app import create_app
from service.db import init_db, session_scope
from service.settings import Settings
from service.users import add_user
from tests.api.conftest import PASSWORD, USERS, api
from tests.service.conftest import FakeTemporalClient

__all__ = ["LightApp", "api", "database_url", "light_app"]

JWT_SECRET = "security-test-secret-long-enough-for-hs256-0123456789"


@pytest.fixture(autouse=True)
def _capture_notifications(monkeypatch: pytest.MonkeyPatch) -> None:
    """Record notifications instead of sending them: generated recipients have any address.

    Through the environment and autouse, so that it is set before `api` builds its settings
    and its worker (which reads the environment's).
    """
    monkeypatch.setenv("PERFBUDGET_NOTIFICATION_MODE", "capture")


@pytest.fixture
def database_url(sqlite_url: str) -> str:
    """SQLite only (overrides the SQLite + PostgreSQL parametrization of the suite)."""
    return sqlite_url


LightApp = Callable[..., AbstractAsyncContextManager[tuple[FastAPI, httpx.AsyncClient]]]


@pytest.fixture
def light_app(tmp_path: Path) -> LightApp:
    """Start an API (stand-in Temporal client, SQLite, the users of tests/api) with settings.

    `async with light_app(max_body_bytes=10) as (app, http): ...`
    """
    counter = 0

    @asynccontextmanager
    async def start(**overrides: Any) -> AsyncIterator[tuple[FastAPI, httpx.AsyncClient]]:
        nonlocal counter
        counter += 1
        settings = Settings(
            **{
                "environment": "test",
                "database_url": f"sqlite:///{tmp_path / f'light{counter}.db'}",
                "jwt_secret": JWT_SECRET,
                "log_format": "json",
                **overrides,
            }
        )
        init_db(settings)
        app = create_app(settings, temporal_client=cast(Client, FakeTemporalClient()))
        async with app.router.lifespan_context(app):
            with session_scope(settings) as session:
                for username, (role, department) in USERS.items():
                    add_user(
                        session=session,
                        username=username,
                        password=PASSWORD,
                        role=role,
                        department=department,
                    )
            transport = httpx.ASGITransport(app=app)
            async with httpx.AsyncClient(transport=transport, base_url="http://api") as http:
                yield app, http

    return start
