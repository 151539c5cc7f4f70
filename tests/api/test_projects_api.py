"""The HTTP API end to end on the real dev server and worker, on SQLite and on PostgreSQL."""

from __future__ import annotations

import asyncio
import uuid
from datetime import UTC, datetime, timedelta, timezone

from prometheus_client.parser import text_string_to_metric_families

from tests import factories as f
from tests.api.conftest import Api

CST = timezone(timedelta(hours=8))


def _year() -> int:
    """The next fiscal year in business time: goals for it can be filed today."""
    return datetime.now(UTC).astimezone(CST).year + 1


def _code() -> str:
    return f"P{uuid.uuid4().hex[:8].upper()}"


async def _filed(api: Api, *, major: bool = False) -> str:
    code = _code()
    year = _year()
    response = await api.post(
        "/api/projects", "clerk1", f.filing(code, major=major, start=year, end=year + 2)
    )
    assert response.status_code == 201, response.text
    return code


async def _active(api: Api) -> str:
    code = await _filed(api)
    response = await api.act(code, "submit", "clerk1", {})
    assert response.status_code == 200, response.text
    return code


async def _history_actions(api: Api, code: str) -> list[str]:
    response = await api.get(f"/api/projects/{code}/history", "fin")
    assert response.status_code == 200
    return [entry["action"] for entry in response.json()]


async def test_filing_and_guarded_budget_flow(api: Api) -> None:
    """File → submit → goals → approval → budget, each visible at once in the projection."""
    code = await _filed(api)
    detail = (await api.get(f"/api/projects/{code}", "clerk1")).json()
    assert detail["state"] == "filed"
    assert detail["department"] == "D1"
    assert detail["allowed_actions"] == [{"action": "submit", "fiscal_year": None}]

    year = _year()
    assert (await api.act(code, "submit", "clerk1", {})).json()["state"] == "active"
    response = await api.act(code, "submit_goals", "clerk1", f.goals(year))
    assert response.status_code == 200, response.text
    assert response.json()["cycles"][0]["state"] == "goals_submitted"
    finance_view = (await api.get(f"/api/projects/{code}", "fin")).json()
    assert {"action": "approve_goals", "fiscal_year": year} in finance_view["allowed_actions"]

    assert (await api.act(code, "approve_goals", "fin", {"fiscal_year": year})).status_code == 200
    over = await api.act(code, "approve_budget", "fin", {"fiscal_year": year, "amount": 2_000_000})
    assert over.status_code == 409
    assert [u["guard"] for u in over.json()["unmet"]] == ["amount_within_request"]
    response = await api.act(
        code, "approve_budget", "fin", {"fiscal_year": year, "amount": 950_000}
    )
    assert response.status_code == 200, response.text
    cycle = response.json()["cycles"][0]
    assert cycle == {
        "fiscal_year": year,
        "state": "budget_approved",
        "requested_amount": 1_000_000.0,
        "approved_amount": 950_000.0,
        "executed_amount": None,
        "warning": "none",
        "score": None,
        "grade": None,
        "key_evaluation": None,
    }
    history = (await api.get(f"/api/projects/{code}/history", "audit")).json()
    assert [(h["seq"], h["action"], h["actor"], h["from"], h["to"]) for h in history] == [
        (1, "file", "clerk1", "", "filed"),
        (2, "submit", "clerk1", "filed", "active"),
        (3, "submit_goals", "clerk1", "goals_drafted", "goals_submitted"),
        (4, "approve_goals", "fin", "goals_submitted", "goals_approved"),
        (5, "approve_budget", "fin", "goals_approved", "budget_approved"),
    ]


async def test_rejection_lists_every_unmet_guard_and_changes_nothing(api: Api) -> None:
    """409 problem details name the state needed and every failing guard; nothing moves."""
    code = await _active(api)
    before = (await api.get(f"/api/projects/{code}", "fin")).json()
    response = await api.act(code, "approve_budget", "fin", {"fiscal_year": _year(), "amount": 1})
    assert response.status_code == 409
    assert response.headers["content-type"].startswith("application/problem+json")
    problem = response.json()
    assert problem["status"] == 409
    assert problem["action"] == "approve_budget"
    assert problem["state"] == "none"
    guards = {u["guard"] for u in problem["unmet"]}
    assert {"state", "goals_approved"} <= guards
    assert all(u["message"] and u["message_zh"] for u in problem["unmet"])
    assert (await api.get(f"/api/projects/{code}", "fin")).json() == before
    assert await _history_actions(api, code) == ["file", "submit"]

    bad_goals = {**f.goals(_year()), "indicators": f.indicators()[:1]}  # no effect indicator
    response = await api.act(code, "submit_goals", "clerk1", bad_goals)
    assert response.status_code == 409
    assert [u["guard"] for u in response.json()["unmet"]] == ["goals_well_formed"]


