"""Oversized bodies (413) and NUL characters (422) are refused at the door, as problem details."""

from __future__ import annotations

from collections.abc import AsyncIterator, Iterator
from pathlib import Path

import httpx
import pytest
from sqlmodel import Session

from models.tables import User
from service.db import engine_for
from tests.api.conftest import PASSWORD
from tests.security.conftest import LightApp
from tests.support.databases import fresh_postgres_database, postgres_base_url, sqlite_file_url

LIMIT = 4096


async def _token(http: httpx.AsyncClient, username: str = "admin") -> dict[str, str]:
    response = await http.post("/api/auth/token", data={"username": username, "password": PASSWORD})
    return {"Authorization": f"Bearer {response.json()['access_token']}"}


def _user_body(size: int) -> bytes:
    """A JSON body creating user `big` whose padding makes it exactly `size` bytes."""
    head = b'{"username": "big", "password": "long-enough-password", "role": "evaluator", "x": "'
    return head + b"a" * (size - len(head) - 2) + b'"}'


def _assert_413(response: httpx.Response) -> None:
    assert response.status_code == 413
    assert response.headers["content-type"].startswith("application/problem+json")
    problem = response.json()
    assert problem["status"] == 413
    assert str(LIMIT) in problem["detail"]


def _user_exists(database_url: str, username: str) -> bool:
    with Session(engine_for(database_url)) as session:
        return session.get(User, username) is not None


class TestBodySize:
    async def test_declared_length_over_the_limit_is_413(self, light_app: LightApp) -> None:
        """A Content-Length over the limit is refused before the app reads a byte."""
        async with light_app(max_body_bytes=LIMIT) as (app, http):
            headers = {**await _token(http), "content-type": "application/json"}
            response = await http.post("/api/users", content=_user_body(LIMIT + 1), headers=headers)
            _assert_413(response)
            assert not _user_exists(app.state.settings.effective_database_url, "big")

    async def test_chunked_body_over_the_limit_is_413(self, light_app: LightApp) -> None:
        """Without a Content-Length the bytes are counted as they stream in."""
        body = _user_body(LIMIT * 3)

        async def chunks() -> AsyncIterator[bytes]:
            for start in range(0, len(body), 1000):
                yield body[start : start + 1000]

        async with light_app(max_body_bytes=LIMIT) as (app, http):
            headers = {**await _token(http), "content-type": "application/json"}
            request = http.build_request("POST", "/api/users", content=chunks(), headers=headers)
            assert "content-length" not in request.headers
            assert request.headers["transfer-encoding"] == "chunked"
            _assert_413(await http.send(request))
            assert not _user_exists(app.state.settings.effective_database_url, "big")

    async def test_a_body_that_lies_about_its_length_is_counted(self, light_app: LightApp) -> None:
        """A small Content-Length followed by more bytes is judged by the bytes."""
        body = _user_body(LIMIT * 2)

        async def chunks() -> AsyncIterator[bytes]:
            yield body

        async with light_app(max_body_bytes=LIMIT) as (_, http):
            headers = {**await _token(http), "content-type": "application/json"}
            headers["content-length"] = "10"
            request = http.build_request("POST", "/api/users", content=chunks(), headers=headers)
            _assert_413(await http.send(request))

    async def test_a_body_at_the_limit_is_read(self, light_app: LightApp) -> None:
        """Exactly the limit is allowed (here: refused later, for its unknown field)."""
        async with light_app(max_body_bytes=LIMIT) as (_, http):
            headers = {**await _token(http), "content-type": "application/json"}
            response = await http.post("/api/users", content=_user_body(LIMIT), headers=headers)
            assert response.status_code == 422
            assert response.json()["errors"][0]["field"] == "body.x"

    async def test_sign_in_form_over_the_limit_is_413(self, light_app: LightApp) -> None:
        """A huge password never reaches the form parser nor argon2."""
        async with light_app(max_body_bytes=LIMIT) as (_, http):
            data = {"username": "admin", "password": "p" * LIMIT}
            _assert_413(await http.post("/api/auth/token", data=data))

    async def test_default_limit_is_one_mebibyte(self, light_app: LightApp) -> None:
        """Without configuration 1 MiB passes the door and a byte more does not."""
        async with light_app() as (_, http):
            headers = {**await _token(http), "content-type": "application/json"}
            over = await http.post("/api/users", content=_user_body(2**20 + 1), headers=headers)
            assert over.status_code == 413
            assert "1048576 bytes" in over.json()["detail"]
            at = await http.post("/api/users", content=_user_body(2**20), headers=headers)
            assert at.status_code == 422


