"""The four budgets (四本预算) and the special instruments: each one's goals template and rules.

A project's lifecycle follows its kind's rules, and a kind's rules are data where they can be:

* `template_for(budget_type, kind)` — the indicators its goals must contain (by code, with
  their L1/L2 category), merged from the budget type's part and the kind's part. The general
  budget's ordinary projects and policies require nothing beyond the common rules.
* `PaymentTable` — a PPP contract's (or a purchased service's) score → payment mapping, given at
  filing: the operating subsidy or service fee of a period is paid by performance score.
* `KindRules` (in `Rules`, so configurable and carried by each workflow) — monitoring
  thresholds on template indicators (a social insurance fund's balance-months, a government
  fund's collection and use, state capital's profit remittance, a debt project's repayment
  coverage), and the investment fund table: grade → contribution, exit, manager reward.

Pure functions only; the guards and effects of the lifecycle call them.
"""

from __future__ import annotations

from collections.abc import Iterable, Mapping, Sequence
from decimal import ROUND_HALF_UP, Decimal
from enum import StrEnum
from typing import Annotated, Self

from pydantic import BaseModel, ConfigDict, Field, model_validator

from models.indicators import Code, Indicator
from models.vocabulary import (
    ACHIEVEMENT_ZH,
    Achievement,
    BudgetType,
    Grade,
    Level1,
    Level2,
    ProjectKind,
    WarningLevel,
)

CENT = Decimal("0.01")
Points = Annotated[Decimal, Field(ge=0, le=100, decimal_places=2)]
Percent = Annotated[Decimal, Field(ge=0, le=100, decimal_places=2)]

BUDGET_TYPE_ZH: dict[BudgetType, str] = {
    BudgetType.GENERAL_PUBLIC: "一般公共预算",
    BudgetType.GOVERNMENT_FUND: "政府性基金预算",
    BudgetType.STATE_CAPITAL: "国有资本经营预算",
    BudgetType.SOCIAL_INSURANCE: "社会保险基金预算",
}

KIND_ZH: dict[ProjectKind, str] = {
    ProjectKind.PROJECT: "项目",
    ProjectKind.POLICY: "政策",
    ProjectKind.GOVERNMENT_INVESTMENT_FUND: "政府投资基金",
    ProjectKind.PPP: "政府和社会资本合作（PPP）项目",
    ProjectKind.PROCUREMENT: "政府采购项目",
    ProjectKind.PURCHASED_SERVICE: "政府购买服务项目",
    ProjectKind.DEBT: "政府债务项目",
}

# Kinds whose money is paid by performance score through a table fixed in the contract.
PAYS_BY_PERFORMANCE = frozenset({ProjectKind.PPP, ProjectKind.PURCHASED_SERVICE})


# --------------------------------------------------------------------------- goals templates


class TemplateIndicator(BaseModel):
    """An indicator a template requires: the goals must carry one with this code and category."""

    model_config = ConfigDict(frozen=True, extra="forbid")

    code: Code
    level1: Level1
    level2: Level2
    name_zh: str
    name: str
    quantitative: bool
    unit: str = ""


class TemplatePart(BaseModel):
    model_config = ConfigDict(frozen=True, extra="forbid")

    label_zh: str
    emphasis_zh: tuple[str, ...] = ()
    required: tuple[TemplateIndicator, ...] = ()


class GoalsTemplate(BaseModel):
    """What goals of one budget type and kind must contain (the union of both parts)."""

    model_config = ConfigDict(frozen=True, extra="forbid")

    budget_type: BudgetType
    budget_type_zh: str
    kind: ProjectKind
    kind_zh: str
    emphasis_zh: tuple[str, ...]
    required: tuple[TemplateIndicator, ...]
    # Filing fields this kind needs besides the common ones (see `ProjectFiling`).
    filing_fields: tuple[str, ...]
    # Actions this kind has besides the common lifecycle.
    actions: tuple[str, ...]
    # Whether the self-evaluation must name the third-party evaluator and standard (published).
    third_party_evaluation: bool


