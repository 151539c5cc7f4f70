"""The four budgets and the special instruments over HTTP: templates, filing, kind actions."""

from __future__ import annotations

import uuid
from datetime import UTC, datetime, timedelta, timezone
from typing import Any

from models.vocabulary import BudgetType, ProjectKind
from tests import factories_kinds as fk
from tests.api.conftest import Api

CST = timezone(timedelta(hours=8))


def _this_year() -> int:
    return datetime.now(UTC).astimezone(CST).year


def _code() -> str:
    return f"K{uuid.uuid4().hex[:8].upper()}"


async def test_templates_list_every_budget_type_and_kind(api: Api) -> None:
    """4 budget types × 7 kinds; each with its required indicators, fields, actions and rules."""
    response = await api.get("/api/templates", "clerk1")
    assert response.status_code == 200, response.text
    items = response.json()["items"]
    assert len(items) == len(BudgetType) * len(ProjectKind) == 28
    by_key = {(t["budget_type"], t["kind"]): t for t in items}
    ppp = by_key[("general_public", "ppp")]
    assert [i["code"] for i in ppp["required"]] == ["PPP-OPERATION"]
    assert ppp["required"][0]["name_zh"] == "运营绩效考核得分"
    assert ppp["filing_fields"] == ["payment_table"]
    assert ppp["actions"] == ["record_performance_payment"]
    social = by_key[("social_insurance", "policy")]
    assert {(r["code"], r["level"]) for r in social["thresholds"]} == {
        ("SI-BALANCE-MONTHS", "yellow"),
        ("SI-BALANCE-MONTHS", "red"),
        ("SI-ACTUARIAL", "yellow"),
    }
    fund = by_key[("general_public", "government_investment_fund")]
    assert fund["fund_rules"]["poor"] == {
        "contribution": "cut",
        "exit": True,
        "manager_reward_pct": "0",
    }
    assert by_key[("general_public", "project")]["required"] == []


async def test_templates_filter_and_refuse_unknown_values(api: Api) -> None:
    """Filters narrow the list; an unknown kind is a 422 problem naming the parameter."""
    one = await api.get("/api/templates", "fin", params={"budget_type": "state_capital"})
    assert {t["budget_type"] for t in one.json()["items"]} == {"state_capital"}
    assert len(one.json()["items"]) == len(ProjectKind)
    bad = await api.get("/api/templates", "fin", params={"kind": "lottery"})
    assert bad.status_code == 422
    assert bad.headers["content-type"] == "application/problem+json"
    assert [e["field"] for e in bad.json()["errors"]] == ["query.kind"]


async def _file(api: Api, body: dict[str, Any]) -> Any:
    return await api.post("/api/projects", "clerk1", body)


async def test_filing_validates_kind_specific_fields(api: Api) -> None:
    """A missing, misplaced or malformed kind field is a 422 naming it; nothing is filed."""
    cases = [
        (fk.filing(_code(), ProjectKind.PPP, payment_table=None), "body.payment_table", "required"),
        (
            fk.filing(
                _code(),
                ProjectKind.PURCHASED_SERVICE,
                payment_table={"bands": [{"low": 0, "high": 80, "payment_pct": 100}]},
            ),
            "body.payment_table",
            "the last band must end at 100",
        ),
        (
            fk.filing(_code(), ProjectKind.PROJECT, management_fee=1000),
            "body.management_fee",
            "not for kind project",
        ),
    ]
    for body, field, reason in cases:
        response = await _file(api, body)
        assert response.status_code == 422, response.text
        problem = response.json()
        assert [e["field"] for e in problem["errors"]] == [field]
        assert reason in problem["errors"][0]["reason"]
        assert (await api.get(f"/api/projects/{body['code']}", "fin")).status_code == 404


