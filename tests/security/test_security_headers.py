"""Every answer forbids framing and MIME sniffing; the workbench's pages carry a Content
Security Policy that runs our own script only; the API docs keep working (their CDN script)."""

from __future__ import annotations

import httpx

from service.security_headers import WORKBENCH_POLICY
from tests.security.conftest import LightApp, light_app

__all__ = ["light_app"]


def _hardened(answer: httpx.Response) -> None:
    assert answer.headers["x-content-type-options"] == "nosniff"
    assert answer.headers["x-frame-options"] == "DENY"
    assert answer.headers["referrer-policy"] == "same-origin"
    assert "frame-ancestors 'none'" in answer.headers["content-security-policy"]


async def test_workbench_pages_run_only_their_own_script(light_app: LightApp) -> None:
    async with light_app() as (_, http):
        page = await http.get("/login")
    assert page.status_code == 200
    _hardened(page)
    policy = page.headers["content-security-policy"]
    assert policy == WORKBENCH_POLICY
    assert "script-src 'self'" in policy
    assert "unsafe-inline" not in policy.split("script-src")[1].split(";")[0]
    assert "<script>" not in page.text  # nothing inline that the policy would refuse


async def test_api_answers_and_refusals_are_hardened_too(light_app: LightApp) -> None:
    async with light_app(max_body_bytes=100) as (_, http):
        unauthenticated = await http.get("/api/projects")
        too_large = await http.post("/api/projects", content=b"x" * 1000)
        livez = await http.get("/livez")
    assert unauthenticated.status_code == 401
    assert too_large.status_code == 413
    for answer in (unauthenticated, too_large, livez):
        _hardened(answer)
        assert answer.headers["content-security-policy"] == "frame-ancestors 'none'"


async def test_the_api_docs_may_load_swagger_ui(light_app: LightApp) -> None:
    async with light_app() as (_, http):
        docs = await http.get("/docs")
    assert docs.status_code == 200
    _hardened(docs)
    # Swagger UI comes from its CDN with an inline bootstrap script: no script-src here.
    assert docs.headers["content-security-policy"] == "frame-ancestors 'none'"
    assert "<script>" in docs.text or "<script " in docs.text
