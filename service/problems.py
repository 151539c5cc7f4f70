"""RFC 9457 problem details: the one shape of every error the API returns.

`{"type", "title", "status", "detail", ...}` with `application/problem+json`, whatever went
wrong: a `Problem` raised by a service function, an `HTTPException`, a request that does not
validate, an unknown route or method, or a bug. Callers (the web workbench, scripts, other
services) then parse one shape instead of FastAPI's three.
"""

from __future__ import annotations

import sqlite3
from collections.abc import Mapping, Sequence
from http import HTTPStatus
from typing import Any

import psycopg
import structlog
from fastapi import FastAPI, Request
from fastapi.exceptions import RequestValidationError
from fastapi.responses import JSONResponse
from sqlalchemy import exc as sa_exc
from starlette.exceptions import HTTPException as StarletteHTTPException
from starlette.types import ASGIApp, Message, Receive, Scope, Send
from temporalio.client import RPCTimeoutOrCancelledError
from temporalio.service import RPCError, RPCStatusCode

PROBLEM_JSON = "application/problem+json"
# RFC 9457 §4.2.1: "about:blank" means the status code says it all; the title is its phrase.
ABOUT_BLANK = "about:blank"
# What a caller learns about a bug: nothing it could use against us, and where to look.
INTERNAL_ERROR_DETAIL = "an unexpected error occurred; it has been logged with the request id"
# What a caller learns while the application database cannot be reached: that it is temporary
# and when to try again; never the driver's message (host, port, database name, SQL).
DATABASE_UNAVAILABLE_DETAIL = "the database cannot be reached for the moment; try again shortly"
RETRY_AFTER_SECONDS = 5
# The same for Temporal: out of reach (or shedding load), the request was not taken.
TEMPORAL_UNAVAILABLE_DETAIL = (
    "the workflow service cannot be reached for the moment; try again shortly"
)
UPDATE_LIMIT_DETAIL = (
    "this workflow run takes no more requests and is handing over to a new one; nothing was "
    "recorded, try again shortly"
)
# A call to Temporal that timed out or was cut off may still have been applied.
OUTCOME_UNKNOWN_DETAIL = (
    "the workflow service did not answer in time; the request may still apply: "
    "retry it with the same Idempotency-Key to learn its outcome"
)

log = structlog.get_logger(__name__)


def _phrase(status: int) -> str:
    try:
        return HTTPStatus(status).phrase
    except ValueError:
        return "Error"


class ProblemResponse(JSONResponse):
    """A JSON response with the problem details media type (also for the OpenAPI docs)."""

    media_type = PROBLEM_JSON


def problem_body(
    status: int,
    title: str | None = None,
    detail: str | None = None,
    *,
    type: str = ABOUT_BLANK,  # the RFC's member name
    **extra: Any,
) -> dict[str, Any]:
    """The problem document; extension members come after the standard ones."""
    body: dict[str, Any] = {
        "type": type,
        "title": title or _phrase(status),
        "status": status,
        "detail": detail if detail is not None else (title or _phrase(status)),
    }
    # Extension members cannot shadow the standard ones: those are named parameters, so
    # Python refuses `status=` or `title=` twice before we get here.
    body.update(extra)
    return body


def problem_response(
    status: int,
    title: str | None = None,
    detail: str | None = None,
    *,
    type: str = ABOUT_BLANK,  # the RFC's member name
    headers: Mapping[str, str] | None = None,
    **extra: Any,
) -> ProblemResponse:
    """A ready `application/problem+json` response, for handlers that return instead of raise."""
    return ProblemResponse(
        problem_body(status, title, detail, type=type, **extra),
        status_code=status,
        headers=dict(headers) if headers else None,
    )


class Problem(Exception):  # noqa: N818  (it is the RFC's name for the thing, not an "Error")
    """Raise anywhere below a route to answer with problem details.

    Keyword arguments other than the standard members become extension members, e.g.
    `Problem(status=409, title=..., detail=..., action=..., unmet=[...])`.
    """

    def __init__(
        self,
        status: int,
        title: str | None = None,
        detail: str | None = None,
        *,
        type: str = ABOUT_BLANK,  # the RFC's member name
        headers: Mapping[str, str] | None = None,
        **extra: Any,
    ) -> None:
        self.status = status
        self.title = title or _phrase(status)
        self.detail = detail if detail is not None else self.title
        self.type = type
        self.headers = dict(headers) if headers else {}
        self.extra = extra
        super().__init__(f"{status} {self.title}: {self.detail}")

    def body(self) -> dict[str, Any]:
        return problem_body(self.status, self.title, self.detail, type=self.type, **self.extra)

    def response(self) -> ProblemResponse:
        return problem_response(
            self.status,
            self.title,
            self.detail,
            type=self.type,
            headers=self.headers,
            **self.extra,
        )


def field_path(location: Sequence[str | int]) -> str:
    """`("body", "indicators", 0, "weight")` → `"body.indicators.0.weight"`."""
    return ".".join(str(part) for part in location)


