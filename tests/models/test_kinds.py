"""The four budgets and the special instruments: templates, rule tables, and their guards."""

from __future__ import annotations

from datetime import UTC, datetime
from decimal import Decimal
from typing import Any

import pytest
from pydantic import ValidationError

from models.actions import PAYLOADS
from models.engine import ActionRejected, Lifecycle
from models.indicators import Indicator
from models.kinds import (
    Contribution,
    KindRules,
    PaymentTable,
    fund_decision,
    performance_payment,
    procurement_savings,
    template_for,
    template_problems,
    threshold_warnings,
)
from models.lifecycle import ACTIONS
from models.project_state import Actor, ProcurementRecord, ProjectFiling, ProjectInfo, ProjectState
from models.rules import Rules
from models.vocabulary import (
    ACHIEVEMENT_ZH,
    Achievement,
    BudgetType,
    Grade,
    Level1,
    Level2,
    ProjectKind,
    Role,
    WarningLevel,
)
from tests import factories as f
from tests import factories_kinds as fk

GP, SI, GF, SC = (
    BudgetType.GENERAL_PUBLIC,
    BudgetType.SOCIAL_INSURANCE,
    BudgetType.GOVERNMENT_FUND,
    BudgetType.STATE_CAPITAL,
)
K = ProjectKind
TABLE = PaymentTable.model_validate(fk.PAYMENT_TABLE)
ACTORS = {
    Role.DEPARTMENT: Actor(username="clerk", role=Role.DEPARTMENT, department="D1"),
    Role.FINANCE: Actor(username="officer", role=Role.FINANCE),
    Role.EVALUATOR: Actor(username="expert1", role=Role.EVALUATOR),
}
SYSTEM = Actor(username="system", role=Role.SYSTEM)


# --- templates ---------------------------------------------------------------------------------


def _codes(budget_type: BudgetType, kind: ProjectKind) -> set[str]:
    return {i.code for i in template_for(budget_type, kind).required}


def test_general_budget_projects_and_policies_need_nothing_more() -> None:
    """Ordinary projects and policies of the general budget keep the common goals rules only."""
    assert _codes(GP, K.PROJECT) == set()
    assert _codes(GP, K.POLICY) == set()


@pytest.mark.parametrize(
    ("budget_type", "kind", "codes"),
    [
        (GF, K.PROJECT, {"GF-BASIS", "GF-COLLECTION", "GF-USE"}),
        (SC, K.PROJECT, {"SC-REMITTANCE", "SC-STRUCTURE"}),
        (SI, K.POLICY, {"SI-ACTUARIAL", "SI-BALANCE-MONTHS"}),
        (GP, K.GOVERNMENT_INVESTMENT_FUND, {"IF-POLICY", "IF-OPERATION"}),
        (GP, K.PPP, {"PPP-OPERATION"}),
        (GP, K.PROCUREMENT, {"PR-EXECUTION", "PR-SAVINGS"}),
        (GP, K.PURCHASED_SERVICE, {"PS-QUALITY", "PS-SATISFACTION"}),
        (GP, K.DEBT, {"DEBT-USE", "DEBT-REPAYMENT", "DEBT-HIDDEN"}),
        # Special bonds are in the government fund budget: both parts apply.
        (
            GF,
            K.DEBT,
            {"GF-BASIS", "GF-COLLECTION", "GF-USE", "DEBT-USE", "DEBT-REPAYMENT", "DEBT-HIDDEN"},
        ),
    ],
)
def test_each_budget_and_kind_requires_its_indicators(
    budget_type: BudgetType, kind: ProjectKind, codes: set[str]
) -> None:
    """A template is its budget type's indicators plus its kind's."""
    assert _codes(budget_type, kind) == codes


@pytest.mark.parametrize("budget_type", list(BudgetType))
@pytest.mark.parametrize("kind", list(ProjectKind))
def test_every_template_is_satisfiable_and_chinese(
    budget_type: BudgetType, kind: ProjectKind
) -> None:
    """Goals built from a template follow it; every required indicator has a Chinese name."""
    template = template_for(budget_type, kind)
    goals = [Indicator.model_validate(i) for i in fk.indicators(budget_type, kind)]
    assert template_problems(template, goals) == []
    assert template.budget_type_zh
    assert template.kind_zh
    for need in template.required:
        assert any("\u4e00" <= ch <= "\u9fff" for ch in need.name_zh)


