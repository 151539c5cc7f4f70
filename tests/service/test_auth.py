"""Signing in, bearer tokens, and who may do what."""

from __future__ import annotations

from datetime import UTC, datetime, timedelta

import httpx
import jwt
import pytest
from sqlmodel import Session

from models.vocabulary import Role
from service import users as user_service
from service.auth import InvalidTokenError, Principal, issue_token, token_subject
from service.settings import Settings
from tests.service.conftest import PASSWORD, logged_events, sign_in

pytestmark = pytest.mark.usefixtures("users")


def _bearer(token: str) -> dict[str, str]:
    return {"Authorization": f"Bearer {token}"}


class TestTokenEndpoint:
    async def test_right_password_gives_a_bearer_token(
        self, client: httpx.AsyncClient, settings: Settings
    ) -> None:
        """Valid credentials give an OAuth2 token response that names the user."""
        response = await client.post(
            "/api/auth/token", data={"username": "fin", "password": PASSWORD}
        )
        assert response.status_code == 200
        body = response.json()
        assert body["token_type"] == "bearer"
        assert body["expires_in"] == settings.token_ttl_minutes * 60
        assert response.headers["cache-control"] == "no-store"
        claims = jwt.decode(body["access_token"], settings.jwt_secret, algorithms=["HS256"])
        assert (claims["sub"], claims["role"], claims["department"]) == ("fin", "finance", None)
        assert claims["exp"] - claims["iat"] == settings.token_ttl_minutes * 60

    async def test_department_claim_is_set(
        self, client: httpx.AsyncClient, settings: Settings
    ) -> None:
        """A department user's token carries the department."""
        headers = await sign_in(client, "clerk")
        claims = jwt.decode(
            headers["Authorization"].removeprefix("Bearer "),
            settings.jwt_secret,
            algorithms=["HS256"],
        )
        assert claims["department"] == "D1"

    @pytest.mark.parametrize(
        ("username", "password"),
        [("fin", "wrong-password"), ("nobody", PASSWORD), ("FIN", PASSWORD)],
    )
    async def test_bad_credentials_are_one_401_problem(
        self, client: httpx.AsyncClient, username: str, password: str
    ) -> None:
        """Wrong password and unknown user get the same 401 problem."""
        response = await client.post(
            "/api/auth/token", data={"username": username, "password": password}
        )
        assert response.status_code == 401
        assert response.headers["content-type"] == "application/problem+json"
        assert response.headers["www-authenticate"] == "Bearer"
        assert response.json()["detail"] == "wrong username or password"

    async def test_disabled_user_cannot_sign_in(
        self, client: httpx.AsyncClient, session: Session
    ) -> None:
        """A disabled user gets the same 401 as a wrong password."""
        user_service.set_active(session=session, username="fin", active=False)
        response = await client.post(
            "/api/auth/token", data={"username": "fin", "password": PASSWORD}
        )
        assert response.status_code == 401
        assert response.json()["detail"] == "wrong username or password"

    async def test_unknown_user_still_costs_a_hash_check(
        self, session: Session, monkeypatch: pytest.MonkeyPatch
    ) -> None:
        """An unknown username still verifies a password, so timing does not reveal it."""
        spent: list[str] = []
        monkeypatch.setattr(user_service, "spend_verification_time", spent.append)
        found = user_service.authenticate(session=session, username="nobody", password="guess-123")
        assert found is None
        assert spent == ["guess-123"]


class TestBearerToken:
    async def test_me_names_the_caller(self, client: httpx.AsyncClient) -> None:
        """GET /api/me returns username, role and department of the token's user."""
        response = await client.get("/api/me", headers=await sign_in(client, "clerk"))
        assert response.status_code == 200
        assert response.json() == {"username": "clerk", "role": "department", "department": "D1"}

    async def test_missing_token_is_401_with_challenge(self, client: httpx.AsyncClient) -> None:
        """No token: 401 problem with `WWW-Authenticate: Bearer`."""
        response = await client.get("/api/me")
        assert response.status_code == 401
        assert response.headers["www-authenticate"] == "Bearer"
        assert response.headers["content-type"] == "application/problem+json"
        assert response.json()["title"] == "Not authenticated"

    async def test_expired_token_is_401(
        self, client: httpx.AsyncClient, settings: Settings
    ) -> None:
        """A token past its `exp` is refused."""
        long_ago = datetime.now(UTC) - timedelta(minutes=settings.token_ttl_minutes + 1)
        token = issue_token(
            Principal(username="fin", role=Role.FINANCE), settings, now=long_ago
        ).access_token
        response = await client.get("/api/me", headers=_bearer(token))
        assert response.status_code == 401
        assert response.headers["www-authenticate"] == "Bearer"

    def test_a_token_verified_before_is_refused_once_it_expires(
        self, settings: Settings, monkeypatch: pytest.MonkeyPatch
    ) -> None:
        """Verified tokens are remembered (`auth._verified`), their expiry checked on each use."""
        issued = datetime.now(UTC)
        token = issue_token(Principal(username="fin", role=Role.FINANCE), settings, now=issued)
        assert token_subject(token.access_token, settings) == "fin"
        expiry = (issued + timedelta(minutes=settings.token_ttl_minutes)).timestamp()
        monkeypatch.setattr("service.auth.time.time", lambda: expiry + 1)
        with pytest.raises(InvalidTokenError, match="expired"):
            token_subject(token.access_token, settings)

    @pytest.mark.parametrize(
        "token",
        [
            "not-a-jwt",
            jwt.encode(
                {
                    "sub": "admin",
                    "iat": datetime.now(UTC),
                    "exp": datetime.now(UTC) + timedelta(hours=1),
                },
                "another-secret-that-is-also-long-enough-0123456789",
                algorithm="HS256",
            ),
            jwt.encode({"sub": "admin"}, None, algorithm="none"),
        ],
        ids=["garbage", "foreign-secret", "alg-none"],
    )
    async def test_forged_tokens_are_401(self, client: httpx.AsyncClient, token: str) -> None:
        """Malformed, foreign-signed and unsigned tokens are refused."""
        response = await client.get("/api/me", headers=_bearer(token))
        assert response.status_code == 401

    async def test_token_without_exp_is_401(
        self, client: httpx.AsyncClient, settings: Settings
    ) -> None:
        """A correctly signed token that never expires is refused."""
        token = jwt.encode(
            {"sub": "admin", "iat": datetime.now(UTC)}, settings.jwt_secret, algorithm="HS256"
        )
        assert (await client.get("/api/me", headers=_bearer(token))).status_code == 401