async def test_procurement_savings_shown_in_the_project(api: Api) -> None:
    """A procurement project of this year records its contract; the detail shows the savings.
    A single-source contract without its reason is refused (409), nothing recorded."""
    year, code = _this_year(), _code()
    body = fk.filing(code, ProjectKind.PROCUREMENT, start_year=year, end_year=year)
    assert (await _file(api, body)).status_code == 201
    detail = (await api.get(f"/api/projects/{code}", "clerk1")).json()
    assert (detail["kind"], detail["payment_table"], detail["kind_records"]) == (
        "procurement",
        None,
        [],
    )
    assert (await api.act(code, "submit", "clerk1", {})).status_code == 200
    goals = fk.goals(year, BudgetType.GENERAL_PUBLIC, ProjectKind.PROCUREMENT)
    plain = {**goals, "indicators": goals["indicators"][:2]}  # without the template's
    refused = await api.act(code, "submit_goals", "clerk1", plain)
    assert refused.status_code == 409
    assert [u["guard"] for u in refused.json()["unmet"]] == ["goals_follow_template"]
    assert (await api.act(code, "submit_goals", "clerk1", goals)).status_code == 200
    assert (await api.act(code, "approve_goals", "fin", {"fiscal_year": year})).status_code == 200
    approved = await api.act(
        code, "approve_budget", "fin", {"fiscal_year": year, "amount": 1_000_000}
    )
    assert approved.json()["cycles"][0]["state"] == "executing"  # the year has begun
    contract = {
        "fiscal_year": year,
        "method": "competitive_consultation",
        "supplier": "某信息技术有限公司",
        "contract_amount": "873450.50",
    }
    assert {"action": "record_procurement", "fiscal_year": year} in (
        await api.get(f"/api/projects/{code}", "clerk1")
    ).json()["allowed_actions"]
    single_source = {**contract, "method": "single_source"}
    unjustified = await api.act(code, "record_procurement", "clerk1", single_source)
    assert unjustified.status_code == 409, unjustified.text
    assert [u["guard"] for u in unjustified.json()["unmet"]] == ["single_source_justified"]
    assert unjustified.json()["unmet"][0]["message_zh"] == "单一来源采购须说明理由"
    response = await api.act(code, "record_procurement", "clerk1", contract)
    assert response.status_code == 200, response.text
    assert response.json()["cycles"][0]["state"] == "executing"
    [record] = response.json()["kind_records"]
    assert record["fiscal_year"] == year
    procurement = record["procurement"]
    assert (procurement["savings"], procurement["savings_rate_pct"]) == ("126549.50", "12.65")
    again = await api.act(code, "record_procurement", "clerk1", contract)
    assert again.status_code == 409
    assert [u["guard"] for u in again.json()["unmet"]] == ["procurement_unrecorded"]


async def test_a_debt_project_reporting_new_hidden_debt_is_a_red_warning(api: Api) -> None:
    """Monitoring takes a qualitative indicator's progress as an achievement; a debt project
    saying "no new hidden debt" is not achieved gets a red warning that finance must hear.
    A progress entry with a number and an achievement at once is a 422 naming it; a number
    for the qualitative indicator is a 409 naming the guard; neither records anything."""
    year, code = _this_year(), _code()
    body = fk.filing(code, ProjectKind.DEBT, start_year=year, end_year=year)
    assert (await _file(api, body)).status_code == 201
    assert (await api.act(code, "submit", "clerk1", {})).status_code == 200
    goals = fk.goals(year, BudgetType.GENERAL_PUBLIC, ProjectKind.DEBT)
    assert (await api.act(code, "submit_goals", "clerk1", goals)).status_code == 200
    assert (await api.act(code, "approve_goals", "fin", {"fiscal_year": year})).status_code == 200
    approved = await api.act(
        code, "approve_budget", "fin", {"fiscal_year": year, "amount": 1_000_000}
    )
    assert approved.json()["cycles"][0]["state"] == "executing"
    report = {
        "fiscal_year": year,
        "period_end": datetime.now(CST).date().isoformat(),
        "executed_amount": "900000",
        "progress": [{"code": "DEBT-HIDDEN", "actual": "1", "achievement": "achieved"}],
    }
    before = (await api.get(f"/api/projects/{code}/history", "clerk1")).json()
    refused = await api.act(code, "report_monitoring", "clerk1", report)
    assert refused.status_code == 422, refused.text
    assert refused.json()["errors"][0]["field"].startswith("body.progress.0")
    assert (await api.get(f"/api/projects/{code}/history", "clerk1")).json() == before
    report["progress"] = [{"code": "DEBT-HIDDEN", "actual": "1"}]
    wrong_measure = await api.act(code, "report_monitoring", "clerk1", report)
    assert wrong_measure.status_code == 409, wrong_measure.text
    [unmet] = wrong_measure.json()["unmet"]
    assert unmet["guard"] == "progress_in_its_measure"
    assert "DEBT-HIDDEN is qualitative" in unmet["message"]
    assert (await api.get(f"/api/projects/{code}/history", "clerk1")).json() == before
    report["progress"] = [{"code": "DEBT-HIDDEN", "achievement": "not_achieved"}]
    response = await api.act(code, "report_monitoring", "clerk1", report)
    assert response.status_code == 200, response.text
    assert response.json()["cycles"][0]["warning"] == "red"
    [entry] = [
        e
        for e in (await api.get(f"/api/projects/{code}/history", "clerk1")).json()
        if e["action"] == "report_monitoring"
    ]
    assert entry["detail"]["warning"] == "red"
    assert any("隐性债务" in r for r in entry["detail"]["reasons"])
    templates = (await api.get("/api/templates?kind=debt", "clerk1")).json()["items"]
    assert {(r["code"], r["when"], r["level"]) for r in templates[0]["qualitative"]} == {
        ("DEBT-HIDDEN", "not_achieved", "red"),
        ("DEBT-HIDDEN", "partly", "yellow"),
    }