def test_template_problems_name_missing_miscategorised_and_wrongly_typed_indicators() -> None:
    """Missing, wrong L1/L2 and qualitative-instead-of-quantitative each say what is wrong."""
    template = template_for(GP, K.DEBT)
    given = [Indicator.model_validate(i) for i in fk.indicators(GP, K.DEBT)]
    by_code = {i.code: i for i in given}
    broken = [
        by_code["DEBT-USE"].model_copy(update={"level1": Level1.EFFECT, "level2": Level2.SOCIAL}),
        by_code["DEBT-HIDDEN"].model_copy(update={"operator": ">=", "target": Decimal(0)}),
    ]
    problems = template_problems(template, broken)
    assert problems == [
        "indicator DEBT-USE belongs under output/timeliness, not effect/social",
        (
            "the 一般公共预算·政府债务项目 template requires indicator DEBT-REPAYMENT"
            " (项目收益对债券本息覆盖倍数)"
        ),
        "indicator DEBT-HIDDEN (未新增隐性债务) must be qualitative (定性)",
    ]


# --- pay by performance ------------------------------------------------------------------------


@pytest.mark.parametrize(
    ("score", "base", "pct", "amount"),
    [
        ("59.99", "1000000", 0, "0.00"),
        ("60", "1234567.89", 70, "864197.52"),  # 864 197.523 → half-up to the cent
        ("79.99", "1000000", 70, "700000.00"),
        ("80", "1000000", 90, "900000.00"),  # a boundary belongs to the band above
        ("85.5", "333333.33", 90, "300000.00"),  # 299 999.997 → 300 000.00
        ("90", "1000000", 100, "1000000.00"),
        ("100", "1000000", 100, "1000000.00"),  # the top band includes 100
    ],
)
def test_payment_follows_the_contract_table(score: str, base: str, pct: int, amount: str) -> None:
    """Payment = base × the band's percentage, rounded half-up; the rest is withheld."""
    paid = performance_payment(TABLE, Decimal(score), Decimal(base))
    assert paid.band.payment_pct == pct
    assert paid.amount == Decimal(amount)
    assert paid.amount + paid.withheld == Decimal(base)


@pytest.mark.parametrize(
    ("bands", "reason"),
    [
        ([{"low": 10, "high": 100, "payment_pct": 100}], "the first band must start at 0"),
        ([{"low": 0, "high": 90, "payment_pct": 100}], "the last band must end at 100"),
        (
            [{"low": 0, "high": 60, "payment_pct": 0}, {"low": 70, "high": 100, "payment_pct": 9}],
            "band 1 must start where band 0 ends (60), not 70",
        ),
        (
            [
                {"low": 0, "high": 60, "payment_pct": 50},
                {"low": 60, "high": 100, "payment_pct": 40},
            ],
            "a higher score may not pay less",
        ),
        (
            [{"low": 0, "high": 0, "payment_pct": 0}, {"low": 0, "high": 100, "payment_pct": 9}],
            "band 0: low 0 must be below high 0",
        ),
        ([{"low": 0, "high": 100, "payment_pct": 101}], "less than or equal to 100"),
        ([], "at least 1 item"),
    ],
)
def test_a_bad_payment_table_is_refused_with_the_reason(
    bands: list[dict[str, Any]], reason: str
) -> None:
    """Bands must cover 0–100 in order without gap or overlap and never pay less for more."""
    with pytest.raises(ValidationError) as invalid:
        PaymentTable.model_validate({"bands": bands})
    assert reason in str(invalid.value)


# --- procurement, investment funds, thresholds -------------------------------------------------


def test_procurement_savings_are_budget_minus_contract() -> None:
    """节约资金 = 预算 − 合同金额; the rate is of the budget, to the cent of a percent."""
    saved = procurement_savings(Decimal("1000000.00"), Decimal("873450.50"))
    assert saved.savings == Decimal("126549.50")
    assert saved.savings_rate_pct == Decimal("12.65")  # 12.65495 → 12.65


