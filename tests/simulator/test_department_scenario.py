"""One department, five projects of different kinds, three fiscal years (issue 5's scenario).

`scenarios/department_five_projects.json`: department D1 with
- G1 社区养老服务, a general project (一般公共预算), 2027–2028;
- P1 污水处理厂PPP运营, a PPP paid by score (table: <60 → 0 %, 60–80 → 70 %, 80–90 → 90 %,
  90–100 → 100 %), 2027–2028;
- C1 执法装备集中采购, a procurement, 2027 only;
- F1 城市基础设施配套费项目, a general project on the government-fund budget (政府性基金), 2027–2029;
- B1 老旧小区改造专项债, a debt project, 2027–2029.

The department's years 2027–2029 are opened and driven through the API's own service code
(`service.department_years`), budgets are approved through the reservation protocol
(`service.control_reservations`), the expert library and key evaluation through
`service.experts` / `service.key_evaluations`. Every number below is worked by hand from the
scenario file and the default rules (grades: 优 ≥ 90, 良 ≥ 80, 中 ≥ 60, 差 below; a 中 result
cuts 10 %; the department's overall grade moves its next control number 优 +5 %, 良 0,
中 −5 %, 差 −10 %).
"""

from __future__ import annotations

from typing import Any

from tests.simulator.conftest import Simulated

SCENARIO = "department_five_projects"
CST = "+08:00"


def _at(day: str) -> str:
    return f"{day}T09:00:00{CST}"


def _project_items(out: dict[str, Any], project: str, action: str) -> list[dict[str, Any]]:
    """The project's transitions and refusals of `action` (not the notifications they sent)."""
    return [
        i
        for i in out["timeline"]
        if i.get("project") == project
        and i.get("action") == action
        and i["type"] in ("transition", "rejected")
    ]


def _department_items(out: dict[str, Any], year: int) -> list[dict[str, Any]]:
    return [i for i in out["timeline"] if i.get("department") == "D1" and i["fiscal_year"] == year]


async def test_every_project_ends_with_the_grades_of_its_reviews(simulated: Simulated) -> None:
    out = await simulated(SCENARIO)
    cycles = {
        code: [
            (c["fiscal_year"], c["state"], c["score"], c["grade"], c["approved_amount"])
            for c in project["cycles"]
        ]
        for code, project in out["final"].items()
    }
    # Every project's last year has its results applied: each completes.
    assert {code: p["state"] for code, p in out["final"].items()} == dict.fromkeys(
        ("G1", "P1", "C1", "F1", "B1"), "completed"
    )
    assert cycles == {
        # 2027: key-evaluated 80 (良), see below; 2028: reviewed 90 → 优.
        "G1": [
            (2027, "results_applied", 80, "good", 1_000_000),
            (2028, "results_applied", 90, "excellent", 1_000_000),
        ],
        # Reviewed 85 both years → 良 (80 ≤ 85 < 90): no rectification.
        "P1": [
            (2027, "results_applied", 85, "good", 1_200_000),
            (2028, "results_applied", 85, "good", 1_200_000),
        ],
        "C1": [(2027, "results_applied", 95, "excellent", 600_000)],  # 95 ≥ 90 → 优
        # 92 → 优; 75 → 中 (rectified, accepted); 2029: 2 100 000 is what fitted the ceiling.
        "F1": [
            (2027, "results_applied", 92, "excellent", 800_000),
            (2028, "results_applied", 75, "fair", 800_000),
            (2029, "results_applied", 88, "good", 2_100_000),
        ],
        "B1": [
            (2027, "results_applied", 88, "good", 1_500_000),
            (2028, "results_applied", 86, "good", 1_500_000),
            (2029, "results_applied", 91, "excellent", 2_000_000),
        ],
    }
    # The fair 2028 of F1 asked for rectification before its results were applied.
    assert [i["to"] for i in _project_items(out, "F1", "accept_rectification")] == [
        "results_applied"
    ]
    assert [i["fiscal_year"] for i in _project_items(out, "F1", "review_self_evaluation")] == [
        2027,
        2028,
        2029,
    ]
    assert [
        i["to"]
        for i in _project_items(out, "F1", "review_self_evaluation")
        if i["fiscal_year"] == 2028
    ] == ["rectifying"]
    # The procurement's contract was recorded against its budget (560 000 ≤ 600 000).
    (procured,) = _project_items(out, "C1", "record_procurement")
    assert procured["type"] == "transition"
    assert procured["detail"]["contract_amount"] == "560000"