def _ind(
    code: str,
    level1: Level1,
    level2: Level2,
    name_zh: str,
    name: str,
    *,
    unit: str = "",
    quantitative: bool = True,
) -> TemplateIndicator:
    return TemplateIndicator(
        code=code,
        level1=level1,
        level2=level2,
        name_zh=name_zh,
        name=name,
        quantitative=quantitative,
        unit=unit,
    )


_O, _E, _S = Level1.OUTPUT, Level1.EFFECT, Level1.SATISFACTION

BUDGET_TYPE_PARTS: dict[BudgetType, TemplatePart] = {
    BudgetType.GENERAL_PUBLIC: TemplatePart(label_zh="一般公共预算"),
    BudgetType.GOVERNMENT_FUND: TemplatePart(
        label_zh="政府性基金预算",
        emphasis_zh=("基金政策设立依据", "征收标准", "使用效果"),
        required=(
            _ind(
                "GF-BASIS",
                _O,
                Level2.QUALITY,
                "基金设立政策依据合规性",
                "fund policy basis",
                quantitative=False,
            ),
            _ind(
                "GF-COLLECTION",
                _O,
                Level2.QUALITY,
                "按规定标准征收率",
                "collection at the set standards",
                unit="%",
            ),
            _ind(
                "GF-USE", _E, Level2.ECONOMIC, "基金按规定用途使用率", "use of the fund", unit="%"
            ),
        ),
    ),
    BudgetType.STATE_CAPITAL: TemplatePart(
        label_zh="国有资本经营预算",
        emphasis_zh=("收益上缴", "支出结构"),
        required=(
            _ind(
                "SC-REMITTANCE",
                _O,
                Level2.QUANTITY,
                "国有资本收益（利润）上缴率",
                "profit remittance",
                unit="%",
            ),
            _ind(
                "SC-STRUCTURE",
                _E,
                Level2.ECONOMIC,
                "支出结构（资本金注入等重点支出占比）",
                "spending structure",
                unit="%",
            ),
        ),
    ),
    BudgetType.SOCIAL_INSURANCE: TemplatePart(
        label_zh="社会保险基金预算",
        emphasis_zh=("精算平衡", "风险预警"),
        required=(
            _ind(
                "SI-ACTUARIAL",
                _E,
                Level2.SUSTAINABILITY,
                "基金收支比（当期收入/当期支出）",
                "actuarial balance: income over expenditure",
                unit="%",
            ),
            _ind(
                "SI-BALANCE-MONTHS",
                _E,
                Level2.SUSTAINABILITY,
                "累计结余可支付月数",
                "months of payments the balance covers",
                unit="月",
            ),
        ),
    ),
}

KIND_PARTS: dict[ProjectKind, TemplatePart] = {
    ProjectKind.PROJECT: TemplatePart(label_zh="项目"),
    ProjectKind.POLICY: TemplatePart(label_zh="政策"),
    ProjectKind.GOVERNMENT_INVESTMENT_FUND: TemplatePart(
        label_zh="政府投资基金",
        emphasis_zh=("政策目标", "投资运营", "结果决定出资、退出和管理人年度奖励"),
        required=(
            _ind(
                "IF-POLICY",
                _E,
                Level2.ECONOMIC,
                "政策目标实现程度",
                "policy goals achieved",
                quantitative=False,
            ),
            _ind(
                "IF-OPERATION",
                _O,
                Level2.QUANTITY,
                "实缴资金投资进度",
                "investment operation: paid-in capital invested",
                unit="%",
            ),
        ),
    ),
    ProjectKind.PPP: TemplatePart(
        label_zh="PPP项目",
        emphasis_zh=("运营绩效", "按绩效付费（合同约定评分-付费对应表）"),
        required=(
            _ind(
                "PPP-OPERATION",
                _O,
                Level2.QUALITY,
                "运营绩效考核得分",
                "operating performance score",
                unit="分",
            ),
        ),
    ),
    ProjectKind.PROCUREMENT: TemplatePart(
        label_zh="政府采购",
        emphasis_zh=("采购预算与执行", "公平竞争", "资金节约"),
        required=(
            _ind(
                "PR-EXECUTION",
                _O,
                Level2.COST,
                "采购预算执行率",
                "procurement budget executed",
                unit="%",
            ),
            _ind("PR-SAVINGS", _E, Level2.ECONOMIC, "采购资金节约率", "savings rate", unit="%"),
        ),
    ),
    ProjectKind.PURCHASED_SERVICE: TemplatePart(
        label_zh="政府购买服务",
        emphasis_zh=("第三方评价", "按绩效付费", "公开评价机构、评价标准和评价结果"),
        required=(
            _ind("PS-QUALITY", _O, Level2.QUALITY, "服务质量达标率", "service quality", unit="%"),
            _ind(
                "PS-SATISFACTION",
                _S,
                Level2.SATISFACTION,
                "服务对象满意度",
                "satisfaction of those served",
                unit="%",
            ),
        ),
    ),
    ProjectKind.DEBT: TemplatePart(
        label_zh="政府债务项目",
        emphasis_zh=("债券资金使用", "偿债能力", "隐性债务风险"),
        required=(
            _ind(
                "DEBT-USE",
                _O,
                Level2.TIMELINESS,
                "债券资金支出进度",
                "use of bond money",
                unit="%",
            ),
            _ind(
                "DEBT-REPAYMENT",
                _E,
                Level2.SUSTAINABILITY,
                "项目收益对债券本息覆盖倍数",
                "repayment capacity: revenue over principal and interest",
                unit="倍",
            ),
            _ind(
                "DEBT-HIDDEN",
                _E,
                Level2.SUSTAINABILITY,
                "未新增隐性债务",
                "no new hidden debt",
                quantitative=False,
            ),
        ),
    ),
}