@pytest.mark.parametrize(
    ("grade", "contribution", "cut", "exit_", "reward"),
    [
        (Grade.EXCELLENT, Contribution.CONTINUE, "0", False, "2000000.00"),
        (Grade.GOOD, Contribution.CONTINUE, "0", False, "1600000.00"),
        (Grade.FAIR, Contribution.CUT, "10", False, "1000000.00"),
        (Grade.POOR, Contribution.CUT, "50", True, "0.00"),
    ],
)
def test_investment_fund_grade_decides_contribution_exit_and_reward(
    grade: Grade, contribution: Contribution, cut: str, exit_: bool, reward: str
) -> None:
    """With a 2 000 000 yearly management fee: 优 100 %, 良 80 %, 中 50 %, 差 0 % as reward."""
    decision = fund_decision(grade, Decimal(cut), Decimal(2_000_000), KindRules())
    assert decision.contribution is contribution
    assert decision.cut_percent == Decimal(cut)
    assert decision.exit_recommended is exit_
    assert decision.manager_reward == Decimal(reward)


def test_fund_table_must_cover_every_grade() -> None:
    """A configured fund table without a grade is refused (the rule would be missing)."""
    with pytest.raises(ValidationError, match="missing"):
        KindRules(fund={Grade.EXCELLENT: KindRules().fund[Grade.EXCELLENT]})


@pytest.mark.parametrize(
    ("budget_type", "kind", "progress", "level", "reasons"),
    [
        (SI, K.POLICY, {"SI-BALANCE-MONTHS": "6"}, WarningLevel.NONE, 0),
        (SI, K.POLICY, {"SI-BALANCE-MONTHS": "5.9"}, WarningLevel.YELLOW, 1),
        (SI, K.POLICY, {"SI-BALANCE-MONTHS": "2.5"}, WarningLevel.RED, 2),
        (SI, K.POLICY, {"SI-ACTUARIAL": "97"}, WarningLevel.YELLOW, 1),
        (GP, K.DEBT, {"DEBT-REPAYMENT": "1.05"}, WarningLevel.YELLOW, 1),
        (GF, K.DEBT, {"DEBT-REPAYMENT": "0.8"}, WarningLevel.RED, 2),
        (GF, K.PROJECT, {"GF-COLLECTION": "95", "GF-USE": "90"}, WarningLevel.NONE, 0),
        (GF, K.PROJECT, {"GF-COLLECTION": "94.5"}, WarningLevel.YELLOW, 1),
        (GF, K.POLICY, {"GF-COLLECTION": "99", "GF-USE": "65"}, WarningLevel.RED, 2),
        (SC, K.PROJECT, {"SC-REMITTANCE": "100"}, WarningLevel.NONE, 0),
        (SC, K.PROJECT, {"SC-REMITTANCE": "92"}, WarningLevel.YELLOW, 1),
        (SC, K.PROJECT, {"SC-REMITTANCE": "75"}, WarningLevel.RED, 2),
        # The same codes mean nothing for budgets and kinds without such rules.
        (GP, K.PROJECT, {"SI-BALANCE-MONTHS": "1", "DEBT-REPAYMENT": "0"}, WarningLevel.NONE, 0),
        (SC, K.PROJECT, {"GF-COLLECTION": "1", "SI-ACTUARIAL": "1"}, WarningLevel.NONE, 0),
    ],
)
def test_threshold_warnings_follow_budget_type_and_kind(
    budget_type: BudgetType,
    kind: ProjectKind,
    progress: dict[str, str],
    level: WarningLevel,
    reasons: int,
) -> None:
    """Risk thresholds warn only for their budget type or kind, at the highest level crossed."""
    got_level, got_reasons = threshold_warnings(
        budget_type, kind, ((c, Decimal(v)) for c, v in progress.items()), KindRules()
    )
    assert (got_level, len(got_reasons)) == (level, reasons)