def validation_errors(errors: Sequence[Any]) -> list[dict[str, str]]:
    """Pydantic errors as `{"field", "reason"}` only.

    Deliberately drops pydantic's `input` and `ctx`: they echo what the caller sent, which
    may be a password or a token, into the response (and from there into proxies' logs).
    """
    return [{"field": field_path(error["loc"]), "reason": error["msg"]} for error in errors]


# --- the database out of reach -----------------------------------------------------------------

# SQLite's primary result codes that mean "not now" rather than "wrong SQL": BUSY, LOCKED,
# IOERR, FULL, CANTOPEN, PROTOCOL. (SQLite reports a syntax error as OperationalError too.)
_SQLITE_UNAVAILABLE = frozenset({5, 6, 10, 13, 14, 15})
# Raised by SQLAlchemy itself, without a driver error: the pool is exhausted or a connection
# was found dead.
_POOL_ERRORS = (sa_exc.TimeoutError, sa_exc.DisconnectionError)


# The exception classes whose handler asks `database_unavailable`.
DATABASE_ERRORS: tuple[type[Exception], ...] = (
    sa_exc.OperationalError,
    sa_exc.InterfaceError,
    *_POOL_ERRORS,
    sqlite3.OperationalError,
    psycopg.OperationalError,
    psycopg.InterfaceError,
)


def _unreachable(error: BaseException) -> bool:
    if isinstance(error, sa_exc.DBAPIError):
        if error.connection_invalidated:
            return True
        if isinstance(error.orig, sqlite3.Error):
            return _unreachable(error.orig)
        return isinstance(error, sa_exc.OperationalError | sa_exc.InterfaceError)
    if isinstance(error, _POOL_ERRORS):
        return True
    if isinstance(error, sqlite3.OperationalError):
        return getattr(error, "sqlite_errorcode", 0) & 0xFF in _SQLITE_UNAVAILABLE
    # PostgreSQL: connection refused or lost, the database not accepting connections, an
    # administrator's shutdown, too many clients (SQLSTATE classes 08, 53, 57).
    return isinstance(error, psycopg.OperationalError | psycopg.InterfaceError)


def database_unavailable(error: BaseException) -> bool:
    """Whether `error`, or an error it was raised from, says the database cannot be reached now.

    Only unavailability counts: a constraint violation or bad SQL is a bug, answered with 500.
    """
    seen: set[int] = set()
    current: BaseException | None = error
    while current is not None and id(current) not in seen:
        seen.add(id(current))
        if _unreachable(current):
            return True
        current = current.__cause__ or (
            None if current.__suppress_context__ else current.__context__
        )
    return False


def _unavailable_response(error: BaseException) -> ProblemResponse:
    # The driver's class, not its message: it can quote SQL and its parameters.
    log.warning(
        "database_unavailable",
        error=type(error).__name__,
        driver_error=type(getattr(error, "orig", None) or error).__name__,
    )
    return problem_response(
        503,
        detail=DATABASE_UNAVAILABLE_DETAIL,
        headers={"Retry-After": str(RETRY_AFTER_SECONDS)},
    )


# Starlette types every handler as taking `Exception`; each is registered for one class only,
# and the `isinstance` checks below narrow it for mypy without `assert` (stripped under -O).


async def _problem_handler(request: Request, exc: Exception) -> ProblemResponse:
    if not isinstance(exc, Problem):
        return await _unexpected_handler(request, exc)
    return exc.response()


async def _http_exception_handler(request: Request, exc: Exception) -> ProblemResponse:
    # Starlette's class is the base of FastAPI's, and it is what routing raises for 404/405.
    if not isinstance(exc, StarletteHTTPException):
        return await _unexpected_handler(request, exc)
    extra: dict[str, Any] = {}
    # Starlette types it `str`, FastAPI's subclass accepts anything JSON-able.
    given: Any = exc.detail
    if isinstance(given, str):
        detail = given
    else:
        # A structured detail (rare, from third-party code) is kept as an extension member.
        detail = _phrase(exc.status_code)
        extra["context"] = given
    return problem_response(
        exc.status_code, _phrase(exc.status_code), detail, headers=exc.headers, **extra
    )


async def _validation_handler(request: Request, exc: Exception) -> ProblemResponse:
    if not isinstance(exc, RequestValidationError):
        return await _unexpected_handler(request, exc)
    errors = validation_errors(exc.errors())
    fields = ", ".join(dict.fromkeys(error["field"] for error in errors))
    return problem_response(
        422,
        "Invalid request",
        f"the request is not valid: {fields}" if fields else "the request is not valid",
        errors=errors,
    )


async def _database_handler(request: Request, exc: Exception) -> ProblemResponse:
    if not database_unavailable(exc):
        return await _unexpected_handler(request, exc)
    return _unavailable_response(exc)


# --- Temporal out of reach ---------------------------------------------------------------------

# Statuses that say "not now" (the core SDK has already retried them) rather than a bug.
_TEMPORAL_UNAVAILABLE = frozenset({RPCStatusCode.UNAVAILABLE, RPCStatusCode.RESOURCE_EXHAUSTED})
# Statuses after which a call may or may not have been applied.
_TEMPORAL_UNANSWERED = frozenset({RPCStatusCode.DEADLINE_EXCEEDED, RPCStatusCode.CANCELLED})
# How the server refuses an update past its limit per workflow run (2,000): nothing applied,
# and the run hands over to a new one (`workflows.project.ROLLOVER_PATCH`), which takes it.
_UPDATE_LIMIT_MESSAGE = "limit on the total number of distinct updates"