KIND_FILING_FIELDS: dict[ProjectKind, tuple[str, ...]] = {
    ProjectKind.PPP: ("payment_table",),
    ProjectKind.PURCHASED_SERVICE: ("payment_table",),
    ProjectKind.GOVERNMENT_INVESTMENT_FUND: ("management_fee",),
}

KIND_ACTIONS: dict[ProjectKind, tuple[str, ...]] = {
    ProjectKind.PPP: ("record_performance_payment",),
    ProjectKind.PURCHASED_SERVICE: ("record_performance_payment",),
    ProjectKind.PROCUREMENT: ("record_procurement",),
}


def template_for(budget_type: BudgetType, kind: ProjectKind) -> GoalsTemplate:
    budget, special = BUDGET_TYPE_PARTS[budget_type], KIND_PARTS[kind]
    return GoalsTemplate(
        budget_type=budget_type,
        budget_type_zh=BUDGET_TYPE_ZH[budget_type],
        kind=kind,
        kind_zh=KIND_ZH[kind],
        emphasis_zh=budget.emphasis_zh + special.emphasis_zh,
        required=budget.required + special.required,
        filing_fields=KIND_FILING_FIELDS.get(kind, ()),
        actions=KIND_ACTIONS.get(kind, ()),
        third_party_evaluation=kind is ProjectKind.PURCHASED_SERVICE,
    )


def all_templates() -> list[GoalsTemplate]:
    return [template_for(b, k) for b in BudgetType for k in ProjectKind]


def template_problems(template: GoalsTemplate, indicators: Sequence[Indicator]) -> list[str]:
    """Why `indicators` do not follow `template` (empty when they do)."""
    by_code = {i.code: i for i in indicators}
    where = f"{template.budget_type_zh}·{template.kind_zh}"
    problems: list[str] = []
    for need in template.required:
        given = by_code.get(need.code)
        if given is None:
            problems.append(f"the {where} template requires indicator {need.code} ({need.name_zh})")
            continue
        if (given.level1, given.level2) != (need.level1, need.level2):
            problems.append(
                f"indicator {need.code} belongs under {need.level1.value}/{need.level2.value}, "
                f"not {given.level1.value}/{given.level2.value}"
            )
        if given.quantitative != need.quantitative:
            wanted = "quantitative (定量)" if need.quantitative else "qualitative (定性)"
            problems.append(f"indicator {need.code} ({need.name_zh}) must be {wanted}")
    return problems


# --------------------------------------------------------------------------- pay by performance


