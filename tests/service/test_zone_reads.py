"""Disclosure, the responsibility register and the zone report over a read model built from
projects driven through the engine (no Temporal: what the API reads is the projection)."""

from __future__ import annotations

import json
from datetime import UTC, datetime
from typing import Any

import httpx
import pytest
from sqlmodel import Session

from models.tables import Department
from models.vocabulary import GRADE_ZH, BudgetType, Grade, ProjectKind
from service.disclosure import release_year
from service.projection import apply_snapshot
from tests import factories as f
from tests import factories_kinds as fk
from tests.models.test_key_evaluation import EVAL, POOR_SCORES, _evaluator, _submit
from tests.models.test_kinds import Driver as KindDriver
from tests.models.test_lifecycle import Driver
from tests.service.conftest import sign_in

# What must never reach the public: people's names and user names, and free text.
OWNER = "张三"  # every project's owner (tests.factories)
HEAD = "李四"
PERSONAL = (
    OWNER,
    HEAD,
    "clerk",
    "officer",
    "审核意见",
    "王五",
    "虚报",
    "expert1",
    "专家1",
    "重点评价报告",
)
LEAD = {"reason": "虚报工作量", "evidence": "审计报告〔2028〕3号", "fiscal_year": 2027}


def _project(d: Driver | KindDriver, session: Session) -> None:
    project = d.state.model_copy(update={"history": []})
    apply_snapshot(session, project=project, seq=d.state.seq, entries=d.state.history)


def _major(code: str) -> Driver:
    d = Driver(major=True, start=2027, end=2028)
    d.state.info = d.state.info.model_copy(update={"code": code})
    d.do("submit")
    d.do("submit_assessment", f.assessment())
    d.do("approve_assessment", {"comment": "同意"})
    return d


def _evaluated(d: Driver, grade: Grade, *, review: bool = True) -> None:
    """Fund 2027, run it, close it; self-evaluate it, and (by default) have finance review it."""
    d.fund_year(2027)
    d.at(2027, 9, 5)
    d.do(
        "report_monitoring",  # nothing spent by August: a red warning (问责 on a major project)
        {"fiscal_year": 2027, "period_end": "2027-08-31", "executed_amount": 0},
    )
    d.at(2028, 1, 10)
    d.do("submit_self_evaluation", f.self_evaluation(2027, grade))
    if review:
        d.do("review_self_evaluation", {"fiscal_year": 2027, "comment": "审核意见：王五负责"})


@pytest.fixture
def world(session: Session, users: dict[str, str]) -> dict[str, Driver]:
    department = session.get(Department, "D1")  # made with the D1 clerk
    assert department is not None
    department.name, department.head = "区住建局", HEAD
    session.commit()
    fair = _major("MAJ1")
    _evaluated(fair, Grade.FAIR)
    fair.do("submit_goals", f.goals(2028))  # a draft: submitted, not approved
    fair.do("transfer_to_discipline", LEAD)
    unreviewed = _major("MAJ2")
    _evaluated(unreviewed, Grade.GOOD, review=False)
    minor = Driver(start=2027, end=2027)
    minor.state.info = minor.state.info.model_copy(update={"code": "MIN1", "major": False})
    minor.do("submit")
    _evaluated(minor, Grade.EXCELLENT)
    # Under way: MAJ2's key evaluation has no result yet, so nothing of 2027 but its goals.
    unreviewed.do("select_for_key_evaluation", {"fiscal_year": 2027, "reasons": ["major"]})
    key = Driver(start=2027, end=2027)
    key.state.info = key.state.info.model_copy(update={"code": "KEY1", "major": False})
    key.do("submit")
    _evaluated(key, Grade.GOOD)
    key.do("select_for_key_evaluation", {"fiscal_year": 2027, "reasons": ["finance_choice"]})
    key.do("assign_evaluators", {"fiscal_year": 2027, "evaluators": [_evaluator(1, "expert1")]})
    _submit(key, EVAL, POOR_SCORES)  # 50: 差 replaces the review's 良
    drivers = {"MAJ1": fair, "MAJ2": unreviewed, "MIN1": minor, "KEY1": key}
    for d in drivers.values():
        _project(d, session)
    return drivers


