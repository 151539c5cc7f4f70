"""Key evaluations and the expert library over HTTP: selection, conflict-free assignment,
evaluator scoping, ratings and suspension, on the real dev server and worker."""

from __future__ import annotations

import uuid
from datetime import UTC, datetime, timedelta, timezone
from typing import Any

from models.vocabulary import Grade
from service.db import session_scope
from service.users import add_user
from tests import factories as f
from tests.api.conftest import PASSWORD, Api

CST = timezone(timedelta(hours=8))
POOR = {"decision": 12, "process": 10, "output": 18, "effect": 10}  # 50 → 差


def _this_year() -> int:
    return datetime.now(UTC).astimezone(CST).year


async def _self_evaluated(api: Api) -> str:
    """A D1 project (owner 张三) whose current year is closed early and self-evaluated 优."""
    code = f"K{uuid.uuid4().hex[:8].upper()}"
    year = _this_year()
    filed = await api.post("/api/projects", "clerk1", f.filing(code, start=year, end=year + 1))
    assert filed.status_code == 201, filed.text
    steps: list[tuple[str, str, dict[str, Any]]] = [
        ("submit", "clerk1", {}),
        ("submit_goals", "clerk1", f.goals(year)),
        ("approve_goals", "fin", {"fiscal_year": year}),
        ("approve_budget", "fin", {"fiscal_year": year, "amount": 1_000_000}),
        ("close_year", "fin", {"fiscal_year": year}),
        ("submit_self_evaluation", "clerk1", f.self_evaluation(year, Grade.EXCELLENT)),
    ]
    for action, who, body in steps:
        response = await api.act(code, action, who, body)
        assert response.status_code == 200, (action, response.text)
    return code


async def _expert(api: Api, **body: Any) -> dict[str, Any]:
    response = await api.post("/api/experts", "fin", {"kind": "expert", **body})
    assert response.status_code == 201, response.text
    created: dict[str, Any] = response.json()
    return created


def _evaluator_user(api: Api, username: str) -> None:
    with session_scope(api.settings) as session:
        add_user(session=session, username=username, password=PASSWORD, role="evaluator")


async def _token(api: Api, username: str) -> dict[str, str]:
    response = await api.http.post(
        "/api/auth/token", data={"username": username, "password": PASSWORD}
    )
    assert response.status_code == 200, response.text
    return {"Authorization": f"Bearer {response.json()['access_token']}"}


async def test_library_register_validate_list_suspend(api: Api) -> None:
    """Register experts and institutions; bad input names the field; suspension hides them."""
    _evaluator_user(api, "libexpert")
    expert = await _expert(
        api, name="王教授", username="libexpert", institution="江西财经大学", specialities=["交通"]
    )
    assert (expert["kind"], expert["rating_count"], expert["rating_average"]) == ("expert", 0, None)
    institution = (
        await api.post(
            "/api/experts",
            "admin",
            {"kind": "institution", "name": "甲评估公司", "specialities": ["教育", "交通"]},
        )
    ).json()
    assert institution["specialities"] == ["交通", "教育"]

    not_evaluator = await api.post(
        "/api/experts",
        "fin",
        {"kind": "expert", "name": "某人", "username": "clerk1", "specialities": ["交通"]},
    )
    assert not_evaluator.status_code == 422
    assert not_evaluator.json()["errors"][0]["field"] == "body.username"
    twice = await api.post(
        "/api/experts",
        "fin",
        {"kind": "expert", "name": "另一人", "username": "libexpert", "specialities": ["交通"]},
    )
    assert twice.status_code == 409
    no_department = await api.post(
        "/api/experts",
        "fin",
        {"kind": "expert", "name": "某人", "department": "NOPE", "specialities": ["交通"]},
    )
    assert no_department.status_code == 422
    assert no_department.json()["errors"][0]["field"] == "body.department"
    empty = await api.post(
        "/api/experts", "fin", {"kind": "expert", "name": "某人", "specialities": []}
    )
    assert empty.status_code == 422
    assert "body.specialities" in str(empty.json())
    assert (await api.post("/api/experts", "clerk1", {})).status_code == 403

    education = (await api.get("/api/experts", "audit", params={"speciality": "教育"})).json()
    assert [e["id"] for e in education] == [institution["id"]]
    suspended = await api.post(
        f"/api/experts/{expert['id']}/suspend", "fin", {"reason": "评价报告质量差"}
    )
    assert suspended.json()["suspended"] is True
    assert (
        await api.post(f"/api/experts/{expert['id']}/suspend", "fin", {"reason": "again"})
    ).status_code == 409
    active = (await api.get("/api/experts", "fin", params={"include_suspended": "false"})).json()
    assert expert["id"] not in [e["id"] for e in active]
    reinstated = await api.post(f"/api/experts/{expert['id']}/reinstate", "fin")
    assert reinstated.json()["suspended"] is False
    patched = await api.http.patch(
        f"/api/experts/{expert['id']}", json={"specialities": ["水利"]}, headers=api.auth("fin")
    )
    assert patched.json()["specialities"] == ["水利"]
    assert (await api.get("/api/experts/999999", "fin")).status_code == 404


