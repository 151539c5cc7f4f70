"""Every endpoint × every role against the real stack: who gets 2xx, 401, 403, 404, 409 or 422.

The table below is the authorization policy of the API in one place. The routes come from the
app itself, so a new endpoint without a row here fails `test_every_route_has_a_row`.
"""

from __future__ import annotations

import itertools
import uuid
from collections.abc import Awaitable, Callable
from dataclasses import dataclass, field
from datetime import UTC, datetime, timedelta
from typing import Any

import jwt
import pytest
from fastapi.routing import iter_route_contexts
from sqlmodel import Session

from models.evaluator_tables import Expert
from models.notification_tables import Notification, Recipient
from service.auth import ALGORITHM
from service.db import session_scope
from service.users import add_user
from service.web.session import CSRF_FIELD, LOGIN_CSRF_COOKIE, SESSION_COOKIE, csrf_for
from tests import department_factories as df
from tests import factories as f
from tests.api.conftest import PASSWORD, Api

# The columns: admin, finance, a department user of the project's department (clerk1, D1),
# one of another department (clerk2, D2), evaluator, auditor, and no token at all.
ROLES: tuple[str | None, ...] = ("admin", "fin", "clerk1", "clerk2", "eval", "audit", None)

Route = tuple[str, str]  # (method, path template)