@pytest.mark.parametrize(
    ("budget_type", "kind", "said", "level", "reasons"),
    [
        (GP, K.DEBT, Achievement.NOT_ACHIEVED, WarningLevel.RED, 1),
        (GF, K.DEBT, Achievement.PARTLY, WarningLevel.YELLOW, 1),
        (GP, K.DEBT, Achievement.ACHIEVED, WarningLevel.NONE, 0),
        # "No new hidden debt" is a debt project's indicator: other kinds' reports are not judged.
        (GP, K.PROJECT, Achievement.NOT_ACHIEVED, WarningLevel.NONE, 0),
    ],
)
def test_new_hidden_debt_reported_on_a_debt_project_warns(
    budget_type: BudgetType,
    kind: ProjectKind,
    said: Achievement,
    level: WarningLevel,
    reasons: int,
) -> None:
    """严控地方政府隐性债务: qualitative progress on DEBT-HIDDEN is judged by its own rules."""
    got_level, got_reasons = threshold_warnings(
        budget_type, kind, [], KindRules(), {"DEBT-HIDDEN": said}
    )
    assert (got_level, len(got_reasons)) == (level, reasons)
    if reasons:
        assert f"DEBT-HIDDEN：{ACHIEVEMENT_ZH[said]}" in got_reasons[0]


def test_numbers_and_achievements_warn_together_at_the_higher_level() -> None:
    level, reasons = threshold_warnings(
        GP,
        K.DEBT,
        [("DEBT-REPAYMENT", Decimal("1.05"))],
        KindRules(),
        {"DEBT-HIDDEN": Achievement.NOT_ACHIEVED},
    )
    assert level is WarningLevel.RED
    assert [r.split("（")[0] for r in reasons] == [
        "项目收益对债券本息覆盖倍数低于1.1",
        "新增地方政府隐性债务，存在违规举债风险",
    ]


@pytest.mark.parametrize(
    "entry",
    [
        {"code": "DEBT-HIDDEN"},
        {"code": "DEBT-HIDDEN", "actual": "1", "achievement": "achieved"},
        {"code": "DEBT-HIDDEN", "achievement": "maybe"},
    ],
)
def test_progress_takes_a_number_or_an_achievement(entry: dict[str, str]) -> None:
    body = {"fiscal_year": 2027, "period_end": "2027-06-30", "executed_amount": "1",
            "progress": [entry]}  # fmt: skip
    with pytest.raises(ValidationError) as invalid:
        PAYLOADS["report_monitoring"].model_validate(body)
    assert invalid.value.errors()[0]["loc"][:2] == ("progress", 0)


# --- filing ------------------------------------------------------------------------------------


@pytest.mark.parametrize(
    ("kind", "extra", "field", "reason"),
    [
        (K.PPP, {"payment_table": None}, "payment_table", "required for kind ppp"),
        (K.PURCHASED_SERVICE, {"payment_table": None}, "payment_table", "required"),
        (K.GOVERNMENT_INVESTMENT_FUND, {"management_fee": None}, "management_fee", "required"),
        (K.PROJECT, {"payment_table": fk.PAYMENT_TABLE}, "payment_table", "not for kind project"),
        (K.DEBT, {"management_fee": 5}, "management_fee", "not for kind debt"),
    ],
)
def test_filing_checks_kind_specific_fields(
    kind: ProjectKind, extra: dict[str, Any], field: str, reason: str
) -> None:
    """A kind's own field is required for it and refused for the others, naming the field."""
    with pytest.raises(ValidationError) as invalid:
        ProjectFiling.model_validate(fk.filing("K1", kind, **extra))
    errors = invalid.value.errors()
    assert [e["loc"] for e in errors] == [(field,)]
    assert reason in errors[0]["msg"]


def test_stored_projects_without_kind_fields_still_load() -> None:
    """A project filed before these fields existed deserialises unchanged."""
    old = {**f.filing("OLD"), "department": "D1"}
    info = ProjectInfo.model_validate(old)
    assert (info.payment_table, info.management_fee) == (None, None)


# --- through the lifecycle ---------------------------------------------------------------------


