"""The FastAPI application: wiring only — routes, error handling, request context, lifespan.

State the routes reach through `service.deps`, on `app.state`:
`settings` (set here), `engine` and `temporal_client` (set by the lifespan).
"""

from __future__ import annotations

import re
import time
import uuid
from collections.abc import AsyncIterator
from contextlib import asynccontextmanager

import structlog
from fastapi import FastAPI
from starlette.datastructures import Headers, MutableHeaders
from starlette.types import ASGIApp, Message, Receive, Scope, Send
from temporalio.client import Client

from service.db import init_db
from service.logging import configure_logging
from service.problems import install_problem_handlers
from service.routes import (
    auth,
    calendar,
    departments,
    health,
    notifications,
    projects,
    scoring,
    users,
)
from service.settings import Settings, get_settings
from service.temporal_client import connect_client

REQUEST_ID_HEADER = "X-Request-ID"
# A caller's request id goes into every log line; anything beyond a plain token could forge
# or break log lines, so such ids are replaced by our own.
_SAFE_REQUEST_ID = re.compile(r"[A-Za-z0-9._:-]{1,128}")

log = structlog.get_logger(__name__)


class RequestContext:
    """Bind request id, method and path for every log line of a request; log one line at its end.

    Plain ASGI rather than `@app.middleware("http")`: Starlette runs the rest of the app in
    another task under `BaseHTTPMiddleware`, so the `actor` that authentication binds would not
    be visible to the closing log line.
    """

    def __init__(self, app: ASGIApp) -> None:
        self.app = app

    async def __call__(self, scope: Scope, receive: Receive, send: Send) -> None:
        if scope["type"] != "http":
            await self.app(scope, receive, send)
            return
        given = Headers(scope=scope).get(REQUEST_ID_HEADER)
        request_id = given if given and _SAFE_REQUEST_ID.fullmatch(given) else uuid.uuid4().hex
        structlog.contextvars.clear_contextvars()
        structlog.contextvars.bind_contextvars(
            request_id=request_id, method=scope["method"], path=scope["path"]
        )
        status = 500  # what the client gets if the app dies before answering
        started = time.perf_counter()

        async def send_with_id(message: Message) -> None:
            nonlocal status
            if message["type"] == "http.response.start":
                status = message["status"]
                MutableHeaders(scope=message)[REQUEST_ID_HEADER] = request_id
            await send(message)

        try:
            await self.app(scope, receive, send_with_id)
        finally:
            duration_ms = round((time.perf_counter() - started) * 1000, 1)
            if status >= 500:
                log.error("request", status=status, duration_ms=duration_ms)
            else:
                log.info("request", status=status, duration_ms=duration_ms)
            structlog.contextvars.clear_contextvars()


def _include_routers(app: FastAPI) -> None:
    for module in (health, auth, users, departments, projects, scoring, notifications, calendar):
        app.include_router(module.router)


def create_app(
    settings: Settings | None = None, *, temporal_client: Client | None = None
) -> FastAPI:
    """The API. Tests pass their own `settings` and a `temporal_client` (real or fake).

    Without `settings` the environment's are used, so `uvicorn --factory
    service.app:create_app` works as it is.
    """
    settings = settings or get_settings()

    @asynccontextmanager
    async def lifespan(app: FastAPI) -> AsyncIterator[None]:
        configure_logging(settings)
        engine = init_db(settings)
        app.state.engine = engine
        # A client passed in belongs to the caller; one we connect lives as long as the app.
        app.state.temporal_client = temporal_client or await connect_client(settings)
        log.info(
            "api_started",
            environment=settings.environment,
            temporal=settings.effective_temporal_address,
            namespace=settings.temporal_namespace,
        )
        try:
            yield
        finally:
            # Releases pooled connections (SQLite files can then be removed); the engine
            # stays usable, it is shared through `engine_for`'s cache.
            engine.dispose()
            log.info("api_stopped")

    app = FastAPI(
        title="perfbudget",
        summary="Budget performance management: projects as durable workflows",
        lifespan=lifespan,
    )
    app.state.settings = settings
    _include_routers(app)
    install_problem_handlers(app)
    # Added after the problem handlers so that it is the outer middleware: it sees the 500
    # that `CatchUnexpectedErrors` makes of a bug, and stamps the request id on it too.
    app.add_middleware(RequestContext)
    return app
