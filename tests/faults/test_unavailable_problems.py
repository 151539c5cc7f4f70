"""Which database and Temporal errors are "unavailable" (503 with Retry-After), which leave
an outcome unknown (504), and which are bugs (500).

The end-to-end outage is in test_database_unreachable.py (PostgreSQL); this covers every
driver's shape of the error, on SQLite and without a server.
"""

from __future__ import annotations

import sqlite3
from collections.abc import AsyncIterator
from pathlib import Path
from typing import cast

import httpx
import psycopg
import pytest
import pytest_asyncio
from fastapi import APIRouter, FastAPI
from sqlalchemy import exc as sa_exc
from temporalio.client import Client, WorkflowUpdateRPCTimeoutOrCancelledError
from temporalio.service import RPCError, RPCStatusCode

from service.app import create_app
from service.db import init_db
from service.problems import (
    DATABASE_UNAVAILABLE_DETAIL,
    INTERNAL_ERROR_DETAIL,
    OUTCOME_UNKNOWN_DETAIL,
    TEMPORAL_UNAVAILABLE_DETAIL,
    UPDATE_LIMIT_DETAIL,
)
from service.settings import Settings
from tests.service.conftest import FakeTemporalClient

# What must never reach a caller: the DSN, the driver, the SQL.
INTERNALS = "host=db.internal port=5432 user=perfbudget password=hunter2"

probe = APIRouter(prefix="/probe")


def _sqlite_error(message: str, code: int) -> sqlite3.OperationalError:
    error = sqlite3.OperationalError(message)
    error.sqlite_errorcode = code
    return error


def _wrapped(orig: Exception, *, invalidated: bool = False) -> BaseException:
    """The driver's error as SQLAlchemy raises it (its class mapped, the SQL attached)."""
    return sa_exc.DBAPIError.instance(
        f"SELECT secret FROM users -- {INTERNALS}",
        {"password": "hunter2"},
        orig,
        sqlite3.Error if isinstance(orig, sqlite3.Error) else psycopg.Error,
        connection_invalidated=invalidated,
    )


FAILURES: dict[str, BaseException] = {
    # PostgreSQL: connection refused, the server going away, a dead pooled connection.
    "pg-refused": _wrapped(psycopg.OperationalError(f"connection failed: {INTERNALS}")),
    "pg-closed": _wrapped(psycopg.InterfaceError(f"the connection is closed {INTERNALS}")),
    "pg-raw": psycopg.OperationalError(f"server closed the connection {INTERNALS}"),
    "pool-timeout": sa_exc.TimeoutError(f"QueuePool limit reached {INTERNALS}"),
    # SQLite: locked for longer than the busy timeout, or its file out of reach.
    "sqlite-locked": _wrapped(_sqlite_error("database is locked", sqlite3.SQLITE_BUSY)),
    "sqlite-cantopen": _wrapped(
        _sqlite_error("unable to open database file", sqlite3.SQLITE_CANTOPEN)
    ),
    # A disconnect SQLAlchemy recognised, whatever the driver class.
    "invalidated": _wrapped(
        psycopg.DatabaseError(f"SSL SYSCALL error {INTERNALS}"), invalidated=True
    ),
}
BUGS: dict[str, BaseException] = {
    "integrity": sa_exc.IntegrityError("INSERT ...", {}, psycopg.IntegrityError("duplicate key")),
    "sqlite-syntax": _wrapped(_sqlite_error('near "SELEC": syntax error', sqlite3.SQLITE_ERROR)),
    "programming": sa_exc.ProgrammingError("SELECT", {}, psycopg.ProgrammingError("no column")),
}


def _rpc(status: RPCStatusCode) -> RPCError:
    return RPCError(f"{status.name}: frontend.temporal.internal:7233 {INTERNALS}", status, b"")