class Driver:
    def __init__(self, kind: ProjectKind, budget_type: BudgetType = GP, **filing: Any) -> None:
        info = ProjectInfo(**fk.filing("K1", kind, budget_type, **filing), department="D1")
        self.budget_type, self.kind = budget_type, kind
        self.state = ProjectState(info=info)
        self.lifecycle = Lifecycle(self.state, Rules())
        self.now = datetime(2026, 11, 1, tzinfo=UTC)
        self.do("submit")

    def do(self, action: str, body: dict[str, Any] | None = None) -> None:
        payload = PAYLOADS[action].model_validate(body or {})
        self.lifecycle.execute(action, payload, actor=self._actor(action), now=self.now)
        self.lifecycle.advance_clock(self.now, SYSTEM)

    def _actor(self, action: str) -> Actor:
        return ACTORS[ACTIONS[action].role]

    def unmet(self, action: str, body: dict[str, Any]) -> list[str]:
        payload = PAYLOADS[action].model_validate(body)
        before = self.state.model_dump()
        with pytest.raises(ActionRejected) as rejected:
            self.lifecycle.execute(action, payload, actor=self._actor(action), now=self.now)
        assert self.state.model_dump() == before
        return [u.guard for u in rejected.value.rejection.unmet]

    def at(self, year: int, month: int = 6) -> None:
        self.now = datetime(year, month, 15, 4, tzinfo=UTC)
        self.lifecycle.advance_clock(self.now, SYSTEM)

    def fund(self, year: int, amount: int = 1_000_000) -> None:
        self.do("submit_goals", fk.goals(year, self.budget_type, self.kind, amount))
        self.do("approve_goals", {"fiscal_year": year})
        self.do("approve_budget", {"fiscal_year": year, "amount": amount})

    def evaluate(self, year: int, score: str, **extra: Any) -> None:
        self.do(
            "submit_self_evaluation",
            fk.self_evaluation(year, self.budget_type, self.kind, **extra),
        )
        self.do("review_self_evaluation", fk.review(year, score))


def test_goals_without_the_template_indicator_are_refused() -> None:
    """PPP goals need the operating-performance indicator, at submission and at approval."""
    d = Driver(K.PPP)
    assert d.unmet("submit_goals", f.goals(2027)) == ["goals_follow_template"]
    # Goals that slipped in before the template existed are caught when finance approves.
    d.do("submit_goals", fk.goals(2027, GP, K.PPP))
    cycle = d.state.cycle(2027)
    assert cycle is not None
    cycle.indicators = cycle.indicators[:2]
    assert d.unmet("approve_goals", {"fiscal_year": 2027}) == ["goals_follow_template"]


def test_ppp_pays_each_period_once_by_its_reviewed_score() -> None:
    """No payment before finance's review; 75 pays 70 %; a period is never paid twice."""
    d = Driver(K.PPP)
    d.fund(2027, 1_200_000)
    d.at(2028, 3)
    d.do("submit_self_evaluation", fk.self_evaluation(2027, GP, K.PPP, executed=1_200_000))
    body = {"fiscal_year": 2027, "comment": "2027年度运营补贴"}
    assert d.unmet("record_performance_payment", body) == ["state", "period_scored"]
    d.do("review_self_evaluation", fk.review(2027, "75"))
    cycle = d.state.cycle(2027)
    assert cycle is not None
    entered = dict(cycle.entered)
    d.do("record_performance_payment", body)
    paid = cycle.performance_payment
    assert paid is not None
    assert (paid.score, paid.band.payment_pct, paid.amount, paid.withheld) == (
        Decimal(75),
        Decimal(70),
        Decimal("840000.00"),
        Decimal("360000.00"),
    )
    assert cycle.entered == entered  # recording a payment restarts no deadline
    assert d.state.history[-1].detail["amount"] == "840000.00"
    assert d.unmet("record_performance_payment", body) == ["period_unpaid"]


def test_a_project_paid_by_performance_completes_only_once_paid() -> None:
    """Its last year's results applied, a PPP project still waits for the last payment."""
    d = Driver(K.PPP, start_year=2027, end_year=2027)
    d.fund(2027)
    d.at(2028, 3)
    d.evaluate(2027, "92")
    assert d.state.state == "active"
    d.do("record_performance_payment", {"fiscal_year": 2027})
    assert d.state.state == "completed"