class TestUserRowDecides:
    async def test_disabled_user_is_refused_at_once(
        self, client: httpx.AsyncClient, session: Session
    ) -> None:
        """Disabling a user makes their unexpired token fail on the next request."""
        headers = await sign_in(client, "fin")
        assert (await client.get("/api/me", headers=headers)).status_code == 200
        user_service.set_active(session=session, username="fin", active=False)
        response = await client.get("/api/me", headers=headers)
        assert response.status_code == 401
        assert response.headers["www-authenticate"] == "Bearer"

    async def test_role_change_applies_to_the_next_request(
        self, client: httpx.AsyncClient, session: Session
    ) -> None:
        """The role comes from the user row, not from the token's claims."""
        headers = await sign_in(client, "eval")
        assert (await client.get("/api/users", headers=headers)).status_code == 403
        user_service.update_user(session=session, username="eval", role=Role.ADMIN)
        assert (await client.get("/api/me", headers=headers)).json()["role"] == "admin"
        assert (await client.get("/api/users", headers=headers)).status_code == 200

    async def test_deleted_user_is_refused(
        self, client: httpx.AsyncClient, settings: Settings
    ) -> None:
        """A valid token for a user that does not exist (any more) is refused."""
        token = issue_token(Principal(username="ghost", role=Role.ADMIN), settings).access_token
        assert (await client.get("/api/me", headers=_bearer(token))).status_code == 401


class TestRoles:
    @pytest.mark.parametrize("username", ["fin", "clerk", "audit", "eval"])
    async def test_only_admins_manage_users(self, client: httpx.AsyncClient, username: str) -> None:
        """Other roles get a 403 problem from the user routes."""
        response = await client.get("/api/users", headers=await sign_in(client, username))
        assert response.status_code == 403
        assert response.headers["content-type"] == "application/problem+json"
        assert response.json()["title"] == "Forbidden"

    @pytest.mark.parametrize("username", ["admin", "fin", "clerk", "audit", "eval"])
    async def test_every_role_reads_departments(
        self, client: httpx.AsyncClient, username: str
    ) -> None:
        """Any signed-in user may list departments."""
        response = await client.get("/api/departments", headers=await sign_in(client, username))
        assert response.status_code == 200
        assert [d["code"] for d in response.json()] == ["D1"]


class TestLogging:
    async def test_request_line_names_the_actor(
        self, client: httpx.AsyncClient, caplog: pytest.LogCaptureFixture
    ) -> None:
        """The per-request log line carries request id, actor, method, path and status."""
        headers = {**await sign_in(client, "fin"), "X-Request-ID": "req-42"}
        caplog.clear()
        await client.get("/api/me", headers=headers)
        request_lines = [event for event in logged_events(caplog) if event["event"] == "request"]
        assert len(request_lines) == 1
        expected = {
            "request_id": "req-42",
            "actor": "fin",
            "method": "GET",
            "path": "/api/me",
            "status": 200,
        }
        assert request_lines[0] | expected == request_lines[0]


class TestOpenApi:
    async def test_docs_offer_the_password_flow(self, client: httpx.AsyncClient) -> None:
        """The OpenAPI document declares the OAuth2 password flow at the token URL."""
        response = await client.get("/openapi.json")
        assert response.status_code == 200
        schemes = response.json()["components"]["securitySchemes"]
        assert schemes["OAuth2PasswordBearer"]["flows"]["password"]["tokenUrl"] == (
            "/api/auth/token"
        )
