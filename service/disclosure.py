"""Performance information made public (绩效信息公开): what the public may read, and only that.

What must be disclosed (DOMAIN.md, the source's (十九) and (十)):
- the approved goals of major projects, with their approved budget — public with the budget;
- self-evaluation reports, finance's evaluation results (its review, or a key evaluation
  whose grade replaces the review's) and how they were applied, and the public notice of a
  fair or poor (中/差) result — public once the zone's fiscal year has published that year
  (`DisclosureRelease`), and only when the year's result is settled;
- for a purchased service (政府购买服务), its third-party evaluation: the evaluating
  institution, the evaluation standard and the result (及时充分地将评价机构、评价标准、评价结果
  等向社会公开) — public with the year's evaluations, unless the evaluation was recorded as not
  for publication.

Every field a disclosure carries is listed in the models below (a whitelist): no user names,
no owners' or heads' names, no free-text comments (they may name people), no drafts (goals
not yet approved with a budget, self-evaluations not yet reviewed, key evaluations under way),
no key evaluation's experts' names and no report text. The one name published is a purchased
service's evaluating institution: an institution, not a person.
"""

from __future__ import annotations

from datetime import datetime
from decimal import Decimal
from enum import StrEnum

from pydantic import BaseModel
from sqlalchemy import select
from sqlmodel import Session, col

from models.disclosure_tables import DisclosureRelease
from models.lifecycle import CYCLE_STATES
from models.project_state import Cycle, ProjectState
from models.tables import CycleRow, Department, ProjectRow
from models.vocabulary import CONSEQUENCE_ZH, GRADE_ZH, Grade, ResultConsequence
from service.amounts import Amount


class DisclosureKind(StrEnum):
    GOALS = "goals"  # 重点项目绩效目标（随预算公开）
    SELF_EVALUATION = "self_evaluation"  # 绩效自评报告
    FINANCE_EVALUATION = "finance_evaluation"  # 财政评价结果及应用情况
    NOTICE = "notice"  # 评价结果为中、差的公开通报
    PURCHASED_SERVICE = "purchased_service"  # 政府购买服务第三方评价（评价机构、标准、结果）


KIND_ZH: dict[DisclosureKind, str] = {
    DisclosureKind.GOALS: "重点项目绩效目标",
    DisclosureKind.SELF_EVALUATION: "绩效自评报告",
    DisclosureKind.FINANCE_EVALUATION: "财政评价结果及应用",
    DisclosureKind.NOTICE: "评价结果公开通报",
    DisclosureKind.PURCHASED_SERVICE: "政府购买服务绩效评价",
}

# A year's budget is approved from here on (every later cycle state): its goals are approved
# and public with it.
BUDGETED = frozenset(CYCLE_STATES[CYCLE_STATES.index("budget_approved") :])
# The year's result is settled: finance reviewed the self-evaluation or a key evaluation was
# submitted (not while a key evaluation is under way: its grade would replace the review's).
SETTLED = frozenset({"rectifying", "rectification_submitted", "results_applied"})
NOTIFIED_GRADES = frozenset({Grade.FAIR, Grade.POOR})


class PublicIndicator(BaseModel):
    code: str
    level1: str
    level2: str
    name: str
    operator: str
    target: str | None
    unit: str
    weight: Amount


class PublicSelfEvaluation(BaseModel):
    score: Amount
    grade: str
    grade_zh: str
    approved_amount: Amount | None
    executed_amount: Amount
    parts: dict[str, Amount]  # budget execution, output, effect, satisfaction
    indicators: list[dict[str, Amount | str]]  # code, score, max


class PublicFinanceEvaluation(BaseModel):
    method: str  # review (财政审核自评) or key_evaluation (财政重点评价)
    method_zh: str
    review_grade: str | None  # the review's grade, which a key evaluation's replaces
    key_scores: dict[str, Amount] | None  # decision, process, output, effect
    score: Amount
    grade: str
    grade_zh: str
    consequence: str
    consequence_zh: str
    cut_percent: Amount
    cut_applies_to: int | None
    rectification: str | None  # ordered / submitted / accepted; None: none ordered