# fmt: off
# Per route, the status each column gets; the requests themselves are in `REQUESTS` below.
MATRIX: dict[Route, tuple[int, int, int, int, int, int, int]] = {
    #                                                    admin  fin  own other eval audit anon
    ("GET",    "/openapi.json"):                          (200, 200, 200, 200, 200, 200, 200),
    ("HEAD",   "/openapi.json"):                          (200, 200, 200, 200, 200, 200, 200),
    ("GET",    "/docs"):                                  (200, 200, 200, 200, 200, 200, 200),
    ("HEAD",   "/docs"):                                  (200, 200, 200, 200, 200, 200, 200),
    ("GET",    "/docs/oauth2-redirect"):                  (200, 200, 200, 200, 200, 200, 200),
    ("HEAD",   "/docs/oauth2-redirect"):                  (200, 200, 200, 200, 200, 200, 200),
    ("GET",    "/redoc"):                                 (200, 200, 200, 200, 200, 200, 200),
    ("HEAD",   "/redoc"):                                 (200, 200, 200, 200, 200, 200, 200),
    ("GET",    "/healthz"):                               (200, 200, 200, 200, 200, 200, 200),
    ("GET",    "/livez"):                                 (200, 200, 200, 200, 200, 200, 200),
    ("GET",    "/readyz"):                                (200, 200, 200, 200, 200, 200, 200),
    # Open without PERFBUDGET_METRICS_TOKEN (as here); tests/service/test_metrics.py covers
    # the token. A user's bearer token is not the metrics token, and is not refused either.
    ("GET",    "/metrics"):                               (200, 200, 200, 200, 200, 200, 200),
    # Each role signs in with its own password; "anon" sends no credentials.
    ("POST",   "/api/auth/token"):                        (200, 200, 200, 200, 200, 200, 422),
    ("GET",    "/api/me"):                                (200, 200, 200, 200, 200, 200, 401),
    ("POST",   "/api/users"):                             (201, 403, 403, 403, 403, 403, 401),
    ("GET",    "/api/users"):                             (200, 403, 403, 403, 403, 403, 401),
    ("PATCH",  "/api/users/{username}"):                  (200, 403, 403, 403, 403, 403, 401),
    ("POST",   "/api/departments"):                       (201, 403, 403, 403, 403, 403, 401),
    ("GET",    "/api/departments"):                       (200, 200, 200, 200, 200, 200, 401),
    ("GET",    "/api/departments/{code}"):                (200, 200, 200, 200, 200, 200, 401),
    ("PATCH",  "/api/departments/{code}"):                (200, 403, 403, 403, 403, 403, 401),
    # Each department files for its own department.
    ("POST",   "/api/projects"):                          (403, 403, 201, 201, 403, 403, 401),
    # Lists only what the caller may see (the evaluator: nothing yet), never a 403.
    ("GET",    "/api/projects"):                          (200, 200, 200, 200, 200, 200, 401),
    # Another department's project does not exist for its users (404, not 403).
    ("GET",    "/api/projects/{code}"):                   (200, 200, 200, 404, 404, 200, 401),
    # `submit` of the D1 project: only its department may; those who cannot see it get 404.
    ("POST",   "/api/projects/{code}/actions/{action}"):  (403, 403, 200, 404, 404, 403, 401),
    ("GET",    "/api/projects/{code}/history"):           (200, 200, 200, 404, 404, 200, 401),
    ("GET",    "/api/projects/{code}/diagram"):           (200, 200, 200, 404, 404, 200, 401),
    ("POST",   "/api/scoring/self-evaluation"):           (200, 200, 200, 200, 200, 200, 401),
    ("GET",    "/api/notifications"):                     (200, 200, 403, 403, 403, 200, 401),
    # The notification was sent, so those allowed to retry get 409 ("only a failed one").
    ("POST",   "/api/notifications/{notification_id}/retry"): (409, 409, 403, 403, 403, 403, 401),
    ("GET",    "/api/recipients"):                        (200, 403, 403, 403, 403, 403, 401),
    ("POST",   "/api/recipients"):                        (201, 403, 403, 403, 403, 403, 401),
    ("PATCH",  "/api/recipients/{recipient_id}"):         (200, 403, 403, 403, 403, 403, 401),
    ("DELETE", "/api/recipients/{recipient_id}"):         (204, 403, 403, 403, 403, 403, 401),
    ("GET",    "/api/calendar"):                          (200, 200, 200, 200, 200, 200, 401),
    ("PUT",    "/api/calendar"):                          (200, 403, 403, 403, 403, 403, 401),
    # The expert library: finance and admins keep it, auditors read it.
    ("POST",   "/api/experts"):                           (201, 201, 403, 403, 403, 403, 401),
    ("GET",    "/api/experts"):                           (200, 200, 403, 403, 403, 200, 401),
    ("GET",    "/api/experts/{expert_id}"):               (200, 200, 403, 403, 403, 200, 401),
    ("PATCH",  "/api/experts/{expert_id}"):               (200, 200, 403, 403, 403, 403, 401),
    ("POST",   "/api/experts/{expert_id}/suspend"):       (200, 200, 403, 403, 403, 403, 401),
    ("POST",   "/api/experts/{expert_id}/reinstate"):     (200, 200, 403, 403, 403, 403, 401),
    # The expert did no job on the project: those allowed to rate get 409 ("no such job").
    ("POST",   "/api/experts/{expert_id}/ratings"):       (409, 409, 403, 403, 403, 403, 401),
    # Only finance selects (none of the year's projects is self-evaluated: an empty selection).
    ("POST",   "/api/key-evaluations/{fiscal_year}/selections"): (403, 200, 403, 403, 403, 403, 401),
    ("GET",    "/api/key-evaluations/{fiscal_year}/selections"): (200, 200, 403, 403, 403, 200, 401),
    # Only finance commissions; the project is not selected, so its workflow refuses (409).
    ("POST",   "/api/projects/{code}/key-evaluation/evaluators"): (403, 409, 403, 403, 403, 403, 401),
    ("GET",    "/api/templates"):                         (200, 200, 200, 200, 200, 200, 401),
    ("GET",    "/api/reports/zone/{year}"):               (200, 200, 403, 403, 403, 200, 401),
    # A department reads its own department's register (clerk2: D2's, empty).
    ("GET",    "/api/responsibility"):                    (200, 200, 200, 200, 403, 200, 401),
    # Disclosure is public: everyone, signed in or not, reads the same.
    ("GET",    "/api/public/disclosures"):                (200, 200, 200, 200, 200, 200, 200),
    ("GET",    "/public/"):                               (200, 200, 200, 200, 200, 200, 200),
    ("GET",    "/public/projects/{code}"):                (200, 200, 200, 200, 200, 200, 200),
    # The workbench's pages: a cookie session instead of a bearer token (see `PAGES`); without
    # one a page redirects to /login (303). Refusals are pages, not problem details.
    ("GET",    "/login"):                                 (200, 200, 200, 200, 200, 200, 200),
    # Each role signs in with its password and the sign-in form's CSRF cookie; "anon" posts
    # an empty form, without the CSRF pair.
    ("POST",   "/login"):                                 (303, 303, 303, 303, 303, 303, 403),
    ("POST",   "/logout"):                                (303, 303, 303, 303, 303, 303, 303),
    ("GET",    "/lang/{lang}"):                           (303, 303, 303, 303, 303, 303, 303),
    ("GET",    "/"):                                      (200, 200, 200, 200, 200, 200, 303),
    ("GET",    "/projects/new"):                          (403, 403, 200, 200, 403, 403, 303),
    ("POST",   "/projects"):                              (403, 403, 303, 303, 403, 403, 303),
    ("GET",    "/projects/{code}"):                       (200, 200, 200, 404, 404, 200, 303),
    # `submit` of a fresh D1 project, as the API row above.
    ("POST",   "/projects/{code}/actions/{action}"):      (403, 403, 303, 404, 404, 403, 303),
    ("GET",    "/excel/goals-template.xlsx"):             (200, 200, 200, 200, 200, 200, 303),
    # No file: the department's own import is refused as an invalid sheet (422).
    ("POST",   "/projects/{code}/goals/import"):          (403, 403, 422, 404, 404, 403, 303),
    # The project has no self-evaluation yet: nothing to export or report, even where visible.
    ("GET",    "/projects/{code}/self-evaluation/{year}.xlsx"): (404, 404, 404, 404, 404, 404, 303),
    ("GET",    "/projects/{code}/report/{year}.pdf"):     (404, 404, 404, 404, 404, 404, 303),
    ("GET",    "/projects/{code}/report/{year}"):         (404, 404, 404, 404, 404, 404, 303),
    # Department years' pages, as their API rows: the list is every department's for those who
    # read all, the own department's for its users; the evaluator has none.
    ("GET",    "/departments"):                           (200, 200, 200, 200, 403, 200, 303),
    ("POST",   "/departments/{code}/years"):              (403, 303, 303, 404, 404, 403, 303),
    ("GET",    "/departments/{code}/years/{year}"):       (200, 200, 200, 404, 404, 200, 303),
    # `submit_goals` (its goals table) of a D1 year opened for the call: only its department may.
    ("POST",   "/departments/{code}/years/{year}/actions/{action}"): (403, 403, 303, 404, 404, 403, 303),
    # Department years of D1: finance and D1's own users open and act (each by its role);
    # admin and audit read them; another department and the evaluator do not see them (404).
    ("POST",   "/api/departments/{code}/years"):          (403, 201, 201, 404, 404, 403, 401),
    ("GET",    "/api/departments/{code}/years"):          (200, 200, 200, 404, 404, 200, 401),
    ("GET",    "/api/departments/{code}/years/{year}"):   (200, 200, 200, 404, 404, 200, 401),
    # `submit_goals` of D1's year: only its department may.
    ("POST",   "/api/departments/{code}/years/{year}/actions/{action}"): (403, 403, 200, 404, 404, 403, 401),
    ("GET",    "/api/departments/{code}/years/{year}/history"): (200, 200, 200, 404, 404, 200, 401),
    ("GET",    "/api/departments/{code}/control-numbers/{year}"): (200, 200, 200, 404, 404, 200, 401),
    # Finance only; nothing was approved the year before, so there is no basis: 409.
    ("POST",   "/api/departments/{code}/control-numbers/{year}"): (403, 409, 403, 403, 403, 403, 401),
    ("GET",    "/api/departments/assessment/{year}"):     (200, 200, 403, 403, 403, 200, 401),
    ("POST",   "/api/departments/assessment/{year}/notices"): (403, 200, 403, 403, 403, 403, 401),
}
# fmt: on