@pytest.fixture(
    params=["sqlite", pytest.param("postgresql", marks=pytest.mark.postgresql)],
)
def any_database_url(request: pytest.FixtureRequest, tmp_path: Path) -> Iterator[str]:
    """SQLite and PostgreSQL: a NUL is harmless to the one and a driver error in the other."""
    if request.param == "sqlite":
        yield sqlite_file_url(tmp_path)
        return
    with fresh_postgres_database(postgres_base_url()) as url:
        yield url


class TestNulCharacters:
    @pytest.mark.parametrize(
        ("method", "path", "kind", "payload"),
        [
            ("GET", "/api/projects/A%00B", None, None),
            ("GET", "/api/users?department=D%001", None, None),
            ("GET", "/api/projects?state=filed%00", None, None),
            ("POST", "/api/departments", "json", {"code": "DN", "name": "部\x00门"}),
            ("PATCH", "/api/users/clerk1", "json", {"department": "D\x001"}),
            ("POST", "/api/auth/token", "form", {"username": "fin\x00", "password": "x"}),
            ("POST", "/api/auth/token", "raw", b"username=fin%00&password=x"),
        ],
    )
    async def test_nul_anywhere_is_422_problem(
        self,
        light_app: LightApp,
        any_database_url: str,
        method: str,
        path: str,
        kind: str | None,
        payload: object,
    ) -> None:
        """A NUL in the path, the query, a JSON or a form body is a 422, on either database."""
        async with light_app(database_url=any_database_url) as (_, http):
            headers = await _token(http)
            if kind == "json":
                response = await http.request(method, path, json=payload, headers=headers)
            elif kind == "form":
                assert isinstance(payload, dict)
                response = await http.request(method, path, data=payload)
            elif kind == "raw":
                assert isinstance(payload, bytes)
                form = {"content-type": "application/x-www-form-urlencoded"}
                response = await http.request(method, path, content=payload, headers=form)
            else:
                response = await http.request(method, path, headers=headers)
        assert response.status_code == 422, response.text
        assert response.headers["content-type"].startswith("application/problem+json")
        assert "NUL" in response.json()["detail"]

    async def test_nul_split_across_chunks_is_found(self, light_app: LightApp) -> None:
        """The JSON escape of a NUL is found even when it straddles two chunks."""
        body = b'{"code": "DN", "name": "ab\\u0000cd"}'
        cut = body.index(b"\\u00") + 3

        async def chunks() -> AsyncIterator[bytes]:
            yield body[:cut]
            yield body[cut:]

        async with light_app() as (_, http):
            headers = {**await _token(http), "content-type": "application/json"}
            request = http.build_request(
                "POST", "/api/departments", content=chunks(), headers=headers
            )
            assert (await http.send(request)).status_code == 422

    async def test_percent_00_is_text_in_json(self, light_app: LightApp) -> None:
        """`%00` in a JSON string is three characters, not a NUL: accepted."""
        async with light_app() as (_, http):
            body = {"code": "DP", "name": "完成率100%00"}
            response = await http.post("/api/departments", json=body, headers=await _token(http))
        assert response.status_code == 201, response.text


class TestRowIds:
    @pytest.mark.parametrize(
        ("method", "path"),
        [
            ("POST", "/api/notifications/10000000000000000000/retry"),
            ("PATCH", "/api/recipients/10000000000000000000"),
            ("DELETE", "/api/recipients/2147483648"),
            ("DELETE", "/api/recipients/0"),
        ],
    )
    async def test_ids_beyond_the_database_are_422(
        self, light_app: LightApp, any_database_url: str, method: str, path: str
    ) -> None:
        """An id no row can have is a 422 naming the path parameter, not a driver overflow."""
        async with light_app(database_url=any_database_url) as (_, http):
            json = {"active": True} if method == "PATCH" else None
            response = await http.request(method, path, json=json, headers=await _token(http))
        assert response.status_code == 422, response.text
        assert response.json()["errors"][0]["field"].startswith("path.")