class PublicPurchasedServiceEvaluation(BaseModel):
    """Who evaluated the service (an institution), by which standard, with which result."""

    evaluator: str  # the third-party institution (评价机构)
    standard: str  # 评价标准
    score: Amount  # the third party's evaluation (the year's self-evaluation report)
    grade: str
    grade_zh: str


class Disclosure(BaseModel):
    kind: DisclosureKind
    kind_zh: str
    fiscal_year: int
    project_code: str
    project_name: str
    department: str
    department_name: str
    budget_type: str
    major: bool
    published_at: datetime
    approved_amount: Amount | None = None
    goals: list[PublicIndicator] | None = None
    self_evaluation: PublicSelfEvaluation | None = None
    finance_evaluation: PublicFinanceEvaluation | None = None
    notice: str | None = None
    purchased_service: PublicPurchasedServiceEvaluation | None = None


class DisclosurePage(BaseModel):
    items: list[Disclosure]
    total: int
    page: int
    page_size: int


def release_year(*, session: Session, fiscal_year: int, at: datetime) -> None:
    """Publish a year's evaluations (idempotent: the first release's time stands)."""
    if session.get(DisclosureRelease, fiscal_year) is None:
        session.add(DisclosureRelease(fiscal_year=fiscal_year, released_at=at))
        session.commit()


def disclosures_of(
    project: ProjectState,
    cycle: Cycle,
    *,
    department_name: str,
    released_at: datetime | None,
) -> list[Disclosure]:
    """What may be disclosed of one year of one project (pure; `released_at`: when the year's
    evaluations were published, None if not yet)."""
    info = project.info
    base = {
        "fiscal_year": cycle.fiscal_year,
        "project_code": info.code,
        "project_name": info.name,
        "department": info.department,
        "department_name": department_name,
        "budget_type": info.budget_type.value,
        "major": info.major,
    }
    found: list[Disclosure] = []
    budgeted_at = cycle.entered.get("budget_approved")
    if info.major and cycle.state in BUDGETED and budgeted_at is not None:
        found.append(
            Disclosure(
                kind=DisclosureKind.GOALS,
                kind_zh=KIND_ZH[DisclosureKind.GOALS],
                published_at=budgeted_at,
                approved_amount=cycle.approved_amount,
                goals=[_indicator(i.model_dump(mode="json")) for i in cycle.indicators],
                **base,
            )
        )
    review, key, evaluation = cycle.review, cycle.key_result, cycle.self_evaluation
    result = _applied_result(cycle)
    if released_at is None or result is None or cycle.state not in SETTLED:
        return found
    if evaluation is not None:
        report = evaluation.report
        found.append(
            Disclosure(
                kind=DisclosureKind.SELF_EVALUATION,
                kind_zh=KIND_ZH[DisclosureKind.SELF_EVALUATION],
                published_at=released_at,
                approved_amount=cycle.approved_amount,
                self_evaluation=PublicSelfEvaluation(
                    score=report.total,
                    grade=report.grade.value,
                    grade_zh=GRADE_ZH[report.grade],
                    approved_amount=cycle.approved_amount,
                    executed_amount=evaluation.executed_amount,
                    parts=report.parts.model_dump(),
                    indicators=[
                        {"code": s.code, "score": s.score, "max": s.max} for s in report.indicators
                    ],
                ),
                **base,
            )
        )
        third = evaluation.third_party
        if third is not None and third.publish:
            found.append(
                Disclosure(
                    kind=DisclosureKind.PURCHASED_SERVICE,
                    kind_zh=KIND_ZH[DisclosureKind.PURCHASED_SERVICE],
                    published_at=released_at,
                    purchased_service=PublicPurchasedServiceEvaluation(
                        evaluator=third.evaluator,
                        standard=third.standard,
                        score=report.total,
                        grade=report.grade.value,
                        grade_zh=GRADE_ZH[report.grade],
                    ),
                    **base,
                )
            )
    rectification = cycle.rectification
    score, grade, consequence, cut_percent, cut_applies_to = result
    found.append(
        Disclosure(
            kind=DisclosureKind.FINANCE_EVALUATION,
            kind_zh=KIND_ZH[DisclosureKind.FINANCE_EVALUATION],
            published_at=released_at,
            approved_amount=cycle.approved_amount,
            finance_evaluation=PublicFinanceEvaluation(
                method="key_evaluation" if key is not None else "review",
                method_zh="财政重点评价" if key is not None else "财政审核自评",
                review_grade=review.grade.value if review is not None else None,
                key_scores=key.scores.model_dump() if key is not None and key.scores else None,
                score=score,
                grade=grade.value,
                grade_zh=GRADE_ZH[grade],
                consequence=consequence.value,
                consequence_zh=CONSEQUENCE_ZH[consequence],
                cut_percent=cut_percent,
                cut_applies_to=cut_applies_to,
                rectification=None
                if rectification is None
                else "accepted"
                if rectification.accepted_at is not None
                else "submitted"
                if rectification.submitted_at is not None
                else "ordered",
            ),
            **base,
        )
    )
    if grade in NOTIFIED_GRADES:
        cut = f"，{cut_applies_to}年度预算压减{cut_percent}%" if cut_percent else ""
        found.append(
            Disclosure(
                kind=DisclosureKind.NOTICE,
                kind_zh=KIND_ZH[DisclosureKind.NOTICE],
                published_at=released_at,
                notice=(
                    f"{department_name}“{info.name}”{cycle.fiscal_year}年度绩效评价结果为"
                    f"“{GRADE_ZH[grade]}”，予以通报，责令整改{cut}。"
                ),
                **base,
            )
        )
    return found