# Page routes: the caller's token travels as the session cookie, forms carry the CSRF token.
PAGES = frozenset(
    route
    for route in MATRIX
    if not route[1].startswith(("/api", "/openapi", "/docs", "/redoc", "/healthz"))
)


# Department years are workflows on the dev server the whole session shares: each opening
# (and each notice round, which may open years) takes a year no other test has used.
FRESH_YEARS = itertools.count(2100)


@dataclass
class World:
    """What the requests refer to: made once, before the matrix runs."""

    api: Api
    project: str  # filed by clerk1 for D1, next fiscal year
    notification: int  # a sent notification
    calendar: dict[str, Any]
    department_year: int  # opened by finance for D1
    made: list[str] = field(default_factory=list)

    def fresh(self, prefix: str) -> str:
        name = f"{prefix}{uuid.uuid4().hex[:8].upper()}"
        self.made.append(name)
        return name

    def session(self) -> Any:
        return session_scope(self.api.settings)


@dataclass(frozen=True)
class Call:
    path: str
    json: Any = None
    data: dict[str, str] | None = None
    cookies: dict[str, str] = field(default_factory=dict)


Builder = Callable[[World, "str | None"], Awaitable[Call]]


def _recipient(world: World) -> int:
    with world.session() as session:
        row = Recipient(
            name=world.fresh("R"),
            desk="finance",
            channel="email",
            address="finance@example.invalid",
            created_at=datetime.now(UTC),
        )
        session.add(row)
        session.flush()
        assert row.id is not None
        return row.id