async def _public(client: httpx.AsyncClient, **params: Any) -> dict[str, Any]:
    response = await client.get("/api/public/disclosures", params=params)
    assert response.status_code == 200, response.text
    body: dict[str, Any] = response.json()
    return body


def _kinds(body: dict[str, Any]) -> list[tuple[str, int, str]]:
    return [(i["project_code"], i["fiscal_year"], i["kind"]) for i in body["items"]]


async def test_goals_are_public_with_the_budget_evaluations_once_published(
    client: httpx.AsyncClient, session: Session, world: dict[str, Driver]
) -> None:
    """Before 2027 is published only the approved goals of major projects show; after it, the
    reviewed self-evaluations, finance's results and the notice of the fair result too."""
    before = await _public(client)
    assert _kinds(before) == [("MAJ1", 2027, "goals"), ("MAJ2", 2027, "goals")]
    assert before["total"] == 2
    goals = before["items"][0]
    assert goals["approved_amount"] == 1_000_000
    assert [g["code"] for g in goals["goals"]] == ["O1", "E1"]
    assert goals["department_name"] == "区住建局"

    release_year(session=session, fiscal_year=2027, at=datetime(2028, 7, 15, tzinfo=UTC))
    after = await _public(client)
    assert _kinds(after) == [
        ("KEY1", 2027, "self_evaluation"),
        ("KEY1", 2027, "finance_evaluation"),
        ("KEY1", 2027, "notice"),
        ("MAJ1", 2027, "goals"),
        ("MAJ1", 2027, "self_evaluation"),
        ("MAJ1", 2027, "finance_evaluation"),
        ("MAJ1", 2027, "notice"),
        ("MAJ2", 2027, "goals"),
        ("MIN1", 2027, "self_evaluation"),
        ("MIN1", 2027, "finance_evaluation"),
    ]
    finance = after["items"][5]["finance_evaluation"]
    assert (finance["method"], finance["grade"], finance["consequence"]) == (
        "review",
        "fair",
        "cut_and_rectify",
    )
    assert (finance["cut_percent"], finance["rectification"]) == (10, "ordered")
    assert "中" in after["items"][6]["notice"]
    assert after["items"][6]["published_at"].startswith("2028-07-15")
    # The key evaluation's grade replaced the review's: that is the result made public.
    keyed = after["items"][1]["finance_evaluation"]
    assert (keyed["method"], keyed["grade"], keyed["review_grade"]) == (
        "key_evaluation",
        "poor",
        "good",
    )
    assert (keyed["cut_percent"], keyed["key_scores"]["output"]) == (50, 18)
    assert "差" in after["items"][2]["notice"]

    notices = await _public(client, kind="notice", year=2027, department="D1")
    assert _kinds(notices) == [("KEY1", 2027, "notice"), ("MAJ1", 2027, "notice")]
    assert _kinds(await _public(client, year=2028)) == []  # 2028's goals are a draft
    paged = await _public(client, page=2, page_size=3)
    assert (paged["total"], len(paged["items"])) == (10, 3)
    assert _kinds(paged) == _kinds(after)[3:6]


async def test_nothing_personal_and_no_draft_is_public(
    client: httpx.AsyncClient, session: Session, world: dict[str, Driver]
) -> None:
    """No owner, head, user name or comment in the JSON or the pages; no unapproved goals, no
    unreviewed self-evaluation, no discipline transfer."""
    release_year(session=session, fiscal_year=2027, at=datetime(2028, 7, 15, tzinfo=UTC))
    body = await _public(client, page_size=100)
    pages = [
        await client.get("/public/"),
        await client.get("/public/", params={"year": "", "kind": ""}),
        *[await client.get(f"/public/projects/{code}") for code in world],
    ]
    texts = [json.dumps(body, ensure_ascii=False), *(p.text for p in pages)]
    for page in pages:
        assert page.status_code == 200
        assert page.headers["content-type"].startswith("text/html")
        assert "<script" not in page.text
    for text in texts:
        for secret in PERSONAL:
            assert secret not in text
    fields = {key for item in body["items"] for key in item}
    assert not fields & {"owner", "actor", "head", "comment", "history", "accountability"}
    assert ("MAJ1", 2028, "goals") not in _kinds(body)
    assert not [k for k in _kinds(body) if k[0] == "MAJ2" and k[2] != "goals"]
    assert "区住建局" in pages[0].text
    assert "评价结果公开通报" in pages[0].text