async def test_key_evaluation_from_selection_to_rating(api: Api) -> None:
    """Selected by a recorded seed; a conflicted expert is refused with reasons; a seeded draw
    commissions another; only that evaluator sees and scores it; finance rates the job."""
    code = await _self_evaluated(api)
    year = _this_year()
    _evaluator_user(api, "expertA")
    independent = await _expert(
        api, name="李专家", username="expertA", department="D2", specialities=["交通"]
    )
    same_department = await _expert(api, name="赵专家", department="D1", specialities=["交通"])
    owner = await _expert(api, name="张三", specialities=["交通"])
    await _expert(api, name="钱专家", username="eval", specialities=["教育"])

    selection = await api.post(
        f"/api/key-evaluations/{year}/selections", "fin", {"seed": 3, "sample_percent": 100}
    )
    assert selection.status_code == 200, selection.text
    assert selection.json()["seed"] == 3
    assert selection.json()["selected"] == [
        {"code": code, "reasons": ["sample"], "outcome": "selected"}
    ]
    recorded = (await api.get(f"/api/key-evaluations/{year}/selections", "audit")).json()
    assert [(r["seed"], r["sample_pool"]) for r in recorded] == [(3, [code])]
    detail = (await api.get(f"/api/projects/{code}", "fin")).json()
    assert detail["cycles"][0]["state"] == "key_evaluating"
    assert detail["cycles"][0]["key_evaluation"]["selection_seed"] == 3

    assert (await api.get("/api/projects", "eval")).json()["items"] == []
    assert (await api.get(f"/api/projects/{code}", "eval")).status_code == 404

    path = f"/api/projects/{code}/key-evaluation/evaluators"
    conflicted = await api.post(
        path, "fin", {"fiscal_year": year, "expert_ids": [same_department["id"], owner["id"]]}
    )
    assert conflicted.status_code == 409, conflicted.text
    problem = conflicted.json()
    assert problem["title"] == "Conflict of interest"
    assert {c["expert_id"]: c["reasons"][0].split(" (")[0] for c in problem["conflicts"]} == {
        same_department["id"]: "same department as the project",
        owner["id"]: "involved in the project",
    }
    unchanged = (await api.get(f"/api/projects/{code}", "fin")).json()
    assert unchanged["seq"] == detail["seq"]
    bypass = await api.act(code, "assign_evaluators", "fin", {"fiscal_year": year})
    assert bypass.status_code == 422
    assert "key-evaluation/evaluators" in bypass.json()["detail"]

    drawn = await api.post(
        path,
        "fin",
        {
            "fiscal_year": year,
            "draw": {"speciality": "交通", "count": 1, "seed": 9},
            "departments": ["D2"],
        },
    )
    assert drawn.status_code == 200, drawn.text
    await api.settled(code, drawn.json()["seq"])
    record = drawn.json()["cycles"][0]["key_evaluation"]
    assert record["draw"]["seed"] == 9
    assert record["draw"]["eligible"] == [independent["id"]]
    assert set(record["draw"]["excluded"]) == {str(same_department["id"]), str(owner["id"])}
    assert [e["expert_id"] for e in record["evaluators"]] == [independent["id"]]
    assert record["departments"] == ["D2"]
    history = (await api.get(f"/api/projects/{code}/history", "audit")).json()
    assert history[-1]["action"] == "assign_evaluators"
    assert history[-1]["detail"]["draw"]["seed"] == 9

    expert_a = await _token(api, "expertA")
    listed = (await api.http.get("/api/projects", headers=expert_a)).json()
    assert [p["code"] for p in listed["items"]] == [code]
    seen = (await api.http.get(f"/api/projects/{code}", headers=expert_a)).json()
    assert seen["allowed_actions"] == [{"action": "submit_key_evaluation", "fiscal_year": year}]
    other = await _self_evaluated(api)
    assert (await api.http.get(f"/api/projects/{other}", headers=expert_a)).status_code == 404
    assert (await api.get(f"/api/projects/{code}", "eval")).status_code == 404
    stranger = await api.act(
        code, "submit_key_evaluation", "eval", {"fiscal_year": year, "scores": POOR, "report": "x"}
    )
    assert stranger.status_code == 404

    submitted = await api.http.post(
        f"/api/projects/{code}/actions/submit_key_evaluation",
        json={"fiscal_year": year, "scores": POOR, "report": "重点评价报告"},
        headers=expert_a,
    )
    assert submitted.status_code == 200, submitted.text
    await api.settled(code, submitted.json()["seq"])
    cycle = submitted.json()["cycles"][0]
    assert (cycle["state"], cycle["grade"], cycle["score"]) == ("rectifying", "poor", 50.0)
    assert cycle["key_evaluation"]["public_notice"] is True

    rating = {"project_code": code, "fiscal_year": year, "score": 4, "comment": "按期完成"}
    rated = await api.post(f"/api/experts/{independent['id']}/ratings", "fin", rating)
    assert rated.status_code == 201, rated.text
    assert (rated.json()["rating_average"], rated.json()["rating_count"]) == ("4.00", 1)
    again = await api.post(f"/api/experts/{independent['id']}/ratings", "fin", rating)
    assert again.status_code == 409
    not_theirs = await api.post(f"/api/experts/{owner['id']}/ratings", "fin", rating)
    assert not_theirs.status_code == 409
    assert "not commissioned" in not_theirs.json()["detail"]


