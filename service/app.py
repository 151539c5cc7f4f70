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
from starlette.exceptions import HTTPException
from starlette.middleware.cors import CORSMiddleware
from starlette.types import ASGIApp, Message, Receive, Scope, Send
from temporalio.client import Client

from service.db import open_db
from service.gc_tuning import settle_heap
from service.logging import configure_logging
from service.metrics import RecordRequestMetrics
from service.problems import TrackedSend, install_problem_handlers, problem_response
from service.routes import (
    auth,
    calendar,
    department_years,
    departments,
    experts,
    health,
    key_evaluations,
    metrics,
    notifications,
    projects,
    public,
    reports,
    responsibility,
    scoring,
    templates,
    users,
)
from service.security_headers import SecurityHeaders
from service.settings import Settings, get_settings
from service.temporal_client import connect_client
from service.web import install_workbench

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


class _BodyTooLarge(HTTPException):
    """Raised from `receive` once a body passes the limit.

    An `HTTPException` so that FastAPI, which turns other errors met while reading a body
    into a 400, lets it through to the problem handler; `LimitRequestBody` answers it itself
    if it gets that far.
    """

    def __init__(self, limit: int) -> None:
        super().__init__(status_code=413, detail=_too_large_detail(limit))


def _too_large_detail(limit: int) -> str:
    return f"the request body is larger than {limit} bytes"


class LimitRequestBody:
    """Refuse request bodies over `max_bytes` with a 413 problem, whatever their framing.

    A declared Content-Length over the limit is refused before the application runs. A body
    without one (chunked) or lying about it is counted as it streams in: the message that
    passes the limit raises instead of reaching the application, so nothing larger is ever
    buffered or parsed.
    """

    def __init__(self, app: ASGIApp, max_bytes: int) -> None:
        self.app = app
        self.max_bytes = max_bytes

    async def __call__(self, scope: Scope, receive: Receive, send: Send) -> None:
        if scope["type"] != "http":
            await self.app(scope, receive, send)
            return
        declared = Headers(scope=scope).get("content-length")
        if declared is not None and declared.isdigit() and int(declared) > self.max_bytes:
            await self._refuse(scope, receive, send)
            return
        received = 0

        async def counting_receive() -> Message:
            nonlocal received
            message = await receive()
            if message["type"] == "http.request":
                received += len(message.get("body", b""))
                if received > self.max_bytes:
                    raise _BodyTooLarge(self.max_bytes)
            return message

        tracked = TrackedSend(send)
        try:
            await self.app(scope, counting_receive, tracked)
        except _BodyTooLarge:
            if tracked.started:
                raise
            await self._refuse(scope, receive, send)

    async def _refuse(self, scope: Scope, receive: Receive, send: Send) -> None:
        log.info("request_body_too_large", limit=self.max_bytes)
        response = problem_response(
            413,
            "Content Too Large",
            _too_large_detail(self.max_bytes),
            # The rest of the body is not read; the client must not reuse the connection
            # to send it as if it were the next request.
            headers={"Connection": "close"},
        )
        await response(scope, receive, send)


class _NulCharacter(HTTPException):
    """Raised from `receive` when a body carries a NUL; an `HTTPException` like `_BodyTooLarge`."""

    def __init__(self) -> None:
        super().__init__(status_code=422, detail=_NUL_DETAIL)


_NUL_DETAIL = "the request contains a NUL character (U+0000), which no field accepts"
# A NUL as the body may carry it: raw, as a JSON escape, or percent-encoded in a form.
_NUL_IN_JSON = re.compile(rb"\x00|\\u0000")
_NUL_IN_FORM = re.compile(rb"\x00|%00")
# Routes whose body is a binary file upload (multipart).
_BINARY_UPLOAD = re.compile(r"/projects/[^/]+/goals/import")
# The longest of those patterns less one byte: what a chunk must keep of the one before it.
_NUL_OVERLAP = len(b"\\u0000") - 1