async def test_public_pages_refuse_bad_filters_with_problem_details(
    client: httpx.AsyncClient,
) -> None:
    """A bad year or kind is a 422 naming the field; an unknown project is a page saying so."""
    for params, field in (({"year": "20x7"}, "query.year"), ({"kind": "drafts"}, "query.kind")):
        response = await client.get("/public/", params=params)
        assert response.status_code == 422
        assert response.headers["content-type"].startswith("application/problem+json")
        assert response.json()["errors"][0]["field"] == field
    bad = await client.get("/api/public/disclosures", params={"kind": "drafts"})
    assert bad.status_code == 422
    unknown = await client.get("/public/projects/NOPE")
    assert unknown.status_code == 200
    assert "暂无公开信息" in unknown.text


async def test_the_register_says_who_decided_and_who_answers(
    client: httpx.AsyncClient, world: dict[str, Driver]
) -> None:
    """Decisions with actor, role and reason; the owner's lifelong record of a major project;
    the red warning's 问责; the transfer with who made it. A department reads its own only."""
    fin = await sign_in(client, "fin")
    response = await client.get("/api/responsibility", headers=fin, params={"page_size": 500})
    assert response.status_code == 200, response.text
    register = response.json()
    decisions = register["decisions"]
    assert register["decisions_total"] == len(decisions)
    transfer = next(d for d in decisions if d["action"] == "transfer_to_discipline")
    assert (transfer["actor"], transfer["role"], transfer["reason"], transfer["label_zh"]) == (
        "officer",
        "finance",
        LEAD["reason"],
        "移送纪检监察",
    )
    review = next(
        d for d in decisions if d["action"] == "review_self_evaluation" and d["code"] == "MAJ1"
    )
    assert review["reason"] == "审核意见：王五负责"
    assert {d["action"] for d in decisions} >= {"submit", "approve_goals", "approve_budget"}
    assert not [d for d in decisions if d["action"] in ("reminder", "warning", "fiscal_notice")]

    (moved,) = register["discipline_transfers"]
    assert (moved["code"], moved["evidence"], moved["transferred_by"]) == (
        "MAJ1",
        LEAD["evidence"],
        "officer",
    )
    owners = {(r["code"], r["owner"]) for r in register["lifelong"]}
    assert owners == {("MAJ1", OWNER), ("MAJ2", OWNER)}  # major projects only
    maj1 = next(r for r in register["lifelong"] if r["code"] == "MAJ1")
    assert [y["grade"] for y in maj1["years"]][:1] == ["fair"]
    red = [a for a in maj1["accountability"] if a["subject"] == f"owner:{OWNER}"]
    assert red
    assert all(a["lifelong"] for a in red)
    assert len(maj1["discipline_transfers"]) == 1

    by_owner = await client.get("/api/responsibility", headers=fin, params={"subject": OWNER})
    owner_view = by_owner.json()
    assert owner_view["decisions"] == []  # 张三 took no decision in the system
    assert {a["subject"] for a in owner_view["accountability"]} == {f"owner:{OWNER}"}
    assert len(owner_view["lifelong"]) == 2