async def _fixed(path: str, json: Any = None) -> Call:
    return Call(path, json)


def _static(path: str, json: Any = None) -> Builder:
    return lambda _world, _role: _fixed(path, json)


async def _token(world: World, role: str | None) -> Call:
    if role is None:
        return Call("/api/auth/token", data={})
    return Call("/api/auth/token", data={"username": role, "password": PASSWORD})


async def _new_user(world: World, role: str | None) -> Call:
    body = {"username": world.fresh("u"), "password": PASSWORD, "role": "evaluator"}
    return Call("/api/users", body)


async def _new_department(world: World, role: str | None) -> Call:
    return Call("/api/departments", {"code": world.fresh("D"), "name": "新部门"})


async def _new_project(world: World, role: str | None) -> Call:
    year = datetime.now(UTC).year + 1
    return Call("/api/projects", f.filing(world.fresh("M"), start=year, end=year + 1))


def _of_project(suffix: str, json: Any = None) -> Builder:
    async def build(world: World, role: str | None) -> Call:
        return Call(f"/api/projects/{world.project}{suffix}", json)

    return build


async def _of_public_project(world: World, role: str | None) -> Call:
    return Call(f"/public/projects/{world.project}")


async def _retry(world: World, role: str | None) -> Call:
    return Call(f"/api/notifications/{world.notification}/retry")


async def _new_recipient(world: World, role: str | None) -> Call:
    body = {"name": world.fresh("R"), "desk": "finance", "channel": "email", "address": "a@b.cn"}
    return Call("/api/recipients", body)


async def _patch_recipient(world: World, role: str | None) -> Call:
    return Call(f"/api/recipients/{_recipient(world)}", {"active": False})


async def _delete_recipient(world: World, role: str | None) -> Call:
    return Call(f"/api/recipients/{_recipient(world)}")


async def _put_calendar(world: World, role: str | None) -> Call:
    return Call("/api/calendar", world.calendar)


def _library_entry(world: World, *, suspended: bool = False) -> int:
    with world.session() as session:
        row = Expert(
            kind="expert",
            name=world.fresh("E"),
            department="D2",
            specialities=["交通"],
            suspended=suspended,
            created_at=datetime.now(UTC),
            created_by="test",
        )
        session.add(row)
        session.flush()
        assert row.id is not None
        return row.id


async def _new_expert(world: World, role: str | None) -> Call:
    return Call(
        "/api/experts", {"kind": "expert", "name": world.fresh("E"), "specialities": ["交通"]}
    )