def _key_evaluate(d: Driver, year: int, scores: dict[str, int]) -> None:
    d.do("select_for_key_evaluation", {"fiscal_year": year, "reasons": ["sample"], "seed": 7})
    evaluator = {"expert_id": 1, "name": "专家1", "kind": "expert", "username": "expert1"}
    d.do("assign_evaluators", {"fiscal_year": year, "evaluators": [evaluator]})
    d.do("submit_key_evaluation", {"fiscal_year": year, "scores": scores, "report": "重点评价"})


def test_a_key_evaluated_period_is_paid_by_the_key_evaluation_score() -> None:
    """Selected for key evaluation before review, the period waits for it and is paid by its
    total (85 → 90 %), not by the self-evaluated 100."""
    d = Driver(K.PPP)
    d.fund(2027)
    d.at(2028, 3)
    d.do("submit_self_evaluation", fk.self_evaluation(2027, GP, K.PPP))
    d.do("select_for_key_evaluation", {"fiscal_year": 2027, "reasons": ["sample"]})
    assert d.unmet("record_performance_payment", {"fiscal_year": 2027}) == [
        "state",
        "period_scored",
    ]
    evaluator = {"expert_id": 1, "name": "专家1", "kind": "expert", "username": "expert1"}
    d.do("assign_evaluators", {"fiscal_year": 2027, "evaluators": [evaluator]})
    scores = {"decision": 17, "process": 17, "output": 26, "effect": 25}  # 85 → 良
    d.do("submit_key_evaluation", {"fiscal_year": 2027, "scores": scores, "report": "重点评价"})
    d.do("record_performance_payment", {"fiscal_year": 2027})
    cycle = d.state.cycle(2027)
    assert cycle is not None
    assert cycle.performance_payment is not None
    assert (cycle.performance_payment.score, cycle.performance_payment.amount) == (
        Decimal(85),
        Decimal("900000.00"),
    )


def test_a_key_evaluation_replaces_the_investment_fund_decision() -> None:
    """Reviewed 良 (continue, 80 % reward); key-evaluated 差 → cut, exit, no reward."""
    d = Driver(K.GOVERNMENT_INVESTMENT_FUND)
    d.fund(2027)
    d.at(2028, 3)
    d.evaluate(2027, "85")
    cycle = d.state.cycle(2027)
    assert cycle is not None
    assert cycle.fund_decision is not None
    assert (cycle.fund_decision.contribution, cycle.fund_decision.manager_reward) == (
        Contribution.CONTINUE,
        Decimal("1600000.00"),
    )
    assert not d.state.exit_proposed
    _key_evaluate(d, 2027, {"decision": 12, "process": 10, "output": 18, "effect": 10})  # 50
    assert (cycle.fund_decision.grade, cycle.fund_decision.contribution) == (
        Grade.POOR,
        Contribution.CUT,
    )
    assert cycle.fund_decision.manager_reward == 0
    assert d.state.exit_proposed


def test_only_kinds_paid_by_performance_record_payments() -> None:
    """An ordinary project has no contract table: the payment action is refused for it."""
    d = Driver(K.DEBT)
    d.fund(2027)
    d.at(2028, 3)
    d.evaluate(2027, "95")
    assert d.unmet("record_performance_payment", {"fiscal_year": 2027}) == ["pays_by_performance"]


def test_purchased_service_self_evaluation_names_evaluator_and_standard() -> None:
    """Without the third-party evaluator and standard it is refused; with them both are kept
    and marked for publication with the result."""
    d = Driver(K.PURCHASED_SERVICE)
    d.fund(2027)
    d.at(2028, 3)
    body = fk.self_evaluation(2027, GP, K.PURCHASED_SERVICE)
    assert d.unmet("submit_self_evaluation", body) == ["third_party_named"]
    assert d.unmet("submit_self_evaluation", {**body, "third_party_evaluator": "某评估公司"}) == [
        "third_party_named"
    ]
    d.do(
        "submit_self_evaluation",
        {**body, "third_party_evaluator": "某评估公司", "evaluation_standard": "服务合同考核细则"},
    )
    cycle = d.state.cycle(2027)
    assert cycle is not None
    assert cycle.self_evaluation is not None
    third = cycle.self_evaluation.third_party
    assert third is not None
    assert (third.evaluator, third.standard, third.publish) == (
        "某评估公司",
        "服务合同考核细则",
        True,
    )
    d.do("review_self_evaluation", fk.review(2027, "85"))
    d.do("record_performance_payment", {"fiscal_year": 2027})
    assert cycle.performance_payment is not None
    assert cycle.performance_payment.amount == Decimal("900000.00")