# Temporal out of reach (the core SDK retried already), a call whose outcome is unknown, and a
# refusal that is a bug of ours.
TEMPORAL: dict[str, tuple[BaseException, int, str]] = {
    "unavailable": (_rpc(RPCStatusCode.UNAVAILABLE), 503, TEMPORAL_UNAVAILABLE_DETAIL),
    "exhausted": (_rpc(RPCStatusCode.RESOURCE_EXHAUSTED), 503, TEMPORAL_UNAVAILABLE_DETAIL),
    "update-timeout": (WorkflowUpdateRPCTimeoutOrCancelledError(), 504, OUTCOME_UNKNOWN_DETAIL),
    "deadline": (_rpc(RPCStatusCode.DEADLINE_EXCEEDED), 504, OUTCOME_UNKNOWN_DETAIL),
    "cancelled": (_rpc(RPCStatusCode.CANCELLED), 504, OUTCOME_UNKNOWN_DETAIL),
    "invalid": (_rpc(RPCStatusCode.INVALID_ARGUMENT), 500, INTERNAL_ERROR_DETAIL),
    # The server's refusal of an update past its limit per run, as it words it: nothing was
    # applied, and the run hands over to a new one (workflows.project.ROLLOVER_PATCH).
    "update-limit": (
        RPCError(
            "The limit on the total number of distinct updates in this workflow has been "
            "reached (2000). Make sure any duplicate updates share an Update ID so the server "
            "can deduplicate them, and consider rejecting updates that you aren't going to "
            "process. You can also Continue-as-New to avoid this; we recommend you check "
            "Continue-as-New Suggested in your Workflow.",
            RPCStatusCode.FAILED_PRECONDITION,
            b"",
        ),
        503,
        UPDATE_LIMIT_DETAIL,
    ),
    "precondition": (_rpc(RPCStatusCode.FAILED_PRECONDITION), 500, INTERNAL_ERROR_DETAIL),
}


@probe.get("/fail/{name}")
def fail(name: str) -> None:
    raise (FAILURES | BUGS | {k: v[0] for k, v in TEMPORAL.items()})[name]


@probe.get("/wrapped")
def wrapped() -> None:
    # A bug report raised from an outage is still the outage (the chain is followed).
    try:
        raise FAILURES["pg-refused"]
    except sa_exc.OperationalError as error:
        raise RuntimeError("could not load the project") from error


@pytest.fixture
def settings(tmp_path: Path) -> Settings:
    return Settings(
        environment="test", database_url=f"sqlite:///{tmp_path / 'api.db'}", log_format="json"
    )


@pytest_asyncio.fixture
async def http(settings: Settings) -> AsyncIterator[httpx.AsyncClient]:
    init_db(settings)
    app: FastAPI = create_app(settings, temporal_client=cast(Client, FakeTemporalClient()))
    app.include_router(probe)
    async with app.router.lifespan_context(app):
        transport = httpx.ASGITransport(app=app)
        async with httpx.AsyncClient(transport=transport, base_url="http://api") as client:
            yield client


def _assert_problem(response: httpx.Response, status: int, detail: str) -> None:
    assert response.status_code == status
    assert response.headers["content-type"] == "application/problem+json"
    body = response.json()
    assert (body["status"], body["detail"]) == (status, detail)
    for internal in ("hunter2", "db.internal", "5432", "SELECT", "psycopg", "sqlalchemy"):
        assert internal not in response.text


@pytest.mark.parametrize("name", sorted(FAILURES))
async def test_database_out_of_reach_is_503(http: httpx.AsyncClient, name: str) -> None:
    response = await http.get(f"/probe/fail/{name}")
    _assert_problem(response, 503, DATABASE_UNAVAILABLE_DETAIL)
    assert response.json()["title"] == "Service Unavailable"
    assert int(response.headers["retry-after"]) > 0


@pytest.mark.parametrize("name", sorted(BUGS))
async def test_other_database_errors_stay_500(http: httpx.AsyncClient, name: str) -> None:
    response = await http.get(f"/probe/fail/{name}")
    _assert_problem(response, 500, INTERNAL_ERROR_DETAIL)
    assert "retry-after" not in response.headers


async def test_an_error_raised_from_an_outage_is_503(http: httpx.AsyncClient) -> None:
    _assert_problem(await http.get("/probe/wrapped"), 503, DATABASE_UNAVAILABLE_DETAIL)


@pytest.mark.parametrize("name", sorted(TEMPORAL))
async def test_temporal_out_of_reach_or_unanswered(http: httpx.AsyncClient, name: str) -> None:
    _, status, detail = TEMPORAL[name]
    response = await http.get(f"/probe/fail/{name}")
    _assert_problem(response, status, detail)
    assert "temporal.internal" not in response.text
    # Only "try again later" says when; an unknown outcome is retried with the same key.
    assert ("retry-after" in response.headers) is (status == 503)
    if status == 504:
        assert response.json()["title"] == "Outcome unknown"