async def test_the_register_of_a_department_is_its_own(
    client: httpx.AsyncClient, world: dict[str, Driver]
) -> None:
    """The D1 clerk reads D1's register; another department's is a 403; an evaluator's too."""
    clerk = await sign_in(client, "clerk")
    own = await client.get("/api/responsibility", headers=clerk)
    assert own.status_code == 200
    assert {d["department"] for d in own.json()["decisions"]} == {"D1"}
    other = await client.get("/api/responsibility", headers=clerk, params={"department": "D2"})
    assert other.status_code == 403
    evaluator = await client.get("/api/responsibility", headers=await sign_in(client, "eval"))
    assert evaluator.status_code == 403


async def test_the_zone_report_reads_the_projection(
    client: httpx.AsyncClient, world: dict[str, Driver]
) -> None:
    """2027: four budgets of 1,000,000 all executed; grades by department (the key
    evaluation's 差 in place of the review's 良); the cuts and rectifications they ordered."""
    audit = await sign_in(client, "audit")
    response = await client.get("/api/reports/zone/2027", headers=audit)
    assert response.status_code == 200, response.text
    report = response.json()
    assert report["spending"]["cycles"] == 4
    assert float(report["spending"]["approved"]) == 4_000_000
    assert float(report["spending"]["executed"]) == 4_000_000
    assert report["grades"] == {"excellent": 1, "good": 1, "fair": 1, "poor": 1, "ungraded": 0}
    assert [b["key"] for b in report["by_department"]] == ["D1"]
    cuts = [(c["code"], float(c["cut_percent"]), c["key_evaluation"]) for c in report["cuts"]]
    assert cuts == [("KEY1", 50, True), ("MAJ1", 10, False)]
    assert [(r["code"], r["status"]) for r in report["rectifications"]] == [
        ("KEY1", "ordered"),
        ("MAJ1", "ordered"),
    ]
    clerk = await client.get("/api/reports/zone/2027", headers=await sign_in(client, "clerk"))
    assert clerk.status_code == 403


async def test_a_purchased_service_publishes_its_evaluator_standard_and_result(
    client: httpx.AsyncClient, session: Session, users: dict[str, str]
) -> None:
    """政府购买服务: the evaluating institution, the standard and the result are public with the
    year's evaluations (not before), in the JSON and on the pages; still no person's name."""
    service = KindDriver(ProjectKind.PURCHASED_SERVICE)
    service.state.info = service.state.info.model_copy(update={"code": "SVC1"})
    service.fund(2027)
    service.at(2028, 3)
    service.do(
        "submit_self_evaluation",
        fk.self_evaluation(
            2027,
            BudgetType.GENERAL_PUBLIC,
            ProjectKind.PURCHASED_SERVICE,
            third_party_evaluator="某某绩效评价咨询有限公司",
            evaluation_standard="养老服务合同考核细则（2027版）",
        ),
    )
    service.do("review_self_evaluation", {"fiscal_year": 2027, "comment": "审核意见：王五负责"})
    _project(service, session)
    assert "purchased_service" not in {k[2] for k in _kinds(await _public(client))}

    release_year(session=session, fiscal_year=2027, at=datetime(2028, 7, 15, tzinfo=UTC))
    body = await _public(client, kind="purchased_service")
    assert _kinds(body) == [("SVC1", 2027, "purchased_service")]
    published = body["items"][0]["purchased_service"]
    report = service.state.cycle(2027).self_evaluation.report  # type: ignore[union-attr]
    assert published == {
        "evaluator": "某某绩效评价咨询有限公司",
        "standard": "养老服务合同考核细则（2027版）",
        "score": float(report.total),
        "grade": report.grade.value,
        "grade_zh": GRADE_ZH[report.grade],
    }
    assert ("SVC1", 2027, "purchased_service") in _kinds(await _public(client))
    pages = [await client.get("/public/"), await client.get("/public/projects/SVC1")]
    for page in pages:
        assert page.status_code == 200
        assert "某某绩效评价咨询有限公司" in page.text
        assert "养老服务合同考核细则（2027版）" in page.text
    for text in [json.dumps(body, ensure_ascii=False), *(p.text for p in pages)]:
        for secret in PERSONAL:
            assert secret not in text