class RefuseNulCharacters:
    """Refuse a NUL character in the path, the query or the body with a 422 problem.

    No field accepts one, and PostgreSQL can neither store nor compare text holding one: the
    driver raises, so a NUL in a username, a project code or a filter would be a 500 there.
    One check at the door instead of a validator on every string. The body is scanned as it
    streams in, the application's reads failing at the chunk that holds a NUL.
    """

    def __init__(self, app: ASGIApp) -> None:
        self.app = app

    async def __call__(self, scope: Scope, receive: Receive, send: Send) -> None:
        if scope["type"] != "http":
            await self.app(scope, receive, send)
            return
        if "\x00" in scope["path"] or _NUL_IN_FORM.search(scope.get("query_string", b"")):
            await _refuse_nul(scope, receive, send)
            return
        content_type = Headers(scope=scope).get("content-type", "")
        if content_type.startswith("multipart/form-data") and _BINARY_UPLOAD.fullmatch(
            scope["path"]
        ):
            # An Excel file is a zip archive: NUL bytes are its content, not an attack. That
            # route checks its few text fields itself (`service.web.excel_routes`).
            await self.app(scope, receive, send)
            return
        pattern = (
            _NUL_IN_FORM
            if content_type.startswith("application/x-www-form-urlencoded")
            else _NUL_IN_JSON
        )
        tail = b""

        async def checking_receive() -> Message:
            nonlocal tail
            message = await receive()
            if message["type"] == "http.request":
                window = tail + message.get("body", b"")
                if pattern.search(window):
                    raise _NulCharacter
                tail = window[-_NUL_OVERLAP:]
            return message

        tracked = TrackedSend(send)
        try:
            await self.app(scope, checking_receive, tracked)
        except _NulCharacter:
            if tracked.started:
                raise
            await _refuse_nul(scope, receive, send)


async def _refuse_nul(scope: Scope, receive: Receive, send: Send) -> None:
    log.info("request_with_nul_refused")
    await problem_response(422, detail=_NUL_DETAIL)(scope, receive, send)


def _include_routers(app: FastAPI) -> None:
    # Routers are tried in this order for every request: the projects' (actions, reads) first,
    # as the busiest; no other router's paths overlap theirs.
    for module in (
        projects,
        health,
        metrics,
        auth,
        users,
        departments,
        department_years,
        key_evaluations,
        experts,
        scoring,
        notifications,
        calendar,
        templates,
        reports,
        responsibility,
        public,
    ):
        app.include_router(module.router)
    install_workbench(app)


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
        # Refuses a database whose schema is not this code's (`perfbudget db upgrade`).
        engine = open_db(settings)
        app.state.engine = engine
        # A client passed in belongs to the caller; one we connect lives as long as the app.
        app.state.temporal_client = temporal_client or await connect_client(settings)
        settle_heap(settings.gc_young_threshold)
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
    # Middlewares run outermost first in reverse order of adding. The body limit sits outside
    # the problem handlers, so an oversized body never reaches them (nor the router).
    app.add_middleware(RefuseNulCharacters)
    app.add_middleware(LimitRequestBody, max_bytes=settings.max_body_bytes)
    if settings.cors_origins:
        # Closed by default: without configured origins there are no CORS headers and
        # browsers keep other sites' pages from reading answers. Outside the body limit,
        # so that a browser can read a 413 too. Bearer tokens, not cookies: no credentials.
        app.add_middleware(
            CORSMiddleware,
            allow_origins=settings.cors_origins,
            allow_methods=["GET", "POST", "PUT", "PATCH", "DELETE"],
            allow_headers=["Authorization", "Content-Type", "Idempotency-Key", REQUEST_ID_HEADER],
            expose_headers=[REQUEST_ID_HEADER, "Retry-After", "WWW-Authenticate"],
            max_age=600,
        )
    # Added after the problem handlers so that it is the outer middleware: it sees the 500
    # that `CatchUnexpectedErrors` makes of a bug, and stamps the request id on it too.
    app.add_middleware(RequestContext)
    # Outside the problem handlers and the refusals above, so every answer carries them.
    app.add_middleware(SecurityHeaders)
    # Outermost: counts every answer, the refusals of the middlewares above included.
    app.add_middleware(RecordRequestMetrics)
    return app