async def test_bad_input_is_422_with_the_field(api: Api) -> None:
    """Schema errors name the field and the reason and change nothing."""
    code = await _active(api)
    goals = f.goals(_year())
    goals["indicators"][0] = {**goals["indicators"][0], "level2": "social"}  # not under output
    response = await api.act(code, "submit_goals", "clerk1", goals)
    assert response.status_code == 422
    fields = [e["field"] for e in response.json()["errors"]]
    assert fields == ["body.indicators.0"]
    response = await api.act(code, "approve_budget", "fin", {"fiscal_year": _year(), "amount": -5})
    assert response.status_code == 422
    assert [e["field"] for e in response.json()["errors"]] == ["body.amount"]
    response = await api.act(code, "no_such_action", "fin", {})
    assert response.status_code == 404
    response = await api.post("/api/projects", "clerk1", {**f.filing(_code()), "end_year": 1990})
    assert response.status_code == 422
    assert await _history_actions(api, code) == ["file", "submit"]


async def test_roles_and_departments(api: Api) -> None:
    """Wrong role → 403; another department's project → 404 (not even its existence leaks)."""
    code = await _filed(api)
    assert (await api.act(code, "submit", "fin", {})).status_code == 403
    assert (await api.act(code, "submit", "clerk2", {})).status_code == 404
    assert (await api.get(f"/api/projects/{code}", "clerk2")).status_code == 404
    assert (await api.get(f"/api/projects/{code}/history", "clerk2")).status_code == 404
    assert (await api.get(f"/api/projects/{code}", "audit")).status_code == 200
    assert (await api.act(code, "submit", "audit", {})).status_code == 403
    assert (await api.post("/api/projects", "fin", f.filing(_code()))).status_code == 403
    assert (await api.post("/api/projects", "audit", f.filing(_code()))).status_code == 403
    own = (await api.get("/api/projects", "clerk2", params={"page_size": 500})).json()
    assert code not in [p["code"] for p in own["items"]]
    assert (await api.get("/api/projects", "eval")).json()["total"] == 0
    duplicate = await api.post(
        "/api/projects", "clerk1", f.filing(code, start=_year(), end=_year())
    )
    assert duplicate.status_code == 409


async def test_idempotency_key_applies_once(api: Api) -> None:
    """A retried action with the same Idempotency-Key returns the first outcome, applied once."""
    code = await _active(api)
    body = f.goals(_year())
    first = await api.act(code, "submit_goals", "clerk1", body, key="goals-key-1")
    again = await api.act(code, "submit_goals", "clerk1", body, key="goals-key-1")
    assert first.status_code == again.status_code == 200
    assert first.json()["seq"] == again.json()["seq"]
    assert await _history_actions(api, code) == ["file", "submit", "submit_goals"]


async def test_concurrent_approvals_apply_once(api: Api) -> None:
    """Two officers approving the same goals at once: one applies, the other gets 409."""
    code = await _active(api)
    await api.act(code, "submit_goals", "clerk1", f.goals(_year()))
    body = {"fiscal_year": _year()}
    responses = await asyncio.gather(
        api.act(code, "approve_goals", "fin", body), api.act(code, "approve_goals", "fin2", body)
    )
    assert sorted(r.status_code for r in responses) == [200, 409]
    assert (await _history_actions(api, code)).count("approve_goals") == 1


async def test_list_filters_and_paging(api: Api) -> None:
    """Filters by state (project or year), department, fiscal year; totals and pages."""
    year = _year()
    codes = [await _active(api) for _ in range(3)]
    await api.act(codes[0], "submit_goals", "clerk1", f.goals(year))
    listing = (await api.get("/api/projects", "fin", params={"state": "goals_submitted"})).json()
    assert codes[0] in [p["code"] for p in listing["items"]]
    assert codes[1] not in [p["code"] for p in listing["items"]]
    by_year = (await api.get("/api/projects", "fin", params={"fiscal_year": year})).json()
    assert codes[0] in [p["code"] for p in by_year["items"]]
    assert codes[2] not in [p["code"] for p in by_year["items"]]
    assert (await api.get("/api/projects", "fin", params={"department": "D2"})).json()["total"] == 0
    page = (await api.get("/api/projects", "clerk1", params={"page_size": 2, "page": 1})).json()
    assert len(page["items"]) == 2
    assert page["total"] >= 3
    bad = await api.get("/api/projects", "fin", params={"grade": "superb"})
    assert bad.status_code == 422


async def test_diagram_highlights_current_states(api: Api) -> None:
    """The Mermaid diagrams mark the project's and each year's current state."""
    code = await _active(api)
    await api.act(code, "submit_goals", "clerk1", f.goals(_year()))
    diagram = (await api.get(f"/api/projects/{code}/diagram", "clerk1")).json()
    assert diagram["format"] == "mermaid"
    assert "stateDiagram-v2" in diagram["project"]
    assert "Class active s_active" in diagram["project"]
    assert "Class goals_submitted s_active" in diagram["cycles"][0]["diagram"]