def _of_expert(suffix: str, json: Any = None, *, suspended: bool = False) -> Builder:
    async def build(world: World, role: str | None) -> Call:
        return Call(f"/api/experts/{_library_entry(world, suspended=suspended)}{suffix}", json)

    return build


def _csrf(world: World, role: str | None) -> dict[str, str]:
    if role is None:
        return {}
    return {CSRF_FIELD: csrf_for(world.api.tokens[role], world.api.settings)}


async def _page_login(world: World, role: str | None) -> Call:
    if role is None:
        return Call("/login", data={})
    pair = "matrix-login-csrf"
    form = {"username": role, "password": PASSWORD, CSRF_FIELD: pair}
    return Call("/login", data=form, cookies={LOGIN_CSRF_COOKIE: pair})


def _page_form(path: str, fields: dict[str, str] | None = None) -> Builder:
    async def build(world: World, role: str | None) -> Call:
        return Call(path, data={**_csrf(world, role), **(fields or {})})

    return build


async def _open_year(world: World, role: str | None) -> Call:
    return Call("/api/departments/D1/years", {"fiscal_year": next(FRESH_YEARS)})


def _of_department_year(suffix: str, json: Any = None) -> Builder:
    async def build(world: World, role: str | None) -> Call:
        return Call(f"/api/departments/D1/years/{world.department_year}{suffix}", json)

    return build


async def _page_open_year(world: World, role: str | None) -> Call:
    fields = {**_csrf(world, role), "fiscal_year": str(next(FRESH_YEARS))}
    return Call("/departments/D1/years", data=fields)


async def _page_of_department_year(world: World, role: str | None) -> Call:
    return Call(f"/departments/D1/years/{world.department_year}")


async def _page_department_action(world: World, role: str | None) -> Call:
    """`submit_goals` on a D1 year of its own: the API row before has submitted the shared one."""
    year = next(FRESH_YEARS)
    opened = await world.api.post("/api/departments/D1/years", "fin", {"fiscal_year": year})
    assert opened.status_code == 201, opened.text
    fields = {**_csrf(world, role), **df.goals_form()}
    return Call(f"/departments/D1/years/{year}/actions/submit_goals", data=fields)


def _selections() -> Builder:
    async def build(world: World, role: str | None) -> Call:
        return Call(f"/api/key-evaluations/{datetime.now(UTC).year}/selections", {"seed": 1})

    return build


async def _assign(world: World, role: str | None) -> Call:
    year = datetime.now(UTC).year + 1
    body = {"fiscal_year": year, "expert_ids": [_library_entry(world)]}
    return Call(f"/api/projects/{world.project}/key-evaluation/evaluators", body)


async def _page_file(world: World, role: str | None) -> Call:
    year = datetime.now(UTC).year + 1
    filing = {k: str(v) for k, v in f.filing(world.fresh("W"), start=year, end=year).items()}
    filing.pop("major")
    return Call("/projects", data={**_csrf(world, role), **filing})


async def _page_submit(world: World, role: str | None) -> Call:
    year = datetime.now(UTC).year + 1
    code = world.fresh("S")
    filed = await world.api.post("/api/projects", "clerk1", f.filing(code, start=year, end=year))
    assert filed.status_code == 201, filed.text
    return Call(f"/projects/{code}/actions/submit", data=_csrf(world, role))


def _of_project_page(suffix: str, fields: dict[str, str] | None = None) -> Builder:
    async def build(world: World, role: str | None) -> Call:
        return Call(
            f"/projects/{world.project}{suffix}", data={**_csrf(world, role), **(fields or {})}
        )

    return build


def _page_of_project(suffix: str) -> Builder:
    async def build(world: World, role: str | None) -> Call:
        return Call(f"/projects/{world.project}{suffix}")

    return build


async def _control_number(world: World, role: str | None) -> Call:
    return Call(f"/api/departments/D1/control-numbers/{world.department_year}")


async def _notices(world: World, role: str | None) -> Call:
    return Call(f"/api/departments/assessment/{next(FRESH_YEARS)}/notices")


