"""The workbench's cookie session and CSRF protection.

The session cookie holds the same signed token the JSON API hands out (`service.auth`), so one
mechanism decides who is signed in, and the user row is re-read on every page as for the API:
disabling a user ends their session at once. The cookie is HttpOnly (no script reads it) and
SameSite=Lax (other sites' forms cannot post with it); on top of that every form carries a CSRF
token derived from the session token with the server's secret, which a page of another origin
cannot compute. The sign-in form, posted before there is a session, uses a random
double-submit cookie instead.
"""

from __future__ import annotations

import hashlib
import hmac
import secrets

from fastapi import Request, Response
from sqlmodel import Session

from models.tables import User
from service.auth import InvalidTokenError, Principal, issue_token, token_subject
from service.settings import Settings

SESSION_COOKIE = "pb_session"
LOGIN_CSRF_COOKIE = "pb_login_csrf"
LANG_COOKIE = "pb_lang"
CSRF_FIELD = "csrf_token"


def _secure(settings: Settings) -> bool:
    # Development and tests run on plain http://127.0.0.1; production sits behind TLS.
    return settings.environment == "production"


def start_session(response: Response, principal: Principal, settings: Settings) -> None:
    token = issue_token(principal, settings)
    response.set_cookie(
        SESSION_COOKIE,
        token.access_token,
        max_age=token.expires_in,
        httponly=True,
        samesite="lax",
        secure=_secure(settings),
        path="/",
    )


def end_session(response: Response) -> None:
    response.delete_cookie(SESSION_COOKIE, path="/")


def session_principal(request: Request, session: Session, settings: Settings) -> Principal | None:
    """The signed-in user as of their row now, or None (no cookie, expired, disabled)."""
    token = request.cookies.get(SESSION_COOKIE)
    if not token:
        return None
    try:
        username = token_subject(token, settings)
    except InvalidTokenError:
        return None
    user = session.get(User, username)
    if user is None or not user.active:
        return None
    return Principal.of(user)


def csrf_for(session_token: str, settings: Settings) -> str:
    """The CSRF token of a session: an HMAC of its token under the server secret."""
    digest = hmac.new(
        settings.jwt_secret.encode(), b"csrf:" + session_token.encode(), hashlib.sha256
    )
    return digest.hexdigest()


def csrf_token(request: Request, settings: Settings) -> str:
    return csrf_for(request.cookies.get(SESSION_COOKIE, ""), settings)


def csrf_valid(request: Request, settings: Settings, given: str | None) -> bool:
    return bool(given) and hmac.compare_digest(csrf_token(request, settings), given or "")


def new_login_csrf() -> str:
    return secrets.token_urlsafe(24)


def set_login_csrf(response: Response, value: str, settings: Settings) -> None:
    response.set_cookie(
        LOGIN_CSRF_COOKIE,
        value,
        httponly=True,
        samesite="strict",
        secure=_secure(settings),
        path="/login",
    )


def login_csrf_valid(request: Request, given: str | None) -> bool:
    cookie = request.cookies.get(LOGIN_CSRF_COOKIE)
    return bool(cookie) and bool(given) and hmac.compare_digest(cookie or "", given or "")