async def test_projection_matches_the_workflow(api: Api) -> None:
    """The worker's projection activity converges on the state the workflow holds."""
    code = await _active(api)
    await api.act(code, "submit_goals", "clerk1", f.goals(_year()))
    handle = api.app.state.temporal_client.get_workflow_handle(f"project-{code}")
    state = await handle.query("snapshot")
    detail = (await api.get(f"/api/projects/{code}", "fin")).json()
    assert detail["seq"] == state["history"][-1]["seq"]
    assert detail["state"] == state["state"]
    assert [c["state"] for c in detail["cycles"]] == [c["state"] for c in state["cycles"]]


async def test_scoring_calculator(api: Api) -> None:
    """The calculator scores exactly like the workflow does (worked case: 84, good)."""
    body = {
        "budget": {"available": 100, "executed": 100},
        "indicators": f.indicators(),
        "results": [{"code": "O1", "actual": 100}, {"code": "E1", "actual": 60}],
    }
    report = (await api.post("/api/scoring/self-evaluation", "clerk1", body)).json()
    assert float(report["total"]) == 84.0
    assert report["grade"] == "good"
    assert report["grade_zh"] == "良"
    missing = await api.post("/api/scoring/self-evaluation", "clerk1", {**body, "results": []})
    assert missing.status_code == 422


async def test_health(api: Api) -> None:
    """/healthz answers ok when the database and Temporal answer."""
    response = await api.http.get("/healthz")
    assert response.status_code == 200
    assert response.json()["status"] == "ok"


async def test_projection_rebuild_equals_the_live_projection(api: Api) -> None:
    """Wiping the read model and rebuilding it from the workflows gives back the same rows."""
    from sqlmodel import Session, select

    from models.tables import CycleRow, HistoryRow, ProjectRow
    from service import audit
    from service.db import engine_for
    from service.rebuild import rebuild_projection
    from tests.service.test_planner_statistics import has_statistics

    code = await _active(api)
    await api.act(code, "submit_goals", "clerk1", f.goals(_year()))
    await api.act(code, "approve_goals", "fin", {"fiscal_year": _year()})
    other = await _filed(api)
    # A closed project with a lead recorded after its close: the lead is not in its workflow,
    # and the rebuild must chain it again after the workflow's history, as it was.
    closed = await _filed(api)
    exited = await api.act(closed, "exit", "fin", {"reason": "cancelled", "comment": "取消"})
    assert exited.status_code == 200, exited.text
    lead = {"reason": "竣工后发现虚列支出", "evidence": "审计移送函〔2031〕2号"}
    transferred = await api.act(closed, "transfer_to_discipline", "fin", lead, key="lead-r")
    assert transferred.status_code == 200, transferred.text
    engine = engine_for(api.settings.effective_database_url)
    codes = (code, other, closed)

    def dump() -> list[object]:
        with Session(engine) as session:
            rows: list[object] = []
            for table in (ProjectRow, CycleRow, HistoryRow):
                selected = session.exec(select(table).where(table.code.in_(codes)))  # type: ignore[attr-defined]
                rows.extend(row.model_dump(exclude={"updated_at"}) for row in selected)
            return sorted(rows, key=repr)

    # The worker's own projection has converged when the workflow has nothing left to project
    # (a projection deferred under load may still be writing after the row's seq matched).
    for c in codes:
        handle = api.app.state.temporal_client.get_workflow_handle(f"project-{c}")
        for _ in range(300):
            if await handle.query("unprojected") == 0:
                break
            await asyncio.sleep(0.1)
        assert await handle.query("unprojected") == 0
    live = dump()
    for table in (HistoryRow, CycleRow, ProjectRow):
        with Session(engine) as session:
            for row in session.exec(select(table).where(table.code.in_(codes))):  # type: ignore[attr-defined]
                session.delete(row)
            session.commit()
    assert dump() == []
    query = " OR ".join(f'ProjectCode="{c}"' for c in codes)
    for _ in range(300):  # visibility is eventually consistent (slow on a loaded machine)
        report = await rebuild_projection(
            client=api.app.state.temporal_client, engine=engine, query=query
        )
        if report.projects == 3:
            break
        await asyncio.sleep(0.1)
    assert report.projects == 3
    assert dump() == live
    assert has_statistics(engine)  # a bulk load: the planner's statistics were refreshed
    with Session(engine) as session:
        assert audit.verify(session, code=closed).ok


async def test_a_refused_action_is_counted_per_unmet_guard_in_metrics(api: Api) -> None:
    """`perfbudget_actions_rejected_total{action, guard}` grows by one per unmet guard of a 409."""

    def rejected(exposition: str) -> dict[str, float]:
        return {
            sample.labels["guard"]: sample.value
            for family in text_string_to_metric_families(exposition)
            for sample in family.samples
            if sample.name == "perfbudget_actions_rejected_total"
            and sample.labels["action"] == "approve_budget"
        }

    code = await _active(api)
    before = rejected((await api.http.get("/metrics")).text)
    response = await api.act(code, "approve_budget", "fin", {"fiscal_year": _year(), "amount": 1})
    assert response.status_code == 409
    guards = [u["guard"] for u in response.json()["unmet"]]
    after = rejected((await api.http.get("/metrics")).text)
    assert {g: after[g] - before.get(g, 0.0) for g in guards} == dict.fromkeys(guards, 1.0)
