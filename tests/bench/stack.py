"""One benchmark stack: an embedded dev server on file SQLite, our worker, bare workers (the
baseline workflow in Temporal's default sandbox, as ours runs, and without it), and the API
served over real HTTP by uvicorn — all measured through the same Temporal client."""

from __future__ import annotations

import asyncio
import socket
import tempfile
import uuid
from collections.abc import AsyncIterator
from concurrent.futures import ThreadPoolExecutor
from contextlib import asynccontextmanager
from dataclasses import dataclass
from pathlib import Path

import aiohttp
import httpx
import uvicorn
from temporalio.client import Client
from temporalio.worker import UnsandboxedWorkflowRunner, Worker

from service.app import create_app
from service.db import init_db, session_scope
from service.devserver import EmbeddedTemporal
from service.settings import Settings
from service.temporal_client import connect_client
from service.users import add_user
from service.worker import build_worker
from tests.bench.bare import BareWorkflow

PASSWORD = "bench-password-1"


def free_port() -> int:
    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        port: int = s.getsockname()[1]
        return port


@dataclass
class Stack:
    client: Client
    http: httpx.AsyncClient  # for setting up and for checks
    # For the timed round trips: the client runs in the process it measures, and aiohttp costs
    # about a third of httpx's CPU per request (0.2 ms against 0.7 ms for a bare GET).
    timed_http: aiohttp.ClientSession
    settings: Settings
    bare_queue: str  # the baseline in the sandbox, as our worker runs workflows
    unsandboxed_queue: str  # the same workflow without the sandbox, for reference
    tokens: dict[str, str]

    def auth(self, username: str) -> dict[str, str]:
        return {"Authorization": f"Bearer {self.tokens[username]}"}


@asynccontextmanager
async def stack(database_url: str | None = None) -> AsyncIterator[Stack]:
    with tempfile.TemporaryDirectory(prefix="perfbudget-bench-") as tmp:
        data = Path(tmp)
        temporal = EmbeddedTemporal(data_dir=data, port=free_port(), ui_port=free_port())
        api_port = free_port()
        settings = Settings(
            environment="test",
            data_dir=data,
            database_url=database_url or f"sqlite:///{data / 'bench.db'}",
            temporal_address=temporal.address,
            api_port=api_port,
            task_queue=f"bench-{uuid.uuid4()}",
            log_level="WARNING",
            # No mail server runs beside the bench: sending would be refused and retried with
            # backoff in the background (five tries per message) through the blocks timed
            # after it. Captured, a delivery is one UPDATE: the bench times actions, and
            # mailing about them is the worker's background work after them.
            notification_mode="capture",
        )
        engine = init_db(settings)
        with session_scope(settings) as session:
            add_user(
                session=session,
                username="clerk",
                password=PASSWORD,
                role="department",
                department="D1",
            )
            add_user(session=session, username="fin", password=PASSWORD, role="finance")
        async with temporal:
            client = await connect_client(settings)
            bare_queue = f"bare-{uuid.uuid4()}"
            unsandboxed_queue = f"bare-unsandboxed-{uuid.uuid4()}"
            server = uvicorn.Server(
                uvicorn.Config(
                    create_app(settings, temporal_client=client),
                    host="127.0.0.1",
                    port=api_port,
                    log_level="warning",
                    access_log=False,
                    # As `perfbudget api` runs it: the timed clients' pooled connections sit
                    # idle between blocks for longer than uvicorn's default of 5 s.
                    timeout_keep_alive=settings.api_keep_alive_seconds,
                )
            )
            with ThreadPoolExecutor(max_workers=8) as executor:
                ours = build_worker(
                    client,
                    task_queue=settings.task_queue,
                    engine=engine,
                    executor=executor,
                    settings=settings,
                )
                bare = Worker(client, task_queue=bare_queue, workflows=[BareWorkflow])
                unsandboxed = Worker(
                    client,
                    task_queue=unsandboxed_queue,
                    workflows=[BareWorkflow],
                    workflow_runner=UnsandboxedWorkflowRunner(),
                )
                async with ours, bare, unsandboxed:
                    serving = asyncio.create_task(server.serve())
                    while not server.started:  # noqa: ASYNC110  (uvicorn offers no event)
                        await asyncio.sleep(0.05)
                    limits = httpx.Limits(max_connections=64, max_keepalive_connections=64)
                    async with (
                        httpx.AsyncClient(
                            base_url=f"http://127.0.0.1:{api_port}", limits=limits, timeout=60
                        ) as http,
                        aiohttp.ClientSession(
                            base_url=f"http://127.0.0.1:{api_port}",
                            connector=aiohttp.TCPConnector(limit=64),
                            timeout=aiohttp.ClientTimeout(total=60),
                        ) as timed_http,
                    ):
                        tokens = {}
                        for user in ("clerk", "fin"):
                            r = await http.post(
                                "/api/auth/token", data={"username": user, "password": PASSWORD}
                            )
                            r.raise_for_status()
                            tokens[user] = r.json()["access_token"]
                        yield Stack(
                            client,
                            http,
                            timed_http,
                            settings,
                            bare_queue,
                            unsandboxed_queue,
                            tokens,
                        )
                    server.should_exit = True
                    await serving
