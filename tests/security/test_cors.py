"""CORS is closed unless origins are configured, and then open to those origins only."""

from __future__ import annotations

import httpx
import pytest
from pydantic import ValidationError

from service.settings import Settings
from tests.security.conftest import LightApp

ALLOWED = "https://pb.example.gov.cn"
OTHER = "https://evil.example.com"


def _preflight(origin: str, method: str = "POST") -> dict[str, str]:
    return {
        "Origin": origin,
        "Access-Control-Request-Method": method,
        "Access-Control-Request-Headers": "authorization, content-type",
    }


def _cors_headers(response: httpx.Response) -> dict[str, str]:
    return {k: v for k, v in response.headers.items() if k.lower().startswith("access-control-")}


async def test_closed_by_default(light_app: LightApp) -> None:
    """Without `cors_origins` no response carries a CORS header, preflights included."""
    async with light_app() as (_, http):
        simple = await http.get("/healthz", headers={"Origin": OTHER})
        assert simple.status_code == 200
        assert _cors_headers(simple) == {}
        preflight = await http.options("/api/projects", headers=_preflight(OTHER))
        # No CORS handling at all: the router says OPTIONS is not a method of this path.
        assert preflight.status_code == 405
        assert preflight.headers["content-type"].startswith("application/problem+json")
        assert _cors_headers(preflight) == {}


async def test_configured_origins_only(light_app: LightApp) -> None:
    """A configured origin may call and read; any other origin gets no CORS header."""
    async with light_app(cors_origins=[ALLOWED]) as (_, http):
        preflight = await http.options("/api/projects", headers=_preflight(ALLOWED))
        assert preflight.status_code == 200
        assert preflight.headers["access-control-allow-origin"] == ALLOWED
        assert "POST" in preflight.headers["access-control-allow-methods"]
        assert "authorization" in preflight.headers["access-control-allow-headers"].lower()
        # Bearer tokens, not cookies: credentials are never allowed.
        assert "access-control-allow-credentials" not in preflight.headers

        simple = await http.get("/healthz", headers={"Origin": ALLOWED})
        assert simple.headers["access-control-allow-origin"] == ALLOWED
        assert "X-Request-ID" in simple.headers["access-control-expose-headers"]
        # Errors are readable by the page too (a 401 problem here).
        refused = await http.get("/api/me", headers={"Origin": ALLOWED})
        assert refused.status_code == 401
        assert refused.headers["access-control-allow-origin"] == ALLOWED

        other = await http.get("/healthz", headers={"Origin": OTHER})
        assert "access-control-allow-origin" not in other.headers
        other_preflight = await http.options("/api/projects", headers=_preflight(OTHER))
        assert other_preflight.status_code == 400
        assert "access-control-allow-origin" not in other_preflight.headers


@pytest.mark.parametrize("origin", ["https://pb.example.gov.cn/", "pb.example.gov.cn", "*"])
def test_origins_must_be_origins(origin: str) -> None:
    """A path, a trailing slash, a bare host or a wildcard is a configuration error."""
    with pytest.raises(ValidationError):
        Settings(environment="test", cors_origins=[origin])