def test_procurement_records_savings_once_within_budget() -> None:
    """A contract above the budget is refused; the savings are recorded once, in the year."""
    d = Driver(K.PROCUREMENT)
    d.fund(2027)
    d.at(2027, 4)
    body = {"fiscal_year": 2027, "method": "public_tender", "supplier": "某公司"}
    assert d.unmet("record_procurement", {**body, "contract_amount": "1000000.01"}) == [
        "contract_within_budget"
    ]
    d.do("record_procurement", {**body, "contract_amount": "873450.50"})
    cycle = d.state.cycle(2027)
    assert cycle is not None
    record = cycle.procurement
    assert record is not None
    assert (record.budget, record.savings, record.savings_rate_pct) == (
        Decimal(1_000_000),
        Decimal("126549.50"),
        Decimal("12.65"),
    )
    assert d.unmet("record_procurement", {**body, "contract_amount": "1"}) == [
        "procurement_unrecorded"
    ]


def executing_procurement() -> Driver:
    """A procurement project whose 2027 budget is approved and executing (April 2027)."""
    d = Driver(K.PROCUREMENT)
    d.fund(2027)
    d.at(2027, 4)
    return d


def procured(d: Driver, method: str, **extra: str) -> ProcurementRecord:
    """Record 2027's contract (990,000 from 某专利权人) and return the year's record."""
    body = {"fiscal_year": 2027, "method": method, "supplier": "某专利权人",
            "contract_amount": "990000", **extra}  # fmt: skip
    d.do("record_procurement", body)
    cycle = d.state.cycle(2027)
    assert cycle is not None
    assert cycle.procurement is not None
    return cycle.procurement


def test_single_source_procurement_is_recorded_only_with_its_reason() -> None:
    """公平和效率: the one method without competition is admitted only with the reason it was
    chosen, which the record keeps beside the savings; a competitive method needs none."""
    d = executing_procurement()
    body = {"fiscal_year": 2027, "method": "single_source", "supplier": "某专利权人",
            "contract_amount": "990000"}  # fmt: skip

    def unmet(payload: dict[str, Any]) -> list[str]:
        rejection = d.lifecycle.evaluate(
            "record_procurement",
            PAYLOADS["record_procurement"].model_validate(payload),
            role=Role.DEPARTMENT,
            today=d.now.date(),
        )
        return [u.guard for u in rejection.unmet] if rejection else []

    assert unmet(body) == ["single_source_justified"]
    assert unmet({**body, "single_source_reason": "   "}) == ["single_source_justified"]
    assert unmet({**body, "method": "public_tender"}) == []
    reason = "只能从唯一供应商处采购（专利技术）"
    record = procured(d, "single_source", single_source_reason=f" {reason} ")
    assert not record.competitive
    assert record.single_source_reason == reason


def test_a_competitive_procurement_keeps_no_single_source_reason() -> None:
    record = procured(executing_procurement(), "inquiry", single_source_reason="不适用")
    assert record.competitive
    assert record.single_source_reason == ""


def test_a_recorded_single_source_procurement_without_reason_still_applies() -> None:
    """Replay: a history recorded before the guard applies as it was (`admission_only`)."""
    record = procured(executing_procurement(), "single_source")
    assert not record.competitive


def test_only_procurement_projects_record_contracts() -> None:
    d = Driver(K.PPP)
    d.fund(2027)
    d.at(2027, 4)
    body = {"fiscal_year": 2027, "method": "inquiry", "supplier": "某公司", "contract_amount": 1}
    assert d.unmet("record_procurement", body) == ["is_procurement"]