async def test_the_key_evaluation_grade_overrides_the_self_evaluation(
    simulated: Simulated,
) -> None:
    out = await simulated(SCENARIO)
    # Only G1 had self-evaluated 2027 (10 March) when finance drew on 12 March: the pool is
    # [G1], and a 100 % sample of one project is ⌈1 × 100 / 100⌉ = 1: G1, as a sample.
    (selection,) = [i for i in out["timeline"] if i["type"] == "key_evaluation_selection"]
    assert selection["at"] == _at("2028-03-12")
    assert selection["detail"]["sample_pool"] == ["G1"]
    assert selection["detail"]["seed"] == 20280312
    assert selection["detail"]["selected"] == [
        {"code": "G1", "reasons": ["sample"], "outcome": "selected"}
    ]
    (selected,) = _project_items(out, "G1", "select_for_key_evaluation")
    assert (selected["type"], selected["to"], selected["step"]) == (
        "transition",
        "key_evaluating",
        selection["step"],
    )
    # The self-evaluation: O1 and E1 at their targets → 100 → 优.
    own = next(
        i for i in _project_items(out, "G1", "submit_self_evaluation") if i["fiscal_year"] == 2027
    )
    assert (own["detail"]["score"], own["detail"]["grade"]) == ("100.00", "excellent")
    # Expert #2 sits in D1, the project's own department: refused as a conflict of interest,
    # nothing assigned; expert #1 (no department) is then commissioned.
    refused, assigned = _project_items(out, "G1", "assign_evaluators")
    assert refused["type"] == "rejected"
    assert refused["detail"]["status"] == 409
    assert [c["expert_id"] for c in refused["detail"]["conflicts"]] == [2]
    assert "same department" in refused["detail"]["conflicts"][0]["reasons"][0]
    assert assigned["type"] == "transition"
    assert [e["username"] for e in assigned["detail"]["evaluators"]] == ["expert_li"]
    # The key evaluation: 16 + 16 + 24 + 24 = 80 → 良, replacing the self-evaluated 优.
    (key,) = _project_items(out, "G1", "submit_key_evaluation")
    assert key["actor"] == "expert_li"
    assert key["to"] == "results_applied"  # 良 needs no rectification
    assert (key["detail"]["score"], key["detail"]["grade"]) == ("80.00", "good")
    assert key["detail"]["self_evaluated_grade"] == "excellent"
    assert out["final"]["G1"]["cycles"][0]["grade"] == "good"


async def test_the_ppp_is_paid_by_its_score_from_the_table(simulated: Simulated) -> None:
    out = await simulated(SCENARIO)
    payments = _project_items(out, "P1", "record_performance_payment")
    # Each year: score 85 falls in the 80–90 band → 90 % of the approved 1 200 000
    # = 1 080 000.00 paid, 120 000.00 withheld.
    assert [
        (
            i["fiscal_year"],
            i["detail"]["score"],
            i["detail"]["payment_pct"],
            i["detail"]["amount"],
            i["detail"]["withheld"],
        )
        for i in payments
    ] == [
        (2027, "85", "90", "1080000.00", "120000.00"),
        (2028, "85", "90", "1080000.00", "120000.00"),
    ]


async def test_the_control_number_explains_the_cut_line_by_line(simulated: Simulated) -> None:
    out = await simulated(SCENARIO)
    number = out["departments"]["D1"]["2029"]["control_number"]
    assert (number["fiscal_year"], number["results_year"]) == (2029, 2028)
    lines = [(line["kind"], line["amount"], line["project_code"]) for line in number["lines"]]
    assert lines == [
        # 2028 approvals: G1 1 000 000 + P1 1 200 000 + F1 800 000 + B1 1 500 000
        # (C1 ended in 2027).
        ("base", "4500000.00", None),
        # F1's 2028 was fair (75): 10 % of its 800 000.
        ("project_cut", "-80000.00", "F1"),
        # D1's 2028 was reviewed 75 → 中: −5 % of 4 500 000 − 80 000 = 4 420 000.
        ("grade_adjustment", "-221000.00", None),
        # 4 420 000 − 221 000.
        ("result", "4199000.00", None),
    ]
    assert number["ceiling"] == "4199000.00"
    assert number["lines"][1]["percent"] == "10"
    assert number["lines"][2]["percent"] == "-5"
    assert "F1" in number["lines"][1]["text_zh"]
    assert "压减 10%" in number["lines"][1]["text_zh"]
    (recorded,) = [
        i
        for i in _department_items(out, 2029)
        if i["action"] == "set_control_number" and i["type"] == "transition"
    ]
    assert recorded["at"] == _at("2029-04-01")
    assert recorded["detail"]["ceiling"] == "4199000.00"