class PaymentBand(BaseModel):
    """Scores from `low` (inclusive) to `high` (exclusive; the top band includes 100) pay
    `payment_pct` percent of the period's amount."""

    model_config = ConfigDict(frozen=True, extra="forbid")

    low: Points
    high: Points
    payment_pct: Percent

    def holds(self, score: Decimal) -> bool:
        return self.low <= score < self.high or (self.high == 100 and score == 100)


class PaymentTable(BaseModel):
    """A contract's score → payment table: bands in order, covering 0–100 without gap or
    overlap, paying no less for a higher score."""

    model_config = ConfigDict(frozen=True, extra="forbid")

    bands: Annotated[list[PaymentBand], Field(min_length=1, max_length=20)]

    @model_validator(mode="after")
    def _covers_0_to_100_monotone(self) -> Self:
        bands = self.bands
        problems: list[str] = []
        if bands[0].low != 0:
            problems.append(f"the first band must start at 0, not {bands[0].low}")
        if bands[-1].high != 100:
            problems.append(f"the last band must end at 100, not {bands[-1].high}")
        for i, band in enumerate(bands):
            if band.low >= band.high:
                problems.append(f"band {i}: low {band.low} must be below high {band.high}")
        for i in range(1, len(bands)):
            before, band = bands[i - 1], bands[i]
            if band.low != before.high:
                problems.append(
                    f"band {i} must start where band {i - 1} ends ({before.high}), not {band.low}"
                )
            if band.payment_pct < before.payment_pct:
                problems.append(
                    f"band {i} pays {band.payment_pct} %, less than band {i - 1} "
                    f"({before.payment_pct} %): a higher score may not pay less"
                )
        if problems:
            raise ValueError("; ".join(problems))
        return self

    def band_for(self, score: Decimal) -> PaymentBand:
        for band in self.bands:
            if band.holds(score):
                return band
        raise ValueError(f"score {score} is outside 0–100")


class Payment(BaseModel):
    score: Decimal
    band: PaymentBand
    base_amount: Decimal
    amount: Decimal
    withheld: Decimal


def performance_payment(table: PaymentTable, score: Decimal, base_amount: Decimal) -> Payment:
    """The period's payment: the base amount times the band's percentage, rounded half-up."""
    band = table.band_for(score)
    amount = (base_amount * band.payment_pct / 100).quantize(CENT, rounding=ROUND_HALF_UP)
    return Payment(
        score=score,
        band=band,
        base_amount=base_amount,
        amount=amount,
        withheld=base_amount - amount,
    )


# --------------------------------------------------------------------------- procurement


class ProcurementMethod(StrEnum):
    PUBLIC_TENDER = "public_tender"  # 公开招标
    INVITED_TENDER = "invited_tender"  # 邀请招标
    COMPETITIVE_NEGOTIATION = "competitive_negotiation"  # 竞争性谈判
    COMPETITIVE_CONSULTATION = "competitive_consultation"  # 竞争性磋商
    INQUIRY = "inquiry"  # 询价
    SINGLE_SOURCE = "single_source"  # 单一来源

    @property
    def competitive(self) -> bool:
        """Whether suppliers compete (公平竞争): every method but single-source."""
        return self is not ProcurementMethod.SINGLE_SOURCE


class Savings(BaseModel):
    budget: Decimal
    contract_amount: Decimal
    savings: Decimal
    savings_rate_pct: Decimal


def procurement_savings(budget: Decimal, contract_amount: Decimal) -> Savings:
    """节约资金 = 采购预算 − 合同金额; the rate is of the budget, in percent to 2 places."""
    savings = budget - contract_amount
    rate = (savings * 100 / budget).quantize(CENT, rounding=ROUND_HALF_UP)
    return Savings(
        budget=budget, contract_amount=contract_amount, savings=savings, savings_rate_pct=rate
    )


# --------------------------------------------------------------------------- rules as data


class _KindScopedWarning(BaseModel):
    """A monitoring rule on a template indicator, for one budget type or kind (or any)."""

    model_config = ConfigDict(frozen=True, extra="forbid")

    budget_type: BudgetType | None = None  # None: any
    kind: ProjectKind | None = None  # None: any
    code: Code
    level: WarningLevel
    reason_zh: str

    def applies_to(self, budget_type: BudgetType, kind: ProjectKind) -> bool:
        return (self.budget_type in (None, budget_type)) and (self.kind in (None, kind))