REQUESTS: dict[Route, Builder] = {
    ("GET", "/openapi.json"): _static("/openapi.json"),
    ("HEAD", "/openapi.json"): _static("/openapi.json"),
    ("GET", "/docs"): _static("/docs"),
    ("HEAD", "/docs"): _static("/docs"),
    ("GET", "/docs/oauth2-redirect"): _static("/docs/oauth2-redirect"),
    ("HEAD", "/docs/oauth2-redirect"): _static("/docs/oauth2-redirect"),
    ("GET", "/redoc"): _static("/redoc"),
    ("HEAD", "/redoc"): _static("/redoc"),
    ("GET", "/healthz"): _static("/healthz"),
    ("GET", "/livez"): _static("/livez"),
    ("GET", "/readyz"): _static("/readyz"),
    ("GET", "/metrics"): _static("/metrics"),
    ("POST", "/api/auth/token"): _token,
    ("GET", "/api/me"): _static("/api/me"),
    ("POST", "/api/users"): _new_user,
    ("GET", "/api/users"): _static("/api/users"),
    ("PATCH", "/api/users/{username}"): _static("/api/users/target", {"active": True}),
    ("POST", "/api/departments"): _new_department,
    ("GET", "/api/departments"): _static("/api/departments"),
    ("GET", "/api/departments/{code}"): _static("/api/departments/D1"),
    ("PATCH", "/api/departments/{code}"): _static("/api/departments/D1", {"head": "李四"}),
    ("POST", "/api/projects"): _new_project,
    ("GET", "/api/projects"): _static("/api/projects"),
    ("GET", "/api/templates"): _static("/api/templates?budget_type=general_public&kind=ppp"),
    ("GET", "/api/projects/{code}"): _of_project(""),
    ("POST", "/api/projects/{code}/actions/{action}"): _of_project("/actions/submit", {}),
    ("GET", "/api/projects/{code}/history"): _of_project("/history"),
    ("GET", "/api/projects/{code}/diagram"): _of_project("/diagram"),
    ("POST", "/api/scoring/self-evaluation"): _static(
        "/api/scoring/self-evaluation",
        {
            "budget": {"available": 100, "executed": 100},
            "indicators": f.indicators(),
            "results": [{"code": "O1", "actual": 100}, {"code": "E1", "actual": 60}],
        },
    ),
    ("GET", "/api/notifications"): _static("/api/notifications"),
    ("POST", "/api/notifications/{notification_id}/retry"): _retry,
    ("GET", "/api/recipients"): _static("/api/recipients"),
    ("POST", "/api/recipients"): _new_recipient,
    ("PATCH", "/api/recipients/{recipient_id}"): _patch_recipient,
    ("DELETE", "/api/recipients/{recipient_id}"): _delete_recipient,
    ("GET", "/api/calendar"): _static("/api/calendar"),
    ("PUT", "/api/calendar"): _put_calendar,
    ("POST", "/api/experts"): _new_expert,
    ("GET", "/api/experts"): _static("/api/experts"),
    ("GET", "/api/experts/{expert_id}"): _of_expert(""),
    ("PATCH", "/api/experts/{expert_id}"): _of_expert("", {"specialities": ["水利"]}),
    ("POST", "/api/experts/{expert_id}/suspend"): _of_expert("/suspend", {"reason": "测试"}),
    ("POST", "/api/experts/{expert_id}/reinstate"): _of_expert("/reinstate", suspended=True),
    ("POST", "/api/experts/{expert_id}/ratings"): _of_expert(
        "/ratings", {"project_code": "NOPE", "fiscal_year": 2027, "score": 3}
    ),
    ("POST", "/api/key-evaluations/{fiscal_year}/selections"): _selections(),
    ("GET", "/api/key-evaluations/{fiscal_year}/selections"): _static(
        "/api/key-evaluations/2027/selections"
    ),
    ("POST", "/api/projects/{code}/key-evaluation/evaluators"): _assign,
    ("GET", "/api/reports/zone/{year}"): _static("/api/reports/zone/2027"),
    ("GET", "/api/responsibility"): _static("/api/responsibility"),
    ("GET", "/api/public/disclosures"): _static("/api/public/disclosures?year=2027"),
    ("GET", "/public/"): _static("/public/"),
    ("GET", "/public/projects/{code}"): _of_public_project,
    ("GET", "/login"): _static("/login"),
    ("POST", "/login"): _page_login,
    ("POST", "/logout"): _page_form("/logout"),
    ("GET", "/lang/{lang}"): _static("/lang/en?next=/"),
    ("GET", "/"): _static("/"),
    ("GET", "/projects/new"): _static("/projects/new"),
    ("POST", "/projects"): _page_file,
    ("GET", "/projects/{code}"): _page_of_project(""),
    ("POST", "/projects/{code}/actions/{action}"): _page_submit,
    ("GET", "/excel/goals-template.xlsx"): _static("/excel/goals-template.xlsx"),
    ("POST", "/projects/{code}/goals/import"): _of_project_page(
        "/goals/import", {"fiscal_year": str(datetime.now(UTC).year + 1)}
    ),
    ("GET", "/projects/{code}/self-evaluation/{year}.xlsx"): _page_of_project(
        "/self-evaluation/2027.xlsx"
    ),
    ("GET", "/projects/{code}/report/{year}.pdf"): _page_of_project("/report/2027.pdf"),
    ("GET", "/projects/{code}/report/{year}"): _page_of_project("/report/2027"),
    ("GET", "/departments"): _static("/departments"),
    ("POST", "/departments/{code}/years"): _page_open_year,
    ("GET", "/departments/{code}/years/{year}"): _page_of_department_year,
    ("POST", "/departments/{code}/years/{year}/actions/{action}"): _page_department_action,
    ("POST", "/api/departments/{code}/years"): _open_year,
    ("GET", "/api/departments/{code}/years"): _static("/api/departments/D1/years"),
    ("GET", "/api/departments/{code}/years/{year}"): _of_department_year(""),
    ("POST", "/api/departments/{code}/years/{year}/actions/{action}"): _of_department_year(
        "/actions/submit_goals", df.goals()
    ),
    ("GET", "/api/departments/{code}/years/{year}/history"): _of_department_year("/history"),
    ("GET", "/api/departments/{code}/control-numbers/{year}"): _control_number,
    ("POST", "/api/departments/{code}/control-numbers/{year}"): _control_number,
    ("GET", "/api/departments/assessment/{year}"): _static("/api/departments/assessment/2026"),
    ("POST", "/api/departments/assessment/{year}/notices"): _notices,
}


