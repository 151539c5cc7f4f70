"""Signing in: the OAuth2 password flow, and who the caller is."""

from __future__ import annotations

import threading
from typing import Annotated

import structlog
from fastapi import APIRouter, Depends, Request, Response
from fastapi.security import OAuth2PasswordRequestForm

from service import users
from service.auth import Principal, Token, issue_token
from service.deps import TOKEN_URL, CurrentUser, SessionDep, SettingsDep
from service.problems import Problem
from service.throttle import LoginThrottle

router = APIRouter(tags=["auth"])

log = structlog.get_logger(__name__)

_throttle_lock = threading.Lock()


def get_login_throttle(request: Request, settings: SettingsDep) -> LoginThrottle:
    """The app's sign-in throttle, made on first use and kept on `app.state`.

    One per app rather than per process, so that two apps in one process (tests) do not lock
    each other out. A test may put its own on `app.state.login_throttle` before the first
    sign-in (e.g. with a fake clock).
    """
    state = request.app.state
    with _throttle_lock:
        throttle: LoginThrottle | None = getattr(state, "login_throttle", None)
        if throttle is None:
            throttle = LoginThrottle.from_settings(settings)
            state.login_throttle = throttle
    return throttle


LoginThrottleDep = Annotated[LoginThrottle, Depends(get_login_throttle)]


def _client_address(request: Request) -> str:
    # The peer address. Behind a reverse proxy that is the proxy's, unless the server is told
    # to trust its X-Forwarded-For (uvicorn --proxy-headers --forwarded-allow-ips=...); then
    # the per-client limit would count every user together.
    return request.client.host if request.client else "unknown"


@router.post(
    TOKEN_URL,
    responses={
        401: {"description": "Wrong username or password"},
        429: {
            "description": "Too many failed sign-ins for this username or from this address",
            "headers": {"Retry-After": {"description": "Seconds to wait before trying again"}},
        },
    },
)
def token(
    form: Annotated[OAuth2PasswordRequestForm, Depends()],
    session: SessionDep,
    settings: SettingsDep,
    throttle: LoginThrottleDep,
    request: Request,
    response: Response,
) -> Token:
    """Exchange a username and password for a bearer token."""
    # Sync on purpose: argon2 takes tens of milliseconds of CPU, which belongs in the
    # threadpool, not on the event loop.
    client = _client_address(request)
    # Checked before the password: while locked, even the right password is refused, or the
    # lockout would still answer an attacker's guesses.
    wait = throttle.retry_after(username=form.username, client=client)
    if wait:
        log.warning("sign_in_throttled", username=form.username, client=client, retry_after=wait)
        raise Problem(
            status=429,
            title="Too many failed sign-ins",
            detail=f"too many failed sign-ins for this username or from this address; "
            f"try again in {wait} seconds",
            headers={"Retry-After": str(wait)},
        )
    user = users.authenticate(session=session, username=form.username, password=form.password)
    if user is None:
        throttle.failed(username=form.username, client=client)
        # One answer for "no such user", "disabled" and "wrong password": the difference
        # would tell an attacker which accounts exist.
        log.info("sign_in_refused", username=form.username, client=client)
        raise Problem(
            status=401,
            title="Not authenticated",
            detail="wrong username or password",
            headers={"WWW-Authenticate": "Bearer"},
        )
    throttle.succeeded(username=form.username)
    log.info("sign_in", username=user.username)
    # RFC 6749 §5.1: token responses must not be cached by browsers or proxies.
    response.headers["Cache-Control"] = "no-store"
    return issue_token(Principal.of(user), settings)


@router.get("/api/me")
def me(principal: CurrentUser) -> Principal:
    """The caller: username, role and department as of now."""
    return principal