def update_limit_reached(error: BaseException) -> bool:
    """Whether Temporal refused an update because the workflow run has taken all it takes."""
    return (
        isinstance(error, RPCError)
        and error.status is RPCStatusCode.FAILED_PRECONDITION
        and _UPDATE_LIMIT_MESSAGE in error.message
    )


def outcome_unknown(detail: str = OUTCOME_UNKNOWN_DETAIL) -> Problem:
    """504: a call to Temporal went unanswered in time, and may still apply."""
    return Problem(status=504, title="Outcome unknown", detail=detail)


def temporal_unavailable(detail: str = TEMPORAL_UNAVAILABLE_DETAIL) -> Problem:
    """503 with Retry-After: Temporal cannot be reached, the request was not taken."""
    return Problem(status=503, detail=detail, headers={"Retry-After": str(RETRY_AFTER_SECONDS)})


def temporal_outcome_unknown(error: BaseException) -> bool:
    """Whether a failed call to Temporal may still have been applied (it timed out or was cut
    off), rather than refused or never delivered."""
    return isinstance(error, RPCTimeoutOrCancelledError) or (
        isinstance(error, RPCError) and error.status in _TEMPORAL_UNANSWERED
    )


async def _temporal_handler(request: Request, exc: Exception) -> ProblemResponse:
    """503 while Temporal cannot be reached, 504 when a call's outcome is unknown; a bug else.

    The server's message stays in the log: it can name hosts and workflow ids.
    """
    if temporal_outcome_unknown(exc):
        log.warning("temporal_call_unanswered", error=type(exc).__name__)
        return outcome_unknown().response()
    if isinstance(exc, RPCError) and exc.status in _TEMPORAL_UNAVAILABLE:
        log.warning("temporal_unavailable", status=exc.status.name)
        return temporal_unavailable().response()
    if update_limit_reached(exc):
        log.warning("workflow_update_limit_reached")
        return temporal_unavailable(UPDATE_LIMIT_DETAIL).response()
    return await _unexpected_handler(request, exc)


async def _unexpected_handler(request: Request, exc: Exception) -> ProblemResponse:
    # Only reached if something escapes `CatchUnexpectedErrors` (e.g. a bug in an outer
    # middleware); Starlette re-raises after sending this, so the server logs it too.
    log.error("unhandled_error", exc_info=exc, path=request.url.path)
    return problem_response(500, detail=INTERNAL_ERROR_DETAIL)


class TrackedSend:
    """An ASGI `send` that remembers whether the response has begun: a middleware may only
    answer with its own problem while nothing of the application's response is on the wire."""

    def __init__(self, send: Send) -> None:
        self._send = send
        self.started = False

    async def __call__(self, message: Message) -> None:
        if message["type"] == "http.response.start":
            self.started = True
        await self._send(message)


class CatchUnexpectedErrors:
    """Turn an exception no handler claimed into a logged 500 problem (503 if the database is
    out of reach, e.g. an error raised from one, or one raised outside the routes).

    A plain ASGI middleware rather than an `Exception` handler: Starlette re-raises after an
    `Exception` handler has answered, so the server would log the traceback a second time
    without our request context, and the request-logging middleware would not see the 500.
    """

    def __init__(self, app: ASGIApp) -> None:
        self.app = app

    async def __call__(self, scope: Scope, receive: Receive, send: Send) -> None:
        if scope["type"] != "http":
            await self.app(scope, receive, send)
            return
        tracked = TrackedSend(send)
        try:
            await self.app(scope, receive, tracked)
        except Exception as error:
            if tracked.started:
                # Half a response is on the wire; the server must abort the connection.
                log.exception("unhandled_error")
                raise
            if database_unavailable(error):
                await _unavailable_response(error)(scope, receive, send)
                return
            log.exception("unhandled_error")
            await problem_response(500, detail=INTERNAL_ERROR_DETAIL)(scope, receive, send)


def install_problem_handlers(app: FastAPI) -> None:
    """Make every error response of `app` problem details.

    Call before adding middlewares that should see the 500 of a bug (they must be outer).
    """
    app.add_exception_handler(Problem, _problem_handler)
    app.add_exception_handler(StarletteHTTPException, _http_exception_handler)
    app.add_exception_handler(RequestValidationError, _validation_handler)
    # The database out of reach is 503 (and Retry-After), not a bug; other errors of these
    # classes fall through to the 500 of `_unexpected_handler`.
    for unavailable in DATABASE_ERRORS:
        app.add_exception_handler(unavailable, _database_handler)
    for temporal_error in (RPCError, RPCTimeoutOrCancelledError):
        app.add_exception_handler(temporal_error, _temporal_handler)
    app.add_exception_handler(Exception, _unexpected_handler)
    app.add_middleware(CatchUnexpectedErrors)