def _app_routes(api: Api) -> set[Route]:
    routes: set[Route] = set()
    for route in iter_route_contexts(api.app.routes):
        assert route.path is not None
        for method in route.methods or ():
            routes.add((method, route.path))
    return routes


async def _world(api: Api) -> World:
    year = datetime.now(UTC).year + 1
    code = f"MX{uuid.uuid4().hex[:6].upper()}"
    filed = await api.post("/api/projects", "clerk1", f.filing(code, start=year, end=year + 2))
    assert filed.status_code == 201, filed.text
    calendar = (await api.get("/api/calendar", "admin")).json()
    with session_scope(api.settings) as session:
        add_user(session=session, username="target", password=PASSWORD, role="evaluator")
        notification = _sent_notification(session, code)
    department_year = next(FRESH_YEARS)
    opened = await api.post("/api/departments/D1/years", "fin", {"fiscal_year": department_year})
    assert opened.status_code == 201, opened.text
    return World(
        api=api,
        project=code,
        notification=notification,
        calendar=calendar,
        department_year=department_year,
    )


def _sent_notification(session: Session, code: str) -> int:
    now = datetime.now(UTC)
    row = Notification(
        key=f"{code}:1:0",
        project_code=code,
        seq=1,
        event="file",
        desk="finance",
        recipient_id=0,
        channel="email",
        address="finance@example.invalid",
        payload={},
        status="sent",
        attempts=1,
        created_at=now,
        sent_at=now,
    )
    session.add(row)
    session.flush()
    assert row.id is not None
    return row.id


