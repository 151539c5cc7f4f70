"""Every error is RFC 9457 problem details, and none leaks what it should not."""

from __future__ import annotations

import logging
import re
from typing import Annotated, cast

import httpx
import pytest
from fastapi import APIRouter, FastAPI, HTTPException, Query
from fastapi.responses import JSONResponse
from pydantic import BaseModel, Field
from temporalio.client import Client

from service.app import create_app
from service.db import init_db
from service.problems import INTERNAL_ERROR_DETAIL, Problem, problem_response
from service.settings import Settings
from tests.service.conftest import FakeTemporalClient, logged_events, sign_in

PROBLEM_JSON = "application/problem+json"
SECRET_IN_BUG = "connection string with password hunter2"

probe = APIRouter(prefix="/probe")


class Indicator(BaseModel):
    code: str
    weight: Annotated[float, Field(gt=0)]


class Goals(BaseModel):
    fiscal_year: int
    indicators: list[Indicator]


@probe.post("/goals")
def post_goals(goals: Goals) -> Goals:
    return goals


@probe.get("/page")
def get_page(size: Annotated[int, Query(le=100)] = 10) -> int:
    return size


@probe.get("/bug")
def bug() -> None:
    raise RuntimeError(SECRET_IN_BUG)


@probe.get("/async-bug")
async def async_bug() -> None:
    raise KeyError(SECRET_IN_BUG)


@probe.get("/teapot")
def teapot() -> None:
    raise HTTPException(status_code=418, detail="short and stout")


@probe.get("/rejected")
def rejected() -> None:
    raise Problem(
        status=409,
        title="Action not allowed now",
        detail="project P1 is filed",
        action="approve_budget",
        state="filed",
        unmet=[{"guard": "goals_approved", "message": "goals of 2027 are not approved"}],
    )


@probe.get("/slow-down")
def slow_down() -> JSONResponse:
    return problem_response(429, detail="try again later", headers={"Retry-After": "5"}, limit=10)


@pytest.fixture
def app(settings: Settings, temporal: FakeTemporalClient) -> FastAPI:
    """The real app plus probe routes that fail in every way a route can."""
    init_db(settings)
    application = create_app(settings, temporal_client=cast(Client, temporal))
    application.include_router(probe)
    return application


def _assert_problem(response: httpx.Response, status: int) -> dict[str, object]:
    assert response.status_code == status
    assert response.headers["content-type"] == PROBLEM_JSON
    body = response.json()
    assert isinstance(body, dict)
    assert {"type", "title", "status", "detail"} <= body.keys()
    assert body["status"] == status
    return body


class TestShape:
    async def test_unknown_route_is_404(self, client: httpx.AsyncClient) -> None:
        """A path no route matches is a 404 problem."""
        body = _assert_problem(await client.get("/api/nothing-here"), 404)
        assert body == {
            "type": "about:blank",
            "title": "Not Found",
            "status": 404,
            "detail": "Not Found",
        }

    async def test_wrong_method_is_405_with_allow(self, client: httpx.AsyncClient) -> None:
        """A known path with an unsupported method is a 405 problem keeping `Allow`."""
        response = await client.delete("/api/auth/token")
        _assert_problem(response, 405)
        assert response.headers["allow"] == "POST"

    async def test_http_exception_keeps_its_detail(self, client: httpx.AsyncClient) -> None:
        """An HTTPException from any code becomes a problem with its status and detail."""
        body = _assert_problem(await client.get("/probe/teapot"), 418)
        assert (body["title"], body["detail"]) == ("I'm a Teapot", "short and stout")

    async def test_problem_carries_extension_members(self, client: httpx.AsyncClient) -> None:
        """Keyword arguments of Problem become members beside the standard ones."""
        body = _assert_problem(await client.get("/probe/rejected"), 409)
        assert body["action"] == "approve_budget"
        assert body["state"] == "filed"
        assert body["unmet"] == [
            {"guard": "goals_approved", "message": "goals of 2027 are not approved"}
        ]

    async def test_problem_response_helper(self, client: httpx.AsyncClient) -> None:
        """problem_response builds the same shape with headers and extension members."""
        response = await client.get("/probe/slow-down")
        body = _assert_problem(response, 429)
        assert (body["title"], body["detail"], body["limit"]) == (
            "Too Many Requests",
            "try again later",
            10,
        )
        assert response.headers["retry-after"] == "5"


