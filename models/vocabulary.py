"""The closed vocabularies of the domain, each value with its Chinese name.

Enum values are the wire format of the API and of workflow state: never rename one.
"""

from __future__ import annotations

from enum import StrEnum


class Role(StrEnum):
    ADMIN = "admin"
    FINANCE = "finance"
    DEPARTMENT = "department"
    EVALUATOR = "evaluator"
    AUDITOR = "auditor"
    SYSTEM = "system"  # the workflow itself: timers, automatic result application


class ProjectKind(StrEnum):
    """What is funded; the special instruments have their own goals template and rules
    (`models.kinds`)."""

    PROJECT = "project"  # 项目
    POLICY = "policy"  # 政策
    GOVERNMENT_INVESTMENT_FUND = "government_investment_fund"  # 政府投资基金
    PPP = "ppp"  # 政府和社会资本合作
    PROCUREMENT = "procurement"  # 政府采购
    PURCHASED_SERVICE = "purchased_service"  # 政府购买服务
    DEBT = "debt"  # 政府债务项目


class BudgetType(StrEnum):
    GENERAL_PUBLIC = "general_public"  # 一般公共预算
    GOVERNMENT_FUND = "government_fund"  # 政府性基金预算
    STATE_CAPITAL = "state_capital"  # 国有资本经营预算
    SOCIAL_INSURANCE = "social_insurance"  # 社会保险基金预算


class Level1(StrEnum):
    OUTPUT = "output"  # 产出
    EFFECT = "effect"  # 效益
    SATISFACTION = "satisfaction"  # 满意度


class Level2(StrEnum):
    QUANTITY = "quantity"  # 数量
    QUALITY = "quality"  # 质量
    TIMELINESS = "timeliness"  # 时效
    COST = "cost"  # 成本
    ECONOMIC = "economic"  # 经济效益
    SOCIAL = "social"  # 社会效益
    ECOLOGICAL = "ecological"  # 生态效益
    SUSTAINABILITY = "sustainability"  # 可持续影响
    SATISFACTION = "satisfaction"  # 服务对象满意度


LEVEL2_UNDER: dict[Level1, frozenset[Level2]] = {
    Level1.OUTPUT: frozenset({Level2.QUANTITY, Level2.QUALITY, Level2.TIMELINESS, Level2.COST}),
    Level1.EFFECT: frozenset(
        {Level2.ECONOMIC, Level2.SOCIAL, Level2.ECOLOGICAL, Level2.SUSTAINABILITY}
    ),
    Level1.SATISFACTION: frozenset({Level2.SATISFACTION}),
}


class Operator(StrEnum):
    GE = ">="
    GT = ">"
    LE = "<="
    LT = "<"
    EQ = "="
    QUALITATIVE = "qualitative"


class Achievement(StrEnum):
    ACHIEVED = "achieved"  # 达成
    PARTLY = "partly"  # 部分达成
    NOT_ACHIEVED = "not_achieved"  # 未达成


ACHIEVEMENT_ZH: dict[Achievement, str] = {
    Achievement.ACHIEVED: "达成",
    Achievement.PARTLY: "部分达成",
    Achievement.NOT_ACHIEVED: "未达成",
}


class Grade(StrEnum):
    EXCELLENT = "excellent"  # 优
    GOOD = "good"  # 良
    FAIR = "fair"  # 中
    POOR = "poor"  # 差


GRADE_ZH: dict[Grade, str] = {
    Grade.EXCELLENT: "优",
    Grade.GOOD: "良",
    Grade.FAIR: "中",
    Grade.POOR: "差",
}


class WarningLevel(StrEnum):
    NONE = "none"
    YELLOW = "yellow"  # 黄色预警
    RED = "red"  # 红色预警


class WarningDecision(StrEnum):
    """A department's answer to a red warning (within 10 working days by default)."""

    CONTINUE = "continue"  # 继续实施
    REALLOCATE = "reallocate"  # 调整用途
    CANCEL = "cancel"  # 取消


class Assessor(StrEnum):
    SELF = "self"
    THIRD_PARTY = "third_party"


class AssessmentConclusion(StrEnum):
    SUPPORT = "support"  # 予以支持
    SUPPORT_AFTER_ADJUSTMENT = "support_after_adjustment"  # 调整后支持
    REJECT = "reject"  # 不予支持


class ExitReason(StrEnum):
    EXPIRED = "expired"
    LOW_PERFORMANCE = "low_performance"
    DUPLICATED = "duplicated"
    INEFFECTIVE = "ineffective"
    IDLE_FUNDS = "idle_funds"
    CANCELLED = "cancelled"


class ResultConsequence(StrEnum):
    """What result application (评价结果应用) decided for a graded year."""

    PRIORITY = "priority"  # 优先保障
    KEEP = "keep"  # 保持
    CUT_AND_RECTIFY = "cut_and_rectify"  # 压减并整改
    CUT_RECTIFY_AND_NOTIFY = "cut_rectify_and_notify"  # 压减、整改并公开通报


CONSEQUENCE_ZH: dict[ResultConsequence, str] = {
    ResultConsequence.PRIORITY: "优先保障",
    ResultConsequence.KEEP: "保持",
    ResultConsequence.CUT_AND_RECTIFY: "压减预算并整改",
    ResultConsequence.CUT_RECTIFY_AND_NOTIFY: "压减预算、整改并公开通报",
}
