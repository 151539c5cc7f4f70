"""Department years, control numbers and the assessment over HTTP, on SQLite and PostgreSQL."""

from __future__ import annotations

import asyncio
import uuid
from collections.abc import Callable
from datetime import UTC, datetime, timedelta, timezone
from typing import Any

import pytest
from prometheus_client.parser import text_string_to_metric_families
from sqlmodel import col, select
from temporalio.client import WorkflowHandle
from temporalio.service import RPCError, RPCStatusCode

from models.notification_tables import Notification, Recipient
from service.db import session_scope
from service.notifications import email_subject
from service.users import add_user
from tests import department_factories as df
from tests import factories as f
from tests.api.conftest import PASSWORD, Api
from workflows.department import DepartmentYearWorkflow

CST = timezone(timedelta(hours=8))


@pytest.fixture(autouse=True)
def _capture_notifications(monkeypatch: pytest.MonkeyPatch) -> None:
    """Record notifications instead of sending them (the worker reads this when it is built)."""
    monkeypatch.setenv("PERFBUDGET_NOTIFICATION_MODE", "capture")


def _this_year() -> int:
    return datetime.now(UTC).astimezone(CST).year


async def _department(api: Api) -> tuple[str, str]:
    """A fresh department and its clerk (workflow ids are unique on the shared dev server)."""
    code = f"DC{uuid.uuid4().hex[:6].upper()}"
    clerk = f"c{uuid.uuid4().hex[:8]}"
    with session_scope(api.settings) as session:
        add_user(
            session=session, username=clerk, password=PASSWORD, role="department", department=code
        )
    token = await api.http.post("/api/auth/token", data={"username": clerk, "password": PASSWORD})
    assert token.status_code == 200, token.text
    api.tokens[clerk] = token.json()["access_token"]
    return code, clerk


async def _project(api: Api, clerk: str, year: int, amount: int, *, end: int | None = None) -> str:
    """A project of the clerk's department with approved goals for `year`."""
    code = f"P{uuid.uuid4().hex[:8].upper()}"
    filed = await api.post("/api/projects", clerk, f.filing(code, start=year, end=end or year))
    assert filed.status_code == 201, filed.text
    for action, body, who in (
        ("submit", {}, clerk),
        ("submit_goals", f.goals(year, amount), clerk),
        ("approve_goals", {"fiscal_year": year}, "fin"),
    ):
        response = await api.act(code, action, who, body)
        assert response.status_code == 200, response.text
    return code


async def _reserved(api: Api, path: str, amount: int, within: float = 10.0) -> dict[str, Any]:
    """The control-number view once the read model shows `amount` reserved."""
    deadline = asyncio.get_running_loop().time() + within
    while True:
        view: dict[str, Any] = (await api.get(path, "fin")).json()
        if view["reserved"] == amount:
            return view
        if asyncio.get_running_loop().time() > deadline:
            raise AssertionError(f"reserved stayed {view['reserved']}, expected {amount}")
        await asyncio.sleep(0.02)


async def test_control_number_refuses_the_excess_and_concurrent_approvals_apply_once(
    api: Api,
) -> None:
    """Ceiling 1,000,000 from this year's budget; two approvals of 600,000 for next year at
    once: exactly one applies, the other is refused by within_control_number in Chinese; the
    refused amount is not held, so 400,000 fits afterwards."""
    department, clerk = await _department(api)
    this_year, next_year = _this_year(), _this_year() + 1
    base = await _project(api, clerk, this_year, 1_000_000)
    approved = await api.act(
        base, "approve_budget", "fin", {"fiscal_year": this_year, "amount": 1_000_000}
    )
    assert approved.status_code == 200, approved.text

    path = f"/api/departments/{department}/control-numbers/{next_year}"
    preview = (await api.get(path, clerk)).json()
    assert preview["recorded"] is False
    assert preview["control_number"]["ceiling"] == "1000000.00"
    assert (await api.get(path, "clerk2")).status_code == 404  # another department's

    opened = await api.post(
        f"/api/departments/{department}/years", clerk, {"fiscal_year": next_year}
    )
    assert opened.status_code == 201, opened.text
    recorded = await api.post(path, "fin")
    assert recorded.status_code == 200, recorded.text
    view = recorded.json()
    assert view["recorded"] is True
    assert [line["kind"] for line in view["control_number"]["lines"]] == [
        "base",
        "grade_adjustment",
        "result",
    ]

    first = await _project(api, clerk, next_year, 600_000)
    second = await _project(api, clerk, next_year, 600_000)
    answers = await asyncio.gather(
        api.act(first, "approve_budget", "fin", {"fiscal_year": next_year, "amount": 600_000}),
        api.act(second, "approve_budget", "fin2", {"fiscal_year": next_year, "amount": 600_000}),
    )
    assert sorted(a.status_code for a in answers) == [200, 409], [a.text for a in answers]
    refused = next(a for a in answers if a.status_code == 409).json()
    assert [u["guard"] for u in refused["unmet"]] == ["within_control_number"]
    assert refused["unmet"][0]["message_zh"] == "部门项目预算累计批复不得超过预算控制数"
    assert "above its control number 1000000" in refused["unmet"][0]["message"]

    # Reservations reach the read model through the department year's projection activity.
    after = await _reserved(api, path, 600_000)
    assert after["remaining"] == 400_000
    loser = first if answers[0].status_code == 409 else second
    key = f"approve-{uuid.uuid4()}"
    body = {"fiscal_year": next_year, "amount": 400_000}
    fits = await api.act(loser, "approve_budget", "fin", body, key=key)
    assert fits.status_code == 200, fits.text
    assert (await _reserved(api, path, 1_000_000))["remaining"] == 0
    # A retry under the same key is the same approval: answered again, reserved once.
    again = await api.act(loser, "approve_budget", "fin", body, key=key)
    assert again.status_code == 200, again.text
    history = (
        await api.get(f"/api/departments/{department}/years/{next_year}/history", "fin")
    ).json()
    assert [h["action"] for h in history].count("reserve") == 2
    assert (await _reserved(api, path, 1_000_000))["remaining"] == 0