class ThresholdWarning(_KindScopedWarning):
    """Numeric progress below `below` warns at `level`."""

    below: Decimal


class QualitativeWarning(_KindScopedWarning):
    """A qualitative indicator reported as `when` (达成 / 部分达成 / 未达成) warns at `level`."""

    when: Achievement


class Contribution(StrEnum):
    CONTINUE = "continue"  # 继续出资
    CUT = "cut"  # 减少出资


class FundRule(BaseModel):
    """What a grade means for a government investment fund."""

    model_config = ConfigDict(frozen=True, extra="forbid")

    contribution: Contribution
    exit: bool  # recommend the government's exit (退出)
    manager_reward_pct: Percent  # of the yearly management fee paid as the manager's reward


# Defaults (configurable; no published numbers): months of payments a social insurance fund's
# balance should cover, a government fund's collection and use rates, the share of state
# capital profit remitted, and the coverage of a special bond's principal and interest.
DEFAULT_THRESHOLDS: tuple[ThresholdWarning, ...] = (
    ThresholdWarning(
        budget_type=BudgetType.SOCIAL_INSURANCE,
        code="SI-BALANCE-MONTHS",
        below=Decimal(6),
        level=WarningLevel.YELLOW,
        reason_zh="累计结余可支付月数低于6个月",
    ),
    ThresholdWarning(
        budget_type=BudgetType.SOCIAL_INSURANCE,
        code="SI-BALANCE-MONTHS",
        below=Decimal(3),
        level=WarningLevel.RED,
        reason_zh="累计结余可支付月数低于3个月，基金支付风险",
    ),
    ThresholdWarning(
        budget_type=BudgetType.SOCIAL_INSURANCE,
        code="SI-ACTUARIAL",
        below=Decimal(100),
        level=WarningLevel.YELLOW,
        reason_zh="基金当期收不抵支",
    ),
    # Government funds: collected at the set standards, spent on their statutory use.
    ThresholdWarning(
        budget_type=BudgetType.GOVERNMENT_FUND,
        code="GF-COLLECTION",
        below=Decimal(95),
        level=WarningLevel.YELLOW,
        reason_zh="未按规定标准足额征收（征收率低于95%）",
    ),
    ThresholdWarning(
        budget_type=BudgetType.GOVERNMENT_FUND,
        code="GF-USE",
        below=Decimal(90),
        level=WarningLevel.YELLOW,
        reason_zh="基金按规定用途使用率低于90%",
    ),
    ThresholdWarning(
        budget_type=BudgetType.GOVERNMENT_FUND,
        code="GF-USE",
        below=Decimal(70),
        level=WarningLevel.RED,
        reason_zh="基金按规定用途使用率低于70%，存在挪用风险",
    ),
    # State capital: the profit due is remitted in full.
    ThresholdWarning(
        budget_type=BudgetType.STATE_CAPITAL,
        code="SC-REMITTANCE",
        below=Decimal(100),
        level=WarningLevel.YELLOW,
        reason_zh="国有资本收益未足额上缴",
    ),
    ThresholdWarning(
        budget_type=BudgetType.STATE_CAPITAL,
        code="SC-REMITTANCE",
        below=Decimal(80),
        level=WarningLevel.RED,
        reason_zh="国有资本收益上缴率低于80%",
    ),
    ThresholdWarning(
        kind=ProjectKind.DEBT,
        code="DEBT-REPAYMENT",
        below=Decimal("1.1"),
        level=WarningLevel.YELLOW,
        reason_zh="项目收益对债券本息覆盖倍数低于1.1",
    ),
    ThresholdWarning(
        kind=ProjectKind.DEBT,
        code="DEBT-REPAYMENT",
        below=Decimal(1),
        level=WarningLevel.RED,
        reason_zh="项目收益不足以偿还债券本息，存在偿债风险",
    ),
)