def test_investment_fund_poor_year_cuts_contribution_and_recommends_exit() -> None:
    """差: contribution cut by the poor-grade cut, exit recommended, no reward for the manager."""
    d = Driver(K.GOVERNMENT_INVESTMENT_FUND)
    d.fund(2027)
    d.at(2028, 3)
    d.evaluate(2027, "55")
    cycle = d.state.cycle(2027)
    assert cycle is not None
    decision = cycle.fund_decision
    assert decision is not None
    assert (decision.contribution, decision.cut_percent, decision.exit_recommended) == (
        Contribution.CUT,
        Decimal(50),
        True,
    )
    assert decision.manager_reward == 0
    assert d.state.exit_proposed
    review = next(e for e in d.state.history if e.action == "review_self_evaluation")
    assert review.detail["fund_decision"]["contribution"] == "cut"


def test_social_insurance_balance_below_three_months_warns_red() -> None:
    """A monitoring report whose balance-months indicator is below 3 raises a red warning."""
    d = Driver(K.POLICY, SI)
    d.fund(2027)
    d.at(2027, 5)
    d.do(
        "report_monitoring",
        {
            "fiscal_year": 2027,
            "period_end": "2027-04-30",
            "executed_amount": 400_000,  # on time: execution alone would not warn
            "progress": [{"code": "SI-BALANCE-MONTHS", "actual": "2.5"}],
        },
    )
    cycle = d.state.cycle(2027)
    assert cycle is not None
    assert cycle.warning is WarningLevel.RED
    assert any("累计结余可支付月数低于3个月" in r for r in cycle.monitoring[-1].reasons)
    assert cycle.warning_response_due is not None


def _debt_report(*progress: dict[str, str]) -> dict[str, Any]:
    return {
        "fiscal_year": 2027,
        "period_end": "2027-04-30",
        "executed_amount": 400_000,
        "progress": list(progress),
    }


@pytest.mark.parametrize(
    ("wrong", "right", "named"),
    [
        (
            {"code": "DEBT-HIDDEN", "actual": "0"},
            {"code": "DEBT-HIDDEN", "achievement": "achieved"},
            "DEBT-HIDDEN is qualitative",
        ),
        (
            {"code": "DEBT-USE", "achievement": "achieved"},
            {"code": "DEBT-USE", "actual": "95"},
            "DEBT-USE is quantitative",
        ),
    ],
)
def test_progress_in_the_wrong_measure_is_refused_when_reported(
    wrong: dict[str, str], right: dict[str, str], named: str
) -> None:
    """A number for a qualitative indicator, or an achievement for a quantitative one, is
    refused with the indicator named, and nothing is recorded; in its own measure it is not."""
    d = Driver(K.DEBT)
    d.fund(2027)
    d.at(2027, 5)
    before = d.state.model_dump()

    def judged(entry: dict[str, str]) -> Any:
        body = _debt_report({"code": "DEBT-REPAYMENT", "actual": "100"}, entry)
        return d.lifecycle.evaluate(
            "report_monitoring",
            PAYLOADS["report_monitoring"].model_validate(body),
            role=Role.DEPARTMENT,
            today=d.now.date(),
            actor=ACTORS[Role.DEPARTMENT],
        )

    rejection = judged(wrong)
    assert rejection is not None
    assert [u.guard for u in rejection.unmet] == ["progress_in_its_measure"]
    assert named in rejection.unmet[0].message
    assert rejection.unmet[0].message_zh == "定量指标填报实际值，定性指标填报达成情况"
    assert d.state.model_dump() == before
    assert judged(right) is None


def test_a_recorded_report_in_the_wrong_measure_still_applies() -> None:
    """Histories recorded before the check replay as they were: applying an admitted report
    does not judge its measures again (`Guard.admission_only`), nor does the machine."""
    d = Driver(K.DEBT)
    d.fund(2027)
    d.at(2027, 5)
    d.do("report_monitoring", _debt_report({"code": "DEBT-HIDDEN", "actual": "0"}))
    cycle = d.state.cycle(2027)
    assert cycle is not None
    assert len(cycle.monitoring) == 1