async def test_approve_budget_refuses_control_facts_from_the_caller(api: Api) -> None:
    """The reservation facts are the service's to set: a body carrying them is a 422."""
    _department_code, clerk = await _department(api)
    year = _this_year() + 1
    code = await _project(api, clerk, year, 1_000)
    forged = {
        "department": "X",
        "fiscal_year": year,
        "reservation_id": "r",
        "amount": 1,
        "ceiling": None,
        "reserved_before": 0,
        "granted": True,
    }
    response = await api.act(
        code, "approve_budget", "fin", {"fiscal_year": year, "amount": 1, "control": forged}
    )
    assert response.status_code == 422
    assert response.json()["errors"][0]["field"] == "body.control"


def _rejections(action: str, guard: str) -> Callable[[str], float]:
    """`perfbudget_actions_rejected_total{action, guard}` read from a /metrics exposition."""

    def value(exposition: str) -> float:
        return sum(
            sample.value
            for family in text_string_to_metric_families(exposition)
            for sample in family.samples
            if sample.name == "perfbudget_actions_rejected_total"
            and sample.labels == {"action": action, "guard": guard}
        )

    return value


async def test_department_year_goals_budget_history_and_assessment_notice(api: Api) -> None:
    """Goals over the six dimensions, the budget only after approved goals, the history with
    actors, the assessment ranking, and a notice to the laggard through the outbox."""
    department, clerk = await _department(api)
    year = _this_year() + 1
    base = f"/api/departments/{department}/years/{year}"
    assert (
        await api.post(f"/api/departments/{department}/years", clerk, {"fiscal_year": year})
    ).status_code == 201
    again = await api.post(f"/api/departments/{department}/years", "fin", {"fiscal_year": year})
    assert again.status_code == 409

    counted = _rejections("submit_goals", "goals_cover_dimensions")
    before = counted((await api.http.get("/metrics")).text)
    missing = await api.post(
        f"{base}/actions/submit_goals", clerk, df.goals(without="social_effect")
    )
    assert missing.status_code == 409
    assert missing.json()["unmet"][0]["guard"] == "goals_cover_dimensions"
    # Counted in /metrics as a project's refusals are, guard by guard.
    assert counted((await api.http.get("/metrics")).text) == before + 1
    assert (await api.post(f"{base}/actions/submit_goals", clerk, df.goals())).status_code == 200
    early = await api.post(
        f"{base}/actions/approve_department_budget", "fin", {"amount": 3_000_000}
    )
    assert early.status_code == 409
    assert "无目标不得批复部门预算" in early.json()["unmet"][-1]["message_zh"]
    assert (
        await api.post(f"{base}/actions/approve_department_budget", clerk, {"amount": 1})
    ).status_code == 403
    assert (await api.post(f"{base}/actions/approve_goals", "fin", {})).status_code == 200
    budget = await api.post(
        f"{base}/actions/approve_department_budget", "fin", {"amount": 3_000_000}
    )
    assert budget.status_code == 200, budget.text
    assert budget.json()["state"] == "budget_approved"

    detail = (await api.get(base, clerk)).json()
    assert (detail["state"], detail["budget_amount"]) == ("budget_approved", 3_000_000)
    assert detail["allowed_actions"] == []  # the self-evaluation waits for the year's end
    assert (await api.get(base, "clerk2")).status_code == 404
    history = (await api.get(f"{base}/history", "audit")).json()
    assert [(h["action"], h["actor"]) for h in history] == [
        ("open", clerk),
        ("submit_goals", clerk),
        ("approve_goals", "fin"),
        ("approve_department_budget", "fin"),
    ]

    # A late duty of one of its projects this year makes it the laggard of the ranking.
    assessment_year = _this_year()
    with session_scope(api.settings) as session:
        session.add(
            Recipient(
                name="部门",
                desk="department",
                department=department,
                channel="email",
                address="dept@example.cn",
                created_at=datetime.now(UTC),
            )
        )
    ranking = await api.get(f"/api/departments/assessment/{assessment_year}", "fin")
    assert ranking.status_code == 200
    assert (
        await api.get(f"/api/departments/assessment/{assessment_year}", clerk)
    ).status_code == 403
    sent = await api.post(f"/api/departments/assessment/{assessment_year}/notices", "fin")
    assert sent.status_code == 200, sent.text
    # Nothing late, nothing graded anywhere: every department scores 75 and the ranking is by
    # code, so the fresh "DC…" department comes after D1 and D2 and is the one laggard.
    assert [(r["department"], r["total"], r["laggard"]) for r in ranking.json()["ranking"]] == [
        ("D1", "75.00", False),
        ("D2", "75.00", False),
        (department, "75.00", True),
    ]
    assert sent.json() == {"fiscal_year": assessment_year, "notified": [department], "skipped": []}
    with session_scope(api.settings) as session:
        rows = session.exec(
            select(Notification).where(col(Notification.project_code) == department)
        ).all()
    assert [(n.event, n.address) for n in rows] == [("assessment_notice", "dept@example.cn")]
    assert rows[0].key.startswith(f"department:{department}:{assessment_year}:")
    assert email_subject(rows[0].payload).endswith("部门绩效管理考核通报")
    history = (
        await api.get(f"/api/departments/{department}/years/{assessment_year}/history", "fin")
    ).json()
    assert [h["action"] for h in history] == ["open", "assessment_notice"]


