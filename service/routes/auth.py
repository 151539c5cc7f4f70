"""Signing in: the OAuth2 password flow, and who the caller is."""

from __future__ import annotations

from typing import Annotated

import structlog
from fastapi import APIRouter, Depends, Response
from fastapi.security import OAuth2PasswordRequestForm

from service import users
from service.auth import Principal, Token, issue_token
from service.deps import TOKEN_URL, CurrentUser, SessionDep, SettingsDep
from service.problems import Problem

router = APIRouter(tags=["auth"])

log = structlog.get_logger(__name__)


@router.post(TOKEN_URL)
def token(
    form: Annotated[OAuth2PasswordRequestForm, Depends()],
    session: SessionDep,
    settings: SettingsDep,
    response: Response,
) -> Token:
    """Exchange a username and password for a bearer token."""
    # Sync on purpose: argon2 takes tens of milliseconds of CPU, which belongs in the
    # threadpool, not on the event loop.
    user = users.authenticate(session=session, username=form.username, password=form.password)
    if user is None:
        # One answer for "no such user", "disabled" and "wrong password": the difference
        # would tell an attacker which accounts exist.
        log.info("sign_in_refused", username=form.username)
        raise Problem(
            status=401,
            title="Not authenticated",
            detail="wrong username or password",
            headers={"WWW-Authenticate": "Bearer"},
        )
    log.info("sign_in", username=user.username)
    # RFC 6749 §5.1: token responses must not be cached by browsers or proxies.
    response.headers["Cache-Control"] = "no-store"
    return issue_token(Principal.of(user), settings)


@router.get("/api/me")
def me(principal: CurrentUser) -> Principal:
    """The caller: username, role and department as of now."""
    return principal
