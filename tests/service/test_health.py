"""/healthz: 200 only when the database and Temporal both answer, else 503 naming what is down."""

from __future__ import annotations

import time
from datetime import timedelta
from pathlib import Path

import httpx
import pytest
from fastapi import FastAPI
from sqlalchemy import create_engine
from temporalio.service import RPCError, RPCStatusCode

from service.routes import health
from tests.service.conftest import FakeTemporalClient

PROBLEM_JSON = "application/problem+json"


class TestHealthy:
    async def test_all_up_is_200(self, client: httpx.AsyncClient) -> None:
        """Database and Temporal answering: 200 with each named ok, no token needed."""
        response = await client.get("/healthz")
        assert response.status_code == 200
        assert response.json() == {"status": "ok", "database": "ok", "temporal": "ok"}

    async def test_temporal_check_is_bounded(
        self, client: httpx.AsyncClient, temporal: FakeTemporalClient
    ) -> None:
        """The Temporal health RPC is given a deadline."""
        await client.get("/healthz")
        assert temporal.service_client.calls == [timedelta(seconds=health.CHECK_TIMEOUT_SECONDS)]


class TestTemporalDown:
    async def test_rpc_error_is_503(
        self, client: httpx.AsyncClient, temporal: FakeTemporalClient
    ) -> None:
        """Temporal refusing the health RPC: 503 problem naming temporal, database still ok."""
        temporal.service_client.error = RPCError(
            "connection refused", RPCStatusCode.UNAVAILABLE, b""
        )
        response = await client.get("/healthz")
        assert response.status_code == 503
        assert response.headers["content-type"] == PROBLEM_JSON
        body = response.json()
        assert body["detail"] == "not reachable: temporal"
        assert (body["database"], body["temporal"]) == ("ok", "down")
        assert "connection refused" not in response.text

    async def test_not_serving_is_503(
        self, client: httpx.AsyncClient, temporal: FakeTemporalClient
    ) -> None:
        """Temporal answering "not serving" counts as down."""
        temporal.service_client.healthy = False
        assert (await client.get("/healthz")).status_code == 503

    async def test_hanging_temporal_is_503_in_time(
        self,
        client: httpx.AsyncClient,
        temporal: FakeTemporalClient,
        monkeypatch: pytest.MonkeyPatch,
    ) -> None:
        """A Temporal that never answers makes /healthz 503 after the timeout, not hang."""
        monkeypatch.setattr(health, "CHECK_TIMEOUT_SECONDS", 0.1)
        temporal.service_client.hang = True
        started = time.perf_counter()
        response = await client.get("/healthz")
        assert response.status_code == 503
        assert time.perf_counter() - started < 2


class TestDatabaseDown:
    @pytest.fixture
    def broken_database(self, app: FastAPI, client: httpx.AsyncClient, tmp_path: Path) -> None:
        """Point the started app at a SQLite file in a directory that does not exist."""
        app.state.engine = create_engine(f"sqlite:///{tmp_path / 'missing' / 'x.db'}")

    @pytest.mark.usefixtures("broken_database")
    async def test_database_down_is_503(self, client: httpx.AsyncClient) -> None:
        """A database that does not answer SELECT 1: 503 naming the database."""
        response = await client.get("/healthz")
        assert response.status_code == 503
        body = response.json()
        assert body["detail"] == "not reachable: database"
        assert (body["database"], body["temporal"]) == ("down", "ok")

    @pytest.mark.usefixtures("broken_database")
    async def test_both_down_are_both_named(
        self, client: httpx.AsyncClient, temporal: FakeTemporalClient
    ) -> None:
        """With both down, the problem names both."""
        temporal.service_client.error = RuntimeError("boom")
        body = (await client.get("/healthz")).json()
        assert body["detail"] == "not reachable: database, temporal"
