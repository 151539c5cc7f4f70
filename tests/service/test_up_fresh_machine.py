"""`perfbudget up` on a fresh machine: no database yet, it migrates its own SQLite and serves.

The quick start (`make run`) must keep working with migrations in place; and SIGTERM stops the
API, the worker and the dev server in order, exiting 0.
"""

from __future__ import annotations

import asyncio
import os
import signal
import sys
from pathlib import Path

import httpx

from service import schema
from service.db import engine_for
from tests.faults.support import free_port, wait_until


async def test_up_migrates_its_own_database_and_is_ready(tmp_path: Path) -> None:
    ports = {name: free_port() for name in ("API", "TEMPORAL", "UI")}
    env = {
        **{k: v for k, v in os.environ.items() if not k.startswith("PERFBUDGET_")},
        "PERFBUDGET_DATA_DIR": str(tmp_path / "var"),
        "PERFBUDGET_API_PORT": str(ports["API"]),
        "PERFBUDGET_TEMPORAL_PORT": str(ports["TEMPORAL"]),
        "PERFBUDGET_UI_PORT": str(ports["UI"]),
        "PERFBUDGET_LOG_FORMAT": "json",
    }
    log_path = tmp_path / "up.log"
    with log_path.open("wb") as log:
        process = await asyncio.create_subprocess_exec(
            str(Path(sys.executable).parent / "perfbudget"),
            "up",
            env=env,
            cwd=tmp_path,
            stdin=asyncio.subprocess.DEVNULL,
            stdout=log,
            stderr=asyncio.subprocess.STDOUT,
            start_new_session=True,
        )
    try:
        async with httpx.AsyncClient(base_url=f"http://127.0.0.1:{ports['API']}") as http:

            async def ready() -> bool:
                try:
                    return (await http.get("/readyz")).status_code == 200
                except httpx.TransportError:
                    return False

            await wait_until(
                ready, within=90, what="perfbudget up to be ready", context=log_path.read_text
            )
            body = (await http.get("/readyz")).json()
        assert body["schema_revision"] == schema.head()
        database = f"sqlite:///{(tmp_path / 'var' / 'perfbudget.db').resolve()}"
        assert schema.current(engine_for(database)) == schema.head()
    finally:
        if process.returncode is None:
            os.killpg(process.pid, signal.SIGTERM)
        returncode = await asyncio.wait_for(process.wait(), 60)
    assert returncode == 0, log_path.read_text()
