"""Signing in to the workbench: cookie session, CSRF on every form, redirects, language."""

from __future__ import annotations

import re

import httpx

from service.db import session_scope
from service.users import set_active
from service.web.session import LOGIN_CSRF_COOKIE, SESSION_COOKIE
from tests.api.conftest import PASSWORD
from tests.web.conftest import light_app

__all__ = ["light_app"]


async def _sign_in(
    http: httpx.AsyncClient, username: str, *, next_path: str = "/"
) -> httpx.Response:
    page = await http.get("/login", params={"next": next_path})
    token = re.search(r'name="csrf_token" value="([^"]+)"', page.text)
    assert token is not None
    return await http.post(
        "/login",
        data={
            "username": username,
            "password": PASSWORD,
            "csrf_token": token[1],
            "next": next_path,
        },
    )


async def test_a_page_without_a_session_sends_to_sign_in(light_app) -> None:
    """Asked for without a session, a page redirects to /login and comes back after."""
    async with light_app() as (_app, http):
        response = await http.get("/projects/P1", params={"page": 2})
        assert response.status_code == 303
        assert response.headers["location"] == "/login?next=/projects/P1%3Fpage%3D2"


async def test_signing_in_sets_a_guarded_cookie(light_app) -> None:
    """HttpOnly, SameSite=Lax, for the whole site; then the dashboard of the role opens."""
    async with light_app() as (_app, http):
        response = await _sign_in(http, "clerk1", next_path="/?page=1")
        assert response.status_code == 303
        assert response.headers["location"] == "/?page=1"
        cookie = response.headers["set-cookie"]
        assert cookie.startswith(f"{SESSION_COOKIE}=")
        assert "HttpOnly" in cookie
        assert "SameSite=lax" in cookie
        assert "Path=/" in cookie
        home = await http.get("/")
        assert home.status_code == 200
        assert "工作台 · 部门、单位 D1" in home.text
        assert home.headers["cache-control"] == "no-store"


async def test_sign_in_refusals_are_in_chinese_and_set_no_session(light_app) -> None:
    async with light_app() as (_app, http):
        page = await http.get("/login")
        token = re.search(r'name="csrf_token" value="([^"]+)"', page.text)
        assert token is not None
        wrong = await http.post(
            "/login", data={"username": "clerk1", "password": "nope", "csrf_token": token[1]}
        )
        assert wrong.status_code == 401
        assert "用户名或密码错误" in wrong.text
        assert SESSION_COOKIE not in wrong.headers.get("set-cookie", "")
        http.cookies.delete(LOGIN_CSRF_COOKIE)
        forged = await http.post(
            "/login", data={"username": "clerk1", "password": PASSWORD, "csrf_token": token[1]}
        )
        assert forged.status_code == 403  # posted from elsewhere: no sign-in cookie pair
        assert "页面已过期" in forged.text


async def test_next_never_leads_to_another_site(light_app) -> None:
    async with light_app() as (_app, http):
        for target in ("//evil.example/", "https://evil.example/", "/\\evil.example"):
            response = await _sign_in(http, "fin", next_path=target)
            assert response.headers["location"] == "/"


async def test_a_form_without_its_csrf_token_changes_nothing(light_app) -> None:
    """Sign-out without the token is refused and the session still works; with it, it ends."""
    async with light_app() as (_app, http):
        await _sign_in(http, "fin")
        refused = await http.post("/logout", data={})
        assert refused.status_code == 403
        assert (await http.get("/")).status_code == 200
        home = await http.get("/")
        token = re.search(r'name="csrf_token" value="([^"]+)"', home.text)
        assert token is not None
        done = await http.post("/logout", data={"csrf_token": token[1]})
        assert done.status_code == 303
        assert (await http.get("/")).status_code == 303


async def test_a_disabled_user_is_out_at_once(light_app) -> None:
    async with light_app() as (app, http):
        await _sign_in(http, "fin")
        with session_scope(app.state.settings) as session:
            set_active(session=session, username="fin", active=False)
        assert (await http.get("/")).status_code == 303


async def test_english_is_one_switch_away(light_app) -> None:
    async with light_app() as (_app, http):
        await _sign_in(http, "fin")
        switched = await http.get("/lang/en", params={"next": "/?page=1"})
        assert switched.status_code == 303
        assert switched.headers["location"] == "/?page=1"
        home = await http.get("/")
        assert "Dashboard · Finance bureau" in home.text
        assert '<html lang="en">' in home.text
        await http.get("/lang/zh")
        assert '<html lang="zh-CN">' in (await http.get("/")).text


async def test_the_evaluator_sees_its_assignments(light_app) -> None:
    """An evaluator's dashboard: its assignments (none yet), no project list."""
    async with light_app() as (_app, http):
        await _sign_in(http, "eval")
        home = await http.get("/")
        assert "暂无委托的评价任务" in home.text
        assert "按状态统计" not in home.text