# 严控地方政府隐性债务: a debt project reporting new hidden debt is a red warning at once (finance
# is told and must have an answer); "partly" (a risk not yet ruled out) is a yellow one.
DEFAULT_QUALITATIVE: tuple[QualitativeWarning, ...] = (
    QualitativeWarning(
        kind=ProjectKind.DEBT,
        code="DEBT-HIDDEN",
        when=Achievement.NOT_ACHIEVED,
        level=WarningLevel.RED,
        reason_zh="新增地方政府隐性债务，存在违规举债风险",
    ),
    QualitativeWarning(
        kind=ProjectKind.DEBT,
        code="DEBT-HIDDEN",
        when=Achievement.PARTLY,
        level=WarningLevel.YELLOW,
        reason_zh="隐性债务风险尚未排除",
    ),
)

DEFAULT_FUND_RULES: dict[Grade, FundRule] = {
    Grade.EXCELLENT: FundRule(
        contribution=Contribution.CONTINUE, exit=False, manager_reward_pct=Decimal(100)
    ),
    Grade.GOOD: FundRule(
        contribution=Contribution.CONTINUE, exit=False, manager_reward_pct=Decimal(80)
    ),
    Grade.FAIR: FundRule(contribution=Contribution.CUT, exit=False, manager_reward_pct=Decimal(50)),
    Grade.POOR: FundRule(contribution=Contribution.CUT, exit=True, manager_reward_pct=Decimal(0)),
}


class KindRules(BaseModel):
    model_config = ConfigDict(frozen=True, extra="forbid")

    thresholds: tuple[ThresholdWarning, ...] = DEFAULT_THRESHOLDS
    qualitative: tuple[QualitativeWarning, ...] = DEFAULT_QUALITATIVE
    fund: dict[Grade, FundRule] = Field(default_factory=lambda: dict(DEFAULT_FUND_RULES))

    @model_validator(mode="after")
    def _every_grade(self) -> Self:
        missing = [g.value for g in Grade if g not in self.fund]
        if missing:
            raise ValueError(f"the fund table needs a rule for every grade; missing {missing}")
        return self


_ORDER = (WarningLevel.NONE, WarningLevel.YELLOW, WarningLevel.RED)


def threshold_warnings(
    budget_type: BudgetType,
    kind: ProjectKind,
    progress: Iterable[tuple[str, Decimal]],
    rules: KindRules,
    achievements: Mapping[str, Achievement] | None = None,
) -> tuple[WarningLevel, list[str]]:
    """The highest warning the kind's rules raise on reported progress, and why: numeric
    progress against the thresholds, qualitative progress (`achievements`) against theirs."""
    actual = dict(progress)
    level, reasons = WarningLevel.NONE, []
    for rule in rules.thresholds:
        value = actual.get(rule.code)
        if value is None or not rule.applies_to(budget_type, kind) or value >= rule.below:
            continue
        reasons.append(f"{rule.reason_zh}（{rule.code} = {value}）")
        level = max(level, rule.level, key=_ORDER.index)
    said_of = achievements or {}
    for q in rules.qualitative:
        said = said_of.get(q.code)
        if said is not q.when or not q.applies_to(budget_type, kind):
            continue
        reasons.append(f"{q.reason_zh}（{q.code}：{ACHIEVEMENT_ZH[said]}）")
        level = max(level, q.level, key=_ORDER.index)
    return level, reasons


class FundDecision(BaseModel):
    """The recorded consequence of a government investment fund's graded year."""

    grade: Grade
    contribution: Contribution
    cut_percent: Decimal
    exit_recommended: bool
    manager_reward_pct: Decimal
    management_fee: Decimal
    manager_reward: Decimal


def fund_decision(
    grade: Grade, cut_percent: Decimal, management_fee: Decimal, rules: KindRules
) -> FundDecision:
    rule = rules.fund[grade]
    reward = (management_fee * rule.manager_reward_pct / 100).quantize(CENT, rounding=ROUND_HALF_UP)
    return FundDecision(
        grade=grade,
        contribution=rule.contribution,
        cut_percent=cut_percent if rule.contribution is Contribution.CUT else Decimal(0),
        exit_recommended=rule.exit,
        manager_reward_pct=rule.manager_reward_pct,
        management_fee=management_fee,
        manager_reward=reward,
    )