class TestValidation:
    async def test_fields_are_dotted_paths_with_reasons(self, client: httpx.AsyncClient) -> None:
        """422 lists each invalid field as a dotted path with a readable reason."""
        response = await client.post(
            "/probe/goals",
            json={"fiscal_year": "next", "indicators": [{"code": "A", "weight": 0}, {}]},
        )
        body = _assert_problem(response, 422)
        assert body["errors"] == [
            {
                "field": "body.fiscal_year",
                "reason": "Input should be a valid integer, unable to parse string as an integer",
            },
            {"field": "body.indicators.0.weight", "reason": "Input should be greater than 0"},
            {"field": "body.indicators.1.code", "reason": "Field required"},
            {"field": "body.indicators.1.weight", "reason": "Field required"},
        ]
        assert "body.indicators.0.weight" in str(body["detail"])

    async def test_query_parameters_are_named(self, client: httpx.AsyncClient) -> None:
        """An invalid query parameter is reported as query.<name>."""
        body = _assert_problem(await client.get("/probe/page", params={"size": 1000}), 422)
        assert body["errors"] == [
            {"field": "query.size", "reason": "Input should be less than or equal to 100"}
        ]

    async def test_malformed_json_is_422(self, client: httpx.AsyncClient) -> None:
        """A body that is not JSON is a 422 problem, not a 400 or a 500."""
        response = await client.post(
            "/probe/goals", content=b"{not json", headers={"content-type": "application/json"}
        )
        body = _assert_problem(response, 422)
        assert body["errors"][0]["field"].startswith("body")  # type: ignore[index]

    @pytest.mark.usefixtures("users")
    async def test_inputs_are_never_echoed(
        self, client: httpx.AsyncClient, caplog: pytest.LogCaptureFixture
    ) -> None:
        """A rejected password is named as a field but appears in neither response nor logs."""
        secret = "hunter2-but-longer"
        response = await client.post(
            "/api/users",
            headers=await sign_in(client, "admin"),
            json={"username": "newbie", "password": [secret], "role": "bogus"},
        )
        body = _assert_problem(response, 422)
        assert [e["field"] for e in body["errors"]] == ["body.password", "body.role"]  # type: ignore[attr-defined]
        assert secret not in response.text
        assert "input" not in response.text
        assert secret not in caplog.text

    async def test_sign_in_form_errors_do_not_echo(
        self, client: httpx.AsyncClient, caplog: pytest.LogCaptureFixture
    ) -> None:
        """A sign-in form without a username names the field and does not echo the password."""
        response = await client.post("/api/auth/token", data={"password": "p4ssw0rd-secret"})
        body = _assert_problem(response, 422)
        assert body["errors"] == [{"field": "body.username", "reason": "Field required"}]
        assert "p4ssw0rd-secret" not in response.text
        assert "p4ssw0rd-secret" not in caplog.text


class TestUnexpectedErrors:
    @pytest.mark.parametrize("path", ["/probe/bug", "/probe/async-bug"])
    async def test_bug_is_a_generic_500(
        self, client: httpx.AsyncClient, caplog: pytest.LogCaptureFixture, path: str
    ) -> None:
        """A bug answers 500 with a generic detail and nothing of the exception."""
        response = await client.get(path)
        body = _assert_problem(response, 500)
        assert body["detail"] == INTERNAL_ERROR_DETAIL
        assert "hunter2" not in response.text
        assert "Error" not in response.text.replace("Internal Server Error", "")

    async def test_bug_is_logged_with_traceback_and_request_id(
        self, client: httpx.AsyncClient, caplog: pytest.LogCaptureFixture
    ) -> None:
        """The log has the traceback, and the request id the caller got in the header."""
        response = await client.get("/probe/bug")
        request_id = response.headers["x-request-id"]
        errors = [r for r in caplog.records if r.levelno >= logging.ERROR and r.exc_info]
        assert len(errors) == 1
        assert isinstance(errors[0].exc_info, tuple)
        assert isinstance(errors[0].exc_info[1], RuntimeError)
        events = logged_events(caplog)
        assert {e["request_id"] for e in events if e["event"] == "unhandled_error"} == {request_id}
        (request_line,) = [e for e in events if e["event"] == "request"]
        assert request_line["status"] == 500


class TestRequestId:
    async def test_given_id_is_echoed(self, client: httpx.AsyncClient) -> None:
        """A caller's X-Request-ID comes back unchanged, on errors too."""
        response = await client.get("/nowhere", headers={"X-Request-ID": "abc-123"})
        assert response.headers["x-request-id"] == "abc-123"

    async def test_missing_id_is_made_up(self, client: httpx.AsyncClient) -> None:
        """Without X-Request-ID the response carries a fresh one."""
        first = (await client.get("/healthz")).headers["x-request-id"]
        second = (await client.get("/healthz")).headers["x-request-id"]
        assert re.fullmatch(r"[0-9a-f]{32}", first)
        assert first != second

    async def test_unsafe_id_is_replaced(self, client: httpx.AsyncClient) -> None:
        """An id that could forge log lines is replaced by our own."""
        response = await client.get("/healthz", headers={"X-Request-ID": 'x" injected=1'})
        assert re.fullmatch(r"[0-9a-f]{32}", response.headers["x-request-id"])
