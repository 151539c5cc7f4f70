"""The whole product as a user meets it: `perfbudget up`'s parts on real ports.

The embedded Temporal dev server with its UI (as `perfbudget up` starts it), a worker, and the
API served by uvicorn over HTTP, so that a real browser can open both the workbench and the
Temporal UI. One stack for the module: starting it takes a few seconds.
"""

from __future__ import annotations

import asyncio
import socket
import uuid
from collections.abc import AsyncIterator
from concurrent.futures import ThreadPoolExecutor
from dataclasses import dataclass
from pathlib import Path

import pytest
import pytest_asyncio
import uvicorn

from models.tables import Department
from service.app import create_app
from service.db import init_db, session_scope
from service.devserver import EmbeddedTemporal
from service.settings import Settings
from service.temporal_client import connect_client
from service.users import add_user
from service.worker import build_worker

PASSWORD = "correct-horse-battery"
DEPARTMENT_NAME = "区住房和城乡建设局"
USERS = {"clerk": ("department", "D1"), "fin": ("finance", None), "clerk2": ("department", "D2")}


def _free_port() -> int:
    with socket.socket() as probe:
        probe.bind(("127.0.0.1", 0))
        port: int = probe.getsockname()[1]
        return port


@dataclass(frozen=True)
class Stack:
    base_url: str
    ui_url: str
    settings: Settings


@pytest_asyncio.fixture(scope="module", loop_scope="session")
async def stack(tmp_path_factory: pytest.TempPathFactory) -> AsyncIterator[Stack]:
    data_dir: Path = tmp_path_factory.mktemp("e2e")
    settings = Settings(
        environment="test",
        data_dir=data_dir,
        api_port=_free_port(),
        temporal_port=_free_port(),
        ui_port=_free_port(),
        task_queue=f"e2e-{uuid.uuid4()}",
        notification_mode="capture",
        log_format="json",
        demo=False,
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
        named = session.get(Department, "D1")
        assert named is not None
        named.name = DEPARTMENT_NAME  # pages show names, not codes
        session.commit()
    async with EmbeddedTemporal.from_settings(settings) as temporal:
        client = await connect_client(settings)
        app = create_app(settings, temporal_client=client)
        server = uvicorn.Server(
            uvicorn.Config(
                app,
                host="127.0.0.1",
                port=settings.api_port,
                log_config=None,
                loop="none",
                lifespan="on",
            )
        )
        with ThreadPoolExecutor(max_workers=4) as executor:
            worker = build_worker(
                client,
                task_queue=settings.task_queue,
                engine=engine,
                executor=executor,
                settings=settings,
            )
            async with worker:
                serving = asyncio.create_task(server.serve())
                while not server.started and not serving.done():  # noqa: ASYNC110 - no event
                    await asyncio.sleep(0.05)
                try:
                    yield Stack(
                        base_url=f"http://127.0.0.1:{settings.api_port}",
                        ui_url=temporal.ui_url,
                        settings=settings,
                    )
                finally:
                    server.should_exit = True
                    await serving
    engine.dispose()
