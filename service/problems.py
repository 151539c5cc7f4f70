"""RFC 9457 problem details: the one shape of every error the API returns.

`{"type", "title", "status", "detail", ...}` with `application/problem+json`, whatever went
wrong: a `Problem` raised by a service function, an `HTTPException`, a request that does not
validate, an unknown route or method, or a bug. Callers (the web workbench, scripts, other
services) then parse one shape instead of FastAPI's three.
"""

from __future__ import annotations

from collections.abc import Mapping, Sequence
from http import HTTPStatus
from typing import Any

import structlog
from fastapi import FastAPI, Request
from fastapi.exceptions import RequestValidationError
from fastapi.responses import JSONResponse
from starlette.exceptions import HTTPException as StarletteHTTPException
from starlette.types import ASGIApp, Message, Receive, Scope, Send

PROBLEM_JSON = "application/problem+json"
# RFC 9457 §4.2.1: "about:blank" means the status code says it all; the title is its phrase.
ABOUT_BLANK = "about:blank"
# What a caller learns about a bug: nothing it could use against us, and where to look.
INTERNAL_ERROR_DETAIL = "an unexpected error occurred; it has been logged with the request id"

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


async def _unexpected_handler(request: Request, exc: Exception) -> ProblemResponse:
    # Only reached if something escapes `CatchUnexpectedErrors` (e.g. a bug in an outer
    # middleware); Starlette re-raises after sending this, so the server logs it too.
    log.error("unhandled_error", exc_info=exc, path=request.url.path)
    return problem_response(500, detail=INTERNAL_ERROR_DETAIL)


class CatchUnexpectedErrors:
    """Turn an exception no handler claimed into a logged 500 problem.

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
        started = False

        async def send_tracking(message: Message) -> None:
            nonlocal started
            if message["type"] == "http.response.start":
                started = True
            await send(message)

        try:
            await self.app(scope, receive, send_tracking)
        except Exception:
            log.exception("unhandled_error")
            if started:
                # Half a response is on the wire; the server must abort the connection.
                raise
            await problem_response(500, detail=INTERNAL_ERROR_DETAIL)(scope, receive, send)


def install_problem_handlers(app: FastAPI) -> None:
    """Make every error response of `app` problem details.

    Call before adding middlewares that should see the 500 of a bug (they must be outer).
    """
    app.add_exception_handler(Problem, _problem_handler)
    app.add_exception_handler(StarletteHTTPException, _http_exception_handler)
    app.add_exception_handler(RequestValidationError, _validation_handler)
    app.add_exception_handler(Exception, _unexpected_handler)
    app.add_middleware(CatchUnexpectedErrors)