async def test_an_approval_above_the_control_number_is_refused(simulated: Simulated) -> None:
    out = await simulated(SCENARIO)
    b1 = [i for i in _project_items(out, "B1", "approve_budget") if i["fiscal_year"] == 2029]
    f1 = [i for i in _project_items(out, "F1", "approve_budget") if i["fiscal_year"] == 2029]
    # B1 first: 2 000 000 against a ceiling of 4 199 000 with nothing held yet.
    (b1_approved,) = b1
    assert b1_approved["type"] == "transition"
    assert b1_approved["detail"]["control"]["reserved_before"] == "0"
    assert b1_approved["detail"]["control"]["ceiling"] == "4199000.00"
    # F1 2 240 000: 2 000 000 + 2 240 000 = 4 240 000 > 4 199 000. Its own 10 % cut (the fair
    # 2028) allows 2 500 000 × 90 % = 2 250 000, so the control number is the only guard unmet.
    refused, approved = f1
    assert refused["type"] == "rejected"
    assert refused["at"] == _at("2029-04-03")
    assert [u["guard"] for u in refused["detail"]["unmet"]] == ["within_control_number"]
    message = refused["detail"]["unmet"][0]["message"]
    assert "4240000" in message
    assert "4199000.00" in message
    # Then 2 100 000: 2 000 000 + 2 100 000 = 4 100 000 ≤ 4 199 000.
    assert approved["type"] == "transition"
    assert approved["step"] == refused["step"] + 1
    assert approved["detail"]["amount"] == "2100000"
    assert approved["detail"]["control"]["reserved_before"] == "2000000"
    # The department year: the refused hold is recorded, never counted; 4 100 000 held.
    year = _department_items(out, 2029)
    holds = [
        (i["action"], i["detail"]["project_code"], i.get("step"))
        for i in year
        if i["action"].startswith(("reserve", "confirm"))
    ]
    assert holds == [
        ("reserve", "B1", b1_approved["step"]),
        ("confirm_reservation", "B1", b1_approved["step"]),
        ("reserve_refused", "F1", refused["step"]),
        ("reserve", "F1", approved["step"]),
        ("confirm_reservation", "F1", approved["step"]),
    ]
    assert out["departments"]["D1"]["2029"]["reserved"] == 4_100_000


async def test_the_department_years_end_with_their_overall_grades(simulated: Simulated) -> None:
    out = await simulated(SCENARIO)
    years = out["departments"]["D1"]
    summary = {
        year: (y["state"], y["score"], y["grade"], y["budget_amount"], y["reserved"])
        for year, y in years.items()
    }
    assert summary == {
        # Self-evaluated 100 (every indicator at target), reviewed 85 → 良. Held: the five
        # 2027 budgets 1 000 000 + 1 200 000 + 600 000 + 800 000 + 1 500 000.
        "2027": ("reviewed", 85, "good", 6_000_000, 5_100_000),
        # Reviewed 75 → 中 (what lowers the 2029 control number by 5 %).
        "2028": ("reviewed", 75, "fair", 6_000_000, 4_500_000),
        # Not yet evaluated; 2 000 000 + 2 100 000 held.
        "2029": ("budget_approved", None, None, 4_100_000, 4_100_000),
    }
    # No basis before the first year; 2028's was never set by finance.
    assert years["2027"]["control_number"] is None
    assert years["2028"]["control_number"] is None
    steps_2028 = [(i["at"], i["action"], i.get("to")) for i in _department_items(out, 2028)]
    assert [s for s in steps_2028 if s[1] not in ("reserve", "confirm_reservation")] == [
        (_at("2027-10-10"), "open", "goals_drafted"),
        (_at("2027-10-10"), "submit_goals", "goals_submitted"),
        (_at("2027-10-10"), "approve_goals", "goals_approved"),
        (_at("2027-10-20"), "approve_department_budget", "budget_approved"),
        (_at("2029-03-15"), "submit_self_evaluation", "self_evaluated"),
        (_at("2029-03-16"), "review_self_evaluation", "reviewed"),
    ]


async def test_a_refused_department_step_is_shown_and_changes_nothing(
    simulated: Simulated,
) -> None:
    out = await simulated(SCENARIO)
    # 31 March 2029: the department's clerk may not record its own control number.
    forbidden, refused = [i for i in _department_items(out, 2029) if i["type"] == "rejected"]
    assert (forbidden["at"], forbidden["action"], forbidden["actor"]) == (
        _at("2029-03-31"),
        "set_control_number",
        "department-D1",
    )
    assert forbidden["detail"] == {
        "status": 403,
        "error": "only the finance role may set_control_number",
    }
    # 1 December 2029: the year 2029 has not ended, so the overall self-evaluation is refused.
    assert (refused["at"], refused["action"], refused["actor"]) == (
        _at("2029-12-01"),
        "submit_self_evaluation",
        "department-D1",
    )
    assert refused["detail"]["state"] == "budget_approved"
    assert [u["guard"] for u in refused["detail"]["unmet"]] == ["year_over"]
    assert out["departments"]["D1"]["2029"]["state"] == "budget_approved"