def _applied_result(
    cycle: Cycle,
) -> tuple[Decimal, Grade, ResultConsequence, Decimal, int | None] | None:
    """The result applied to the year: a submitted key evaluation's, else finance's review."""
    key = cycle.key_result
    if key is not None and key.total is not None and key.grade and key.consequence:
        return key.total, key.grade, key.consequence, key.cut_percent, key.cut_applies_to
    review = cycle.review
    if review is None:
        return None
    return (
        review.final_score,
        review.grade,
        review.consequence,
        review.cut_percent,
        review.cut_applies_to,
    )


def _indicator(data: dict[str, object]) -> PublicIndicator:
    target = data.get("target")
    return PublicIndicator(
        code=str(data["code"]),
        level1=str(data["level1"]),
        level2=str(data["level2"]),
        name=str(data["name"]),
        operator=str(data["operator"]),
        target=None if target is None else str(target),
        unit=str(data.get("unit", "")),
        weight=Decimal(str(data["weight"])),
    )


def list_disclosures(
    *,
    session: Session,
    year: int | None = None,
    department: str | None = None,
    kind: DisclosureKind | None = None,
    project: str | None = None,
    page: int = 1,
    page_size: int = 50,
) -> DisclosurePage:
    """Disclosures, newest year first, then by project and kind."""
    released = {
        r.fiscal_year: r.released_at for r in session.execute(select(DisclosureRelease)).scalars()
    }
    query = (
        select(ProjectRow, CycleRow)
        .join(CycleRow, col(CycleRow.code) == col(ProjectRow.code))
        .where(col(CycleRow.state).in_(sorted(BUDGETED)))
    )
    if kind is DisclosureKind.GOALS:
        query = query.where(col(ProjectRow.major))
    elif kind is not None:
        query = query.where(
            col(CycleRow.state).in_(sorted(SETTLED)),
            col(CycleRow.fiscal_year).in_(sorted(released)),
        )
    if year is not None:
        query = query.where(col(CycleRow.fiscal_year) == year)
    if department is not None:
        query = query.where(col(ProjectRow.department) == department)
    if project is not None:
        query = query.where(col(ProjectRow.code) == project)
    query = query.order_by(col(CycleRow.fiscal_year).desc(), col(ProjectRow.code))
    names = {d.code: d.name for d in session.execute(select(Department)).scalars()}
    items: list[Disclosure] = []
    for row, cycle_row in session.execute(query):
        state = ProjectState.model_validate(row.snapshot)
        cycle = state.cycle(cycle_row.fiscal_year)
        if cycle is None:
            continue
        found = disclosures_of(
            state,
            cycle,
            department_name=names.get(row.department, row.department),
            released_at=released.get(cycle.fiscal_year),
        )
        items.extend(d for d in found if kind is None or d.kind is kind)
    start = (page - 1) * page_size
    return DisclosurePage(
        items=items[start : start + page_size], total=len(items), page=page, page_size=page_size
    )
