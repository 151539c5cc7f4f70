"""The API keeps idle client connections open for `api_keep_alive_seconds`, as `perfbudget api`
serves it (uvicorn's own 5 s closed a pooled connection just as a client reused it)."""

from __future__ import annotations

import asyncio
from pathlib import Path
from typing import cast

import pytest
from temporalio.client import Client

from service.app import create_app
from service.cli import _api_server
from service.db import init_db
from service.settings import Settings
from tests.faults.support import free_port
from tests.service.conftest import FakeTemporalClient

REQUEST = b"GET /livez HTTP/1.1\r\nHost: api\r\n\r\n"


async def _answers_after_idle(tmp_path: Path, keep_alive: int, idle: float) -> bool:
    """Whether a connection that answered once still answers after `idle` seconds."""
    settings = Settings(
        environment="test",
        database_url=f"sqlite:///{tmp_path / 'api.db'}",
        api_port=free_port(),
        api_keep_alive_seconds=keep_alive,
        log_format="json",
    )
    init_db(settings)
    server = _api_server(
        settings, create_app(settings, temporal_client=cast(Client, FakeTemporalClient()))
    )
    serving = asyncio.create_task(server.serve())
    try:
        while not server.started:  # noqa: ASYNC110  (uvicorn offers no event)
            await asyncio.sleep(0.02)
        reader, writer = await asyncio.open_connection("127.0.0.1", settings.api_port)
        writer.write(REQUEST)
        head = await reader.readuntil(b"\r\n\r\n")
        assert head.startswith(b"HTTP/1.1 200")
        length = next(
            int(line.split(b":")[1])
            for line in head.lower().split(b"\r\n")
            if line.startswith(b"content-length:")
        )
        await reader.readexactly(length)  # the rest of the answer
        await asyncio.sleep(idle)
        writer.write(REQUEST)
        try:
            first = await asyncio.wait_for(reader.readline(), timeout=5)
        except ConnectionError:
            first = b""
        writer.close()
        return first.startswith(b"HTTP/1.1 200")
    finally:
        server.should_exit = True
        await serving


@pytest.mark.parametrize(("keep_alive", "answers"), [(1, False), (75, True)])
async def test_an_idle_connection_is_kept_for_the_setting(
    tmp_path: Path, keep_alive: int, answers: bool
) -> None:
    assert await _answers_after_idle(tmp_path, keep_alive, idle=1.6) is answers


def test_the_default_outlasts_a_load_balancers_idle_timeout() -> None:
    # AWS ALB, GCP and nginx keep idle upstream connections for 60 s by default.
    assert Settings(environment="test").api_keep_alive_seconds > 60
