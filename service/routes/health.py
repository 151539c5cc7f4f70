"""Probes: liveness of the process, readiness of the stack (database, Temporal, schema).

- `/livez`: the process answers HTTP; nothing else. A failing dependency must not make an
  orchestrator restart every API replica (restarting does not bring a database back).
- `/readyz`: the database and Temporal answer and the schema is at this code's revision; a
  replica that is not ready gets no traffic until it is.
- `/healthz`: the database and Temporal answer (kept for existing monitors).
"""

from __future__ import annotations

import asyncio
from datetime import timedelta
from typing import Literal

import structlog
from fastapi import APIRouter
from pydantic import BaseModel
from sqlalchemy import Engine, text
from starlette.concurrency import run_in_threadpool
from temporalio.client import Client

from service import schema
from service.deps import EngineDep, TemporalClientDep
from service.problems import Problem

router = APIRouter(tags=["health"])

log = structlog.get_logger(__name__)

# A probe must answer quickly even when a dependency hangs (a dropped packet, a locked
# database); orchestrators time out their probes after a few seconds.
CHECK_TIMEOUT_SECONDS = 2.0

Status = Literal["ok", "down"]


class Health(BaseModel):
    status: Literal["ok"]
    database: Literal["ok"]
    temporal: Literal["ok"]


class Readiness(Health):
    schema_revision: str


class Liveness(BaseModel):
    status: Literal["ok"]


def _select_one(engine: Engine) -> None:
    with engine.connect() as connection:
        connection.execute(text("SELECT 1"))


async def _database(engine: Engine) -> Status:
    try:
        await asyncio.wait_for(run_in_threadpool(_select_one, engine), CHECK_TIMEOUT_SECONDS)
    except Exception as error:  # noqa: BLE001  (any failure means "down"; the log says which)
        log.warning("health_check_failed", component="database", error=repr(error))
        return "down"
    return "ok"


async def _temporal(client: Client) -> Status:
    try:
        healthy = await asyncio.wait_for(
            client.service_client.check_health(timeout=timedelta(seconds=CHECK_TIMEOUT_SECONDS)),
            # The RPC deadline should fire first; this bounds connecting as well.
            CHECK_TIMEOUT_SECONDS + 0.5,
        )
    except Exception as error:  # noqa: BLE001  (any failure means "down"; the log says which)
        log.warning("health_check_failed", component="temporal", error=repr(error))
        return "down"
    if not healthy:
        log.warning("health_check_failed", component="temporal", error="not serving")
        return "down"
    return "ok"


@router.get(
    "/healthz",
    responses={503: {"description": "The database or Temporal does not answer"}},
)
async def healthz(engine: EngineDep, client: TemporalClientDep) -> Health:
    """200 only when the database and Temporal both answer; 503 naming what is down."""
    database, temporal = await asyncio.gather(_database(engine), _temporal(client))
    down = [
        name for name, state in (("database", database), ("temporal", temporal)) if state != "ok"
    ]
    if down:
        raise Problem(
            status=503,
            title="Service Unavailable",
            detail=f"not reachable: {', '.join(down)}",
            database=database,
            temporal=temporal,
        )
    return Health(status="ok", database="ok", temporal="ok")


def _schema_at_head(engine: Engine) -> str:
    schema.require_head(engine)
    return schema.head()


async def _schema(engine: Engine) -> str | None:
    """This code's schema revision when the database is at it, else None (logged why)."""
    try:
        return await asyncio.wait_for(
            run_in_threadpool(_schema_at_head, engine), CHECK_TIMEOUT_SECONDS
        )
    except Exception as error:  # noqa: BLE001  (any failure means "not ready"; the log says which)
        log.warning("readiness_check_failed", component="schema", error=str(error))
        return None


@router.get("/livez")
async def livez() -> Liveness:
    """200 while the process serves HTTP; it checks nothing else, on purpose."""
    return Liveness(status="ok")


@router.get(
    "/readyz",
    responses={
        503: {
            "description": "The database or Temporal does not answer, or the schema "
            "is not at this version's revision"
        }
    },
)
async def readyz(engine: EngineDep, client: TemporalClientDep) -> Readiness:
    """200 when the database and Temporal answer and the schema is this code's; else 503."""
    database, temporal, revision = await asyncio.gather(
        _database(engine), _temporal(client), _schema(engine)
    )
    states = {
        "database": database,
        "temporal": temporal,
        "schema": "ok" if revision is not None else "down",
    }
    down = [name for name, state in states.items() if state != "ok"]
    if down or revision is None:
        raise Problem(
            status=503,
            title="Service Unavailable",
            detail=f"not ready: {', '.join(down)}",
            database=database,
            temporal=temporal,
            schema=states["schema"],
        )
    return Readiness(status="ok", database="ok", temporal="ok", schema_revision=revision)
