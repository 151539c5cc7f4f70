"""What every workbench page needs before its own work: the signed-in user (or a redirect to
/login), the posted form fields, and the error pages for a refused or missing thing."""

from __future__ import annotations

import asyncio
from typing import Any

import structlog
from fastapi import Request
from fastapi.responses import Response
from sqlmodel import Session

from service.auth import Principal
from service.settings import Settings
from service.web import i18n
from service.web.pages import lang_of, render
from service.web.session import session_principal


class LoginRequired(Exception):  # noqa: N818  (a redirect, not an error)
    """Raised by a page asked for without a session: answered with a redirect to /login."""

    def __init__(self, next_path: str) -> None:
        super().__init__(next_path)
        self.next_path = next_path


async def page_user(request: Request, session: Session, settings: Settings) -> Principal:
    principal = await asyncio.to_thread(session_principal, request, session, settings)
    if principal is None:
        target = request.url.path + (f"?{request.url.query}" if request.url.query else "")
        raise LoginRequired(target)
    structlog.contextvars.bind_contextvars(actor=principal.username, role=principal.role.value)
    return principal


async def form_fields(request: Request) -> dict[str, Any]:
    """The posted form's text fields (files are read by the routes that take them)."""
    form = await request.form()
    return {k: v for k, v in form.items() if isinstance(v, str)}


def error_page(
    request: Request, settings: Settings, principal: Principal, status: int, key: str
) -> Response:
    return render(
        request,
        "error.html",
        settings=settings,
        principal=principal,
        status_code=status,
        message=i18n.message(key, lang_of(request)),
    )


def refuse_csrf(request: Request, settings: Settings, principal: Principal) -> Response:
    """A form posted without this session's CSRF token: the session expired or it is forged."""
    return error_page(request, settings, principal, 403, "login.expired")