def _credentials(route: Route, token: str | None) -> dict[str, str]:
    """The token as a bearer header for the API, as the session cookie for a page."""
    if token is None:
        return {}
    if route in PAGES:
        return {"Cookie": f"{SESSION_COOKIE}={token}"}
    return {"Authorization": f"Bearer {token}"}


async def _send(api: Api, route: Route, call: Call, headers: dict[str, str]) -> tuple[int, str]:
    if call.cookies:
        jar = "; ".join(f"{k}={v}" for k, v in call.cookies.items())
        headers = {**headers, "Cookie": "; ".join(filter(None, (headers.get("Cookie"), jar)))}
    response = await api.http.request(
        route[0], call.path, json=call.json, data=call.data, headers=headers
    )
    if response.status_code >= 400:
        if route in PAGES:
            # A refused page is a page people can read, in the workbench's frame.
            assert response.headers["content-type"].startswith("text/html"), (
                call.path,
                response.text,
            )
        else:
            # Every refusal of the API is problem details, whoever asked.
            assert response.headers["content-type"].startswith("application/problem+json")
            assert response.json()["status"] == response.status_code
    return response.status_code, response.text


def test_every_route_has_a_row(api: Api) -> None:
    """The table covers exactly the app's routes: a new endpoint needs its row of expectations."""
    routes = _app_routes(api)
    assert set(MATRIX) == routes, {
        "routes without a row": sorted(routes - set(MATRIX)),
        "rows without a route": sorted(set(MATRIX) - routes),
    }
    assert set(REQUESTS) == set(MATRIX)


async def test_every_role_gets_what_the_table_says(api: Api) -> None:
    """Each route, as each role and as nobody, answers with the status of its row."""
    world = await _world(api)
    mismatches = []
    for (method, template), expected in MATRIX.items():
        for role, status in zip(ROLES, expected, strict=True):
            call = await REQUESTS[method, template](world, role)
            token = api.tokens[role] if role is not None else None
            got, text = await _send(
                api, (method, template), call, _credentials((method, template), token)
            )
            if got != status:
                mismatches.append(f"{method} {call.path} as {role or 'anonymous'}: {got} {text}")
    assert not mismatches, "\n".join(mismatches)


def _expired_token(api: Api, username: str) -> str:
    issued = datetime.now(UTC) - timedelta(hours=2)
    claims = {"sub": username, "iat": issued, "exp": issued + timedelta(minutes=5)}
    return jwt.encode(claims, api.settings.jwt_secret, algorithm=ALGORITHM)


@pytest.mark.parametrize("credential", ["expired", "disabled", "forged"])
async def test_bad_tokens_get_what_anonymous_gets(api: Api, credential: str) -> None:
    """An expired, a disabled user's or a foreign-signed token opens nothing that needs a user."""
    world = await _world(api)
    if credential == "expired":
        token = _expired_token(api, "admin")
    elif credential == "disabled":
        token = api.tokens["fin2"]
        response = await api.http.patch(
            "/api/users/fin2", json={"active": False}, headers=api.auth("admin")
        )
        assert response.status_code == 200, response.text
    else:
        claims = {"sub": "admin", "iat": datetime.now(UTC), "exp": datetime.now(UTC) + timedelta(1)}
        token = jwt.encode(claims, "another-secret-that-is-long-enough-0123456789", ALGORITHM)
    anonymous = ROLES.index(None)
    mismatches = []
    for (method, template), expected in MATRIX.items():
        if (method, template) == ("POST", "/api/auth/token"):
            continue  # takes a password, not a token
        call = await REQUESTS[method, template](world, None)
        got, text = await _send(
            api, (method, template), call, _credentials((method, template), token)
        )
        if got != expected[anonymous]:
            mismatches.append(f"{method} {call.path} with {credential} token: {got} {text}")
    assert not mismatches, "\n".join(mismatches)
