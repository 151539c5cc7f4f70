"""Passwords (argon2) and bearer tokens (JWT, HS256) — the mechanics, not the HTTP side.

A token only names its user: every request re-reads the user row (see `service.deps`), so a
disabled account stops working at once and a role or department change applies to the next
request instead of when the token expires.
"""

from __future__ import annotations

import time
from datetime import UTC, datetime, timedelta
from functools import lru_cache
from typing import Literal

import jwt
from argon2 import PasswordHasher
from argon2.exceptions import InvalidHashError, VerificationError
from pydantic import BaseModel, ConfigDict

from models.tables import User
from models.vocabulary import Role
from service.settings import Settings

ALGORITHM = "HS256"
# Claims a token must carry to be considered at all.
REQUIRED_CLAIMS = ["exp", "iat", "sub"]

# argon2-cffi's defaults follow RFC 9106's recommendations; one hasher, stateless, thread-safe.
_hasher = PasswordHasher()


class Principal(BaseModel):
    """Who is calling, as of this request's read of the user row."""

    model_config = ConfigDict(frozen=True)

    username: str
    role: Role
    department: str | None = None

    @classmethod
    def of(cls, user: User) -> Principal:
        return cls(username=user.username, role=Role(user.role), department=user.department)


class Token(BaseModel):
    """The OAuth2 token response (RFC 6749 §5.1)."""

    access_token: str
    token_type: Literal["bearer"] = "bearer"  # noqa: S105  (a scheme name, not a secret)
    expires_in: int  # seconds


class InvalidTokenError(Exception):
    """The token is malformed, forged, expired or lacks a claim; the reason is for logs only."""


def hash_password(password: str) -> str:
    return _hasher.hash(password)


def verify_password(password_hash: str, password: str) -> bool:
    try:
        return _hasher.verify(password_hash, password)
    except (VerificationError, InvalidHashError):
        return False


def needs_rehash(password_hash: str) -> bool:
    """True when the hash was made with weaker parameters than the current ones."""
    try:
        return _hasher.check_needs_rehash(password_hash)
    except InvalidHashError:
        return True


@lru_cache(maxsize=1)
def _dummy_hash() -> str:
    # Made on first use rather than at import, so importing this module stays cheap.
    return _hasher.hash("not a password anyone has: timing only")


def spend_verification_time(password: str) -> None:
    """Verify against a dummy hash, so an unknown username costs as long as a wrong password.

    Without it the response time tells an attacker which usernames exist.
    """
    verify_password(_dummy_hash(), password)


def issue_token(principal: Principal, settings: Settings, *, now: datetime | None = None) -> Token:
    """A signed token for `principal`, valid for `settings.token_ttl_minutes`."""
    issued = now or datetime.now(UTC)
    ttl = timedelta(minutes=settings.token_ttl_minutes)
    claims = {
        "sub": principal.username,
        # Informational for clients; the server trusts only the user row, never these two.
        "role": principal.role.value,
        "department": principal.department,
        "iat": issued,
        "exp": issued + ttl,
    }
    return Token(
        access_token=jwt.encode(claims, settings.jwt_secret, algorithm=ALGORITHM),
        expires_in=int(ttl.total_seconds()),
    )


def token_subject(token: str, settings: Settings) -> str:
    """The username a valid token names; `InvalidTokenError` otherwise."""
    subject, expires = _verified(token, settings.jwt_secret)
    # Checked on every use: a verified token is remembered, but not past its expiry.
    if expires <= time.time():
        raise InvalidTokenError("token expired")
    return subject


@lru_cache(maxsize=4096)
def _verified(token: str, secret: str) -> tuple[str, float]:
    """The subject and expiry of a token whose signature and claims hold.

    Remembered per (token, secret): every request of a session presents the same token, and
    PyJWT's checks cost an action more than its own read of the user row. A token that fails
    raises, which `lru_cache` does not remember, so it is checked again in full each time.
    """
    try:
        claims = jwt.decode(
            token,
            secret,
            # Pinning the algorithm stops "alg": "none" and algorithm-confusion tokens.
            algorithms=[ALGORITHM],
            options={"require": REQUIRED_CLAIMS},
        )
    except jwt.ExpiredSignatureError as expired:
        raise InvalidTokenError("token expired") from expired
    except jwt.PyJWTError as invalid:
        raise InvalidTokenError(f"token rejected: {type(invalid).__name__}") from invalid
    subject = claims["sub"]
    if not isinstance(subject, str) or not subject:
        raise InvalidTokenError("token has no subject")
    return subject, float(claims["exp"])