async def test_assessment_notices_stop_with_503_when_temporal_is_out_of_reach(
    api: Api, monkeypatch: pytest.MonkeyPatch
) -> None:
    """Temporal out of reach is not a closed year: the notices stop with 503 and say who has
    theirs, instead of answering 200 with the laggard listed as skipped."""
    department, clerk = await _department(api)
    year = _this_year() + 1
    assert (
        await api.post(f"/api/departments/{department}/years", clerk, {"fiscal_year": year})
    ).status_code == 201
    assessment_year = _this_year()
    ranking = (await api.get(f"/api/departments/assessment/{assessment_year}", "fin")).json()
    assert department in [r["department"] for r in ranking["ranking"] if r["laggard"]]

    reach = WorkflowHandle.execute_update

    async def unreachable(self: WorkflowHandle[Any, Any], update: Any, *a: Any, **k: Any) -> Any:
        if update is DepartmentYearWorkflow.notify_assessment:
            raise RPCError("tcp connect error", RPCStatusCode.UNAVAILABLE, b"")
        return await reach(self, update, *a, **k)

    monkeypatch.setattr(WorkflowHandle, "execute_update", unreachable)
    sent = await api.post(f"/api/departments/assessment/{assessment_year}/notices", "fin")
    assert sent.status_code == 503, sent.text
    assert sent.headers["content-type"] == "application/problem+json"
    assert int(sent.headers["retry-after"]) > 0
    assert "was not sent; notified so far" in sent.json()["detail"]
    with session_scope(api.settings) as session:
        queued = session.exec(
            select(Notification).where(col(Notification.project_code) == department)
        ).all()
    assert queued == []


async def test_department_years_rebuild_from_their_workflows(api: Api) -> None:
    """Wiping a department year's rows and rebuilding them from its workflow gives them back."""
    from sqlmodel import Session

    from models.department_tables import DepartmentHistoryRow, DepartmentYearRow
    from service.db import engine_for
    from service.rebuild import rebuild_department_years

    department, clerk = await _department(api)
    year = _this_year() + 1
    opened = await api.post(f"/api/departments/{department}/years", clerk, {"fiscal_year": year})
    assert opened.status_code == 201, opened.text
    submitted = await api.post(
        f"/api/departments/{department}/years/{year}/actions/submit_goals", clerk, df.goals()
    )
    assert submitted.status_code == 200, submitted.text
    engine = engine_for(api.settings.effective_database_url)

    def dump() -> list[object]:
        with Session(engine) as session:
            rows: list[object] = []
            for table in (DepartmentYearRow, DepartmentHistoryRow):
                selected = session.exec(select(table).where(col(table.department) == department))
                rows.extend(row.model_dump(exclude={"updated_at"}) for row in selected)
            return sorted(rows, key=repr)

    live = dump()
    assert len(live) == 3  # the year and its two history rows (open, submit_goals)
    with Session(engine) as session:
        for table in (DepartmentHistoryRow, DepartmentYearRow):
            for row in session.exec(select(table).where(col(table.department) == department)):
                session.delete(row)
        session.commit()
    assert dump() == []
    for _ in range(50):  # visibility is eventually consistent
        report = await rebuild_department_years(
            client=api.app.state.temporal_client, engine=engine, query=f'Department="{department}"'
        )
        if report.projects == 1:
            break
        await asyncio.sleep(0.1)
    assert (report.projects, report.history_entries) == (1, 2)
    assert dump() == live