async def test_selection_takes_flagged_projects_and_samples_the_rest(api: Api) -> None:
    """A reviewed year 12 points below its self-evaluation is selected for its score gap even
    after its result was applied; with a 0 % sample the unflagged one stays in the pool only."""
    plain = await _self_evaluated(api)
    flagged = await _self_evaluated(api)
    year = _this_year()
    reviewed = await api.act(
        flagged,
        "review_self_evaluation",
        "fin",
        {"fiscal_year": year, "adjusted_score": "88", "comment": "自评偏高"},
    )
    assert reviewed.status_code == 200, reviewed.text
    assert reviewed.json()["cycles"][0]["state"] == "results_applied"

    selection = await api.post(
        f"/api/key-evaluations/{year}/selections", "fin", {"seed": 5, "sample_percent": 0}
    )
    assert selection.status_code == 200, selection.text
    assert selection.json()["sample_pool"] == [plain]
    assert selection.json()["selected"] == [
        {"code": flagged, "reasons": ["score_gap"], "outcome": "selected"}
    ]
    cycle = (await api.get(f"/api/projects/{flagged}", "fin")).json()["cycles"][0]
    assert cycle["state"] == "key_evaluating"
    assert cycle["key_evaluation"]["selected_from"] == "results_applied"
    again = await api.post(
        f"/api/key-evaluations/{year}/selections", "fin", {"seed": 5, "sample_percent": 0}
    )
    assert again.json()["selected"] == []  # a year is selected once
    assert len((await api.get(f"/api/key-evaluations/{year}/selections", "fin")).json()) == 2
